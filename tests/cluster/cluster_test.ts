/**
 * End-to-end: real node processes on loopback, started with the CLI, spoken to with Connect
 * JSON (as curl does) and with the client, and killed, paused and restarted.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { PrkDbClient, PrkDbError } from "../../client/mod.ts";
import { partitionForKey } from "../../partition/hash.ts";
import { waitFor } from "../support/wait.ts";
import { b64, callJson, ProcessCluster } from "./processes.ts";

const te = new TextEncoder();

Deno.test("e2e: writes and reads in all three modes, through Connect JSON and the client", async () => {
  const c = await ProcessCluster.start(3);
  try {
    const [u1, u2, u3] = [...c.urls.values()];
    const put = await callJson(u1, "Put", { key: b64("curl-key"), value: b64("curl-value") });
    assertEquals(put.status, 200);
    assert(Number(put.json.index) > 0);
    assertEquals(put.json.ok, true);
    assert(/^[0-9a-f]{20}$/.test(String(put.json.version)), `version ${put.json.version}`);
    for (
      const [url, readMode] of [[u2, undefined], [u3, "READ_MODE_FOLLOWER"], [
        u2,
        "READ_MODE_LINEARIZABLE",
      ]]
    ) {
      const got = await callJson(url!, "Get", {
        key: b64("curl-key"),
        ...(readMode ? { readMode } : {}),
      });
      assertEquals(got.json, { found: true, value: b64("curl-value"), version: put.json.version });
    }
    await waitFor(
      "the stale read to see the write",
      async () =>
        (await callJson(u3, "Get", { key: b64("curl-key"), readMode: "READ_MODE_STALE" })).json
          .found === true,
    );

    const db = await PrkDbClient.connect([u3]);
    assertEquals(db.cluster.nodes.size, 3);
    for (let i = 0; i < 30; i++) await db.put(`user:${i}`, `name-${i}`);
    assertEquals(await db.getText("user:7"), "name-7");
    assertEquals(await db.getText("user:7", { readMode: "follower" }), "name-7");
    assertEquals(
      (await db.get(te.encode("user:29"), { readMode: "linearizable" })).value,
      te.encode("name-29"),
    );
    assertEquals(await db.delete("user:7"), { ok: true, found: true });
    assertEquals(await db.getText("user:7"), undefined);
    assertEquals(await db.delete("user:7"), { ok: true, found: false });
    db.close();

    // Every call above, and every stream and ping between the nodes, was served on the lean lane:
    // none of them moved a connection to node:http.
    for (const url of [u1, u2, u3]) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const served = (lane: string) =>
        Number(
          new RegExp(`^prkdb_http_requests_total\\{[^}]*lane="${lane}"\\} (\\d+)`, "m")
            .exec(metrics)?.[1],
        );
      assert(served("lean") > 0, `${url} served calls on the lean lane`);
      assertEquals(served("general"), 0, `${url} served nothing on node:http`);
    }
  } finally {
    await c.stop();
  }
});

Deno.test("e2e: SIGKILL of a partition leader: a new leader within two election timeouts, no acknowledged write lost", async () => {
  const c = await ProcessCluster.start(3, { partitions: 2 });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()]);
    const acked: string[] = [];
    for (let i = 0; i < 40; i++) {
      await db.put(`k${i}`, `v${i}`);
      acked.push(`k${i}`);
    }
    const info = await db.refresh();
    const p = partitionForKey(te.encode("k0"), 2);
    const victim = info.partitions[p].leader;
    const survivor = [...c.urls.keys()].find((id) => id !== victim)!;
    const killedAt = Date.now();
    await c.kill(victim);
    await waitFor(
      `a new leader for partition ${p}`,
      async () => {
        const h = await c.health(survivor);
        const leader = h?.partitions.find((x) => x.partition === p)?.leader;
        return leader && leader !== victim;
      },
      2 * c.electionTimeoutMs + 500,
      20,
    );
    const elapsed = Date.now() - killedAt;
    const remaining = [...c.urls].filter(([id]) => id !== victim).map(([, url]) => url);
    const after = await PrkDbClient.connect(remaining, { timeoutMs: 8000 });
    for (const key of acked) {
      assertEquals(await after.getText(key), `v${key.slice(1)}`, `${key} was acknowledged`);
    }
    await after.put("after-failover", "yes");
    assertEquals(await after.getText("after-failover"), "yes");
    assert(elapsed < 2 * c.electionTimeoutMs + 500, `failover took ${elapsed} ms`);
  } finally {
    await c.stop();
  }
});

Deno.test("e2e: SIGSTOP of a leader: the others carry on; after SIGCONT it rejoins", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1 });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()], { timeoutMs: 8000 });
    await db.put("before", "1");
    const paused = (await db.refresh()).partitions[0].leader;
    c.signal(paused, "SIGSTOP");
    const others = [...c.urls].filter(([id]) => id !== paused);
    const live = await PrkDbClient.connect(others.map(([, u]) => u), { timeoutMs: 8000 });
    await live.put("during", "2");
    assertEquals(await live.getText("before"), "1");
    c.signal(paused, "SIGCONT");
    await waitFor("the paused node to rejoin as a follower and catch up", async () => {
      const h = await c.health(paused);
      if (h?.partitions[0].role !== "Follower") return false;
      const got = await callJson(c.urls.get(paused)!, "Get", {
        key: b64("during"),
        readMode: "READ_MODE_STALE",
      });
      return got.json.found === true;
    }, 10_000);
    await live.put("after", "3");
    assertEquals(await live.getText("after", { readMode: "follower" }), "3");
  } finally {
    await c.stop();
  }
});

Deno.test("e2e: a node restarted after missing many writes catches up through a snapshot", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1, compactEntries: 20 });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()], { timeoutMs: 8000 });
    const leader = (await db.refresh()).partitions[0].leader;
    const lagging = [...c.urls.keys()].find((id) => id !== leader)!;
    // A health check may time out on a busy machine: asked again until it answers.
    const before = (await waitFor("the lagging node's health", () => c.health(lagging)))
      .partitions[0].lastApplied;
    await c.kill(lagging);
    const live = await PrkDbClient.connect(
      [...c.urls].filter(([id]) => id !== lagging).map(([, u]) => u),
      { timeoutMs: 8000 },
    );
    for (let i = 0; i < 120; i++) await live.put(`missed-${i}`, `${i}`);
    // The leader compacted past everything the lagging node has: only a snapshot can help it.
    const status = await fetch(`${c.urls.get(leader)}/health`).then((r) => r.json());
    assert(status.partitions[0].commitIndex > before + 100);
    c.spawn(lagging);
    await waitFor("the restarted node to catch up", async () => {
      const got = await callJson(c.urls.get(lagging)!, "Get", {
        key: b64("missed-119"),
        readMode: "READ_MODE_STALE",
      });
      return got.json.value === b64("119");
    }, 15_000);
    const early = await callJson(c.urls.get(lagging)!, "Get", {
      key: b64("missed-0"),
      readMode: "READ_MODE_STALE",
    });
    assertEquals(early.json.value, b64("0"));
  } finally {
    await c.stop();
  }
});

Deno.test("e2e: malformed and oversized requests get clear errors, and the node keeps serving", async () => {
  const c = await ProcessCluster.start(3, { partitions: 2 });
  try {
    const url = c.urls.get(1)!;
    const cases: [string, unknown, string][] = [
      ["Put", "{not json", "invalid_argument"],
      ["Put", { key: "", value: b64("v") }, "key is empty"],
      ["Put", { key: b64("x".repeat(2000)), value: b64("v") }, "the limit is 1024"],
      ["Put", { key: b64("k"), value: btoa("v".repeat(300 * 1024)) }, "the limit is 262144"],
      ["Get", { key: b64("k"), readMode: 7 }, "invalid_argument"],
    ];
    for (const [method, body, expected] of cases) {
      const r = await callJson(url, method, body);
      assertEquals(r.json.code, "invalid_argument", JSON.stringify(r.json));
      assert(
        JSON.stringify(r.json).includes(expected),
        `${JSON.stringify(r.json)} should mention ${expected}`,
      );
    }
    // Raft traffic from a stranger or garbage is refused too.
    const garbage = await fetch(`${url}/prkdb.v1.RaftService/AppendEntries`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from: 9, cluster: "prkdb", messages: [] }),
    });
    assertEquals((await garbage.json()).code, "permission_denied");
    const db = await PrkDbClient.connect([url]);
    await assertRejects(() => db.put("", "v"), PrkDbError, "key is empty");
    await db.put("still", "serving");
    assertEquals(await db.getText("still"), "serving");
  } finally {
    await c.stop();
  }
});
