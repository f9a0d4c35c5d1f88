/**
 * The versioned KV API over the wire, as curl speaks it (Connect JSON) and through the client:
 * versions, conditional writes, atomic batches, sessions, and clear errors for bad batches.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { PrkDbClient, PrkDbError } from "../../client/mod.ts";
import { MAX_BATCH_OPERATIONS } from "../../partition/command.ts";
import { partitionForKey } from "../../partition/hash.ts";
import { b64, callJson, ProcessCluster } from "./processes.ts";

const te = new TextEncoder();

Deno.test("e2e KV API: versions, conditions, atomic batches and sessions with curl and the client", async () => {
  const c = await ProcessCluster.start(3, { partitions: 4 });
  try {
    const url = c.urls.get(2)!;
    // Conditional put with curl: "" means the key must be absent.
    const created = await callJson(url, "Put", {
      key: b64("{cart:7}:items"),
      value: b64("[]"),
      ifVersion: "",
    });
    assertEquals(created.json.ok, true);
    const again = await callJson(url, "Put", {
      key: b64("{cart:7}:items"),
      value: b64("[1]"),
      ifVersion: "",
    });
    assertEquals(again.json.ok, undefined, "a failed condition is ok: false (omitted in JSON)");
    // Atomic with a check on the version just written, on two keys sharing a hash tag.
    const atomic = await callJson(url, "Atomic", {
      checks: [{ key: b64("{cart:7}:items"), version: created.json.version }],
      mutations: [
        { key: b64("{cart:7}:items"), value: b64("[1]") },
        { key: b64("{cart:7}:total"), value: b64("10") },
      ],
    });
    assertEquals(atomic.json.ok, true, JSON.stringify(atomic.json));
    const stale = await callJson(url, "Atomic", {
      checks: [
        { key: b64("{cart:7}:total"), version: atomic.json.version },
        { key: b64("{cart:7}:items"), version: created.json.version },
      ],
      mutations: [{ key: b64("{cart:7}:items"), type: "TYPE_DELETE" }],
    });
    assertEquals([stale.json.ok, stale.json.failedCheck], [undefined, 1]);

    // The client sees the same versions.
    const db = await PrkDbClient.connect([url]);
    const items = await db.get("{cart:7}:items", { readMode: "follower" });
    assertEquals([new TextDecoder().decode(items.value!), items.version], [
      "[1]",
      atomic.json.version,
    ]);
    const r = await db.atomic().check(items).delete("{cart:7}:items").set("{cart:7}:total", "0")
      .commit();
    assert(r.ok);
    assertEquals((await db.get("{cart:7}:items")).value, null);
    const lost = await db.put("{cart:7}:total", "99", { ifVersion: atomic.json.version as string });
    assertEquals(lost.ok, false, "a put against an old version is refused");

    // Sessions from curl: a retried delete answers with its first result.
    const p = partitionForKey(te.encode("counter"), 4);
    const session = await callJson(url, "OpenSession", { partition: p });
    assert(Number(session.json.id) > 0, JSON.stringify(session.json));
    await callJson(url, "Put", { key: b64("counter"), value: b64("1") });
    const del = {
      key: b64("counter"),
      session: { id: session.json.id, seq: "1", firstIncomplete: "1" },
    };
    const first = await callJson(url, "Delete", del);
    const retry = await callJson(url, "Delete", del);
    assertEquals([first.json.found, retry.json.found], [true, true]);
    assertEquals(retry.json.index, first.json.index);
  } finally {
    await c.stop();
  }
});

Deno.test("e2e KV API: bad batches get clear errors, nothing is half-applied, and the node keeps serving", async () => {
  const c = await ProcessCluster.start(3, { partitions: 4 });
  try {
    const url = c.urls.get(1)!;
    let other = 0;
    while (partitionForKey(te.encode(`k${other}`), 4) === partitionForKey(te.encode("a"), 4)) {
      other++;
    }
    const cross = await callJson(url, "Atomic", {
      mutations: [{ key: b64("a"), value: b64("1") }, { key: b64(`k${other}`), value: b64("2") }],
    });
    assertEquals(cross.json.code, "failed_precondition");
    assert(String(cross.json.message).includes("hash tag"), String(cross.json.message));
    const pa = partitionForKey(te.encode("a"), 4);
    const pb = partitionForKey(te.encode(`k${other}`), 4);
    assert(String(cross.json.message).includes(`${Math.min(pa, pb)}, ${Math.max(pa, pb)}`));
    const cases: [unknown, string][] = [
      [{}, "a check or a mutation"],
      [{ checks: [{ key: b64("a") }] }, "has no version"],
      [{ checks: [{ key: b64("a"), version: "v1" }] }, "is not a version"],
      [{ mutations: [{ key: b64("a"), type: 9 }] }, "invalid_argument"],
      [{
        mutations: Array.from(
          { length: MAX_BATCH_OPERATIONS + 1 },
          (_, i) => ({ key: b64(`{t}:${i}`), value: b64("v") }),
        ),
      }, `the limit is ${MAX_BATCH_OPERATIONS}`],
      [{
        mutations: Array.from(
          { length: 3 },
          (_, i) => ({ key: b64(`{t}:${i}`), value: btoa("v".repeat(200 * 1024)) }),
        ),
      }, "bytes of keys and values"],
    ];
    for (const [body, expected] of cases) {
      const r = await callJson(url, "Atomic", body);
      assertEquals(r.json.code, "invalid_argument", JSON.stringify(r.json).slice(0, 300));
      assert(
        JSON.stringify(r.json).includes(expected),
        `${JSON.stringify(r.json)} should say ${expected}`,
      );
    }
    const db = await PrkDbClient.connect([url]);
    assertEquals(await db.getText("a"), undefined, "the cross-partition batch applied nothing");
    assertEquals(await db.getText("{t}:0"), undefined, "the oversized batch applied nothing");
    await assertRejects(
      () => db.atomic().set("a", "1").set(`k${other}`, "2").commit(),
      PrkDbError,
      "hash tag",
    );
    await assertRejects(
      () => db.get("a", { readMode: "fast" as "stale" }),
      PrkDbError,
      "Unknown read mode",
    );
    await db.put("still", "serving");
    assertEquals(await db.getText("still"), "serving");
  } finally {
    await c.stop();
  }
});
