/**
 * Reading and following many keys with real node processes: getMany, paged lists under
 * concurrent writes, watches that survive a SIGKILLed node, and TTL, through the client and
 * through Connect JSON as curl sends it.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient, type WatchChange } from "../../client/mod.ts";
import { b64, callJson, ProcessCluster } from "./processes.ts";
import { waitFor } from "../support/wait.ts";

const td = new TextDecoder();
const text = (b: Uint8Array | null) => b === null ? null : td.decode(b);

Deno.test("e2e list: getMany in order; pages never skip or repeat a key under concurrent writes", async () => {
  const c = await ProcessCluster.start(3, { partitions: 4 });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()]);
    const stable = Array.from({ length: 60 }, (_, i) => `item/${String(i).padStart(3, "0")}`);
    await Promise.all(stable.map((k) => db.put(k, k.toUpperCase())));
    const many = await db.getMany(["item/007", "missing", "item/042"], { readMode: "follower" });
    assertEquals(many.map((e) => text(e.value)), ["ITEM/007", null, "ITEM/042"]);
    // Page through while other keys come and go in the same range.
    const seen: string[] = [];
    let churn = 0;
    const it = db.list({ prefix: "item/" }, { batchSize: 7 });
    for await (const e of it) {
      seen.push(td.decode(e.key));
      await db.put(`item/${String(churn % 60).padStart(3, "0")}x`, "churn");
      if (churn % 3 === 0) await db.delete(`item/${String((churn + 30) % 60).padStart(3, "0")}x`);
      churn++;
    }
    const stableSeen = seen.filter((k) => stable.includes(k));
    assertEquals(stableSeen, stable, "every key present throughout, once, in order");
    assertEquals(new Set(seen).size, seen.length, "no key repeated");
    assertEquals([...seen].sort(), seen, "in byte order");
    // Reverse, limited, and resumed from a cursor.
    const last3 = [];
    for await (const e of db.list({ prefix: "item/0" }, { reverse: true, limit: 3 })) {
      last3.push(td.decode(e.key));
    }
    assertEquals(last3.length, 3);
    assert(last3[0] > last3[1] && last3[1] > last3[2]);
    const first = db.list({ start: "item/000", end: "item/010" }, { limit: 4 });
    const head: string[] = [];
    for await (const e of first) head.push(td.decode(e.key));
    const rest: string[] = [];
    for await (
      const e of db.list({ start: "item/000", end: "item/010" }, { cursor: first.cursor })
    ) {
      rest.push(td.decode(e.key));
    }
    assertEquals(head.length, 4);
    assertEquals([...head, ...rest].filter((k) => stable.includes(k)), stable.slice(0, 10));
    assertEquals(new Set([...head, ...rest]).size, head.length + rest.length, "no overlap");
    // The same with curl.
    // A leader may be moving (the cluster balances its leaders): "unavailable, retry shortly"
    // is an answer a curl user retries, as here.
    const r = await waitFor("a List answer", async () => {
      const r = await callJson(c.urls.get(2)!, "List", { prefix: b64("item/01"), limit: 3 });
      return r.status === 503 && r.json.code === "unavailable" ? undefined : r;
    });
    assert(Array.isArray(r.json.entries), `List answered ${r.status} ${JSON.stringify(r.json)}`);
    const listed = (r.json.entries as { key: string }[]).map((e) => atob(e.key));
    assertEquals(listed.length, 3);
    assertEquals(listed[0], "item/010");
    assertEquals([...listed].sort(), listed);
    assert(r.json.cursor, "a full page says where to continue");
  } finally {
    await c.stop();
  }
});

Deno.test("e2e watch: every acknowledged change once and in order per partition, across a SIGKILLed node", async () => {
  const c = await ProcessCluster.start(3, { partitions: 2 });
  try {
    const urls = [...c.urls.values()];
    const db = await PrkDbClient.connect(urls, { timeoutMs: 15_000 });
    const ac = new AbortController();
    const watch = db.watch({ prefix: "w/" }, { signal: ac.signal });
    const got: WatchChange[] = [];
    const following = (async () => {
      for await (const change of watch) got.push(change);
    })();
    await waitFor("the watch to start", () => watch.positions.length === 2);
    const acked: { key: string; version: string; type: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await db.put(`w/${i % 7}`, `v${i}`);
      acked.push({ key: `w/${i % 7}`, version: r.version!, type: "put" });
      await db.put(`other/${i}`, "not watched");
      if (i === 12) {
        // Kill whichever node leads partition 0; the watch moves on from its last position.
        // Under load a transfer (leader balancing) can leave no leader known for a moment.
        const leader = await waitFor(
          "a known leader of partition 0",
          async () => (await db.refresh()).partitions[0].leader,
          15_000,
        );
        await c.kill(leader);
      }
    }
    const d = await db.delete("w/3");
    assert(d.ok);
    await waitFor("every change to arrive", () => got.length >= acked.length + 1, 20_000);
    const byVersion = (a: { version: string }, b: { version: string }) =>
      a.version < b.version ? -1 : 1;
    const puts = got.filter((g) => g.type === "put").map((g) => ({
      key: td.decode(g.key),
      version: g.version,
      type: g.type,
    }));
    assertEquals(puts.sort(byVersion), [...acked].sort(byVersion), "no gap, no duplicate");
    for (const p of [0, 1]) {
      const versions = got.filter((g) => g.version.startsWith(`000${p}`)).map((g) => g.version);
      assertEquals(versions, [...versions].sort(), `partition ${p} in version order`);
    }
    assertEquals(got.at(-1)?.type, "delete");
    ac.abort();
    await following;
  } finally {
    await c.stop();
  }
});

Deno.test("e2e TTL: an expiring key disappears on every replica, and its watch reports a delete", async () => {
  const c = await ProcessCluster.start(3, { partitions: 2 });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()]);
    const ac = new AbortController();
    const watch = db.watch({ key: "otp" }, { signal: ac.signal });
    const events: string[] = [];
    const following = (async () => {
      for await (const change of watch) events.push(change.type);
    })();
    await waitFor("the watch to start", () => watch.positions.length === 1);
    await db.put("otp", "123456", { expireIn: 300 });
    assertEquals(await db.getText("otp"), "123456");
    await waitFor("the key to expire", async () => (await db.getText("otp")) === undefined, 10_000);
    await waitFor(
      "the expiry to be removed through the log and watched",
      () => events.includes("delete"),
      10_000,
    );
    for (const url of c.urls.values()) {
      const r = await callJson(url, "Get", { key: b64("otp"), readMode: "READ_MODE_STALE" });
      assertEquals(r.json.found, undefined, `${url} still has the key`);
    }
    assertEquals(events, ["put", "delete"]);
    // With curl: expireInMs is a JSON string, as every 64-bit number.
    const put = await callJson(c.urls.get(1)!, "Put", {
      key: b64("tmp"),
      value: b64("x"),
      expireInMs: "60000",
    });
    assertEquals(put.json.ok, true);
    ac.abort();
    await following;
  } finally {
    await c.stop();
  }
});
