/**
 * End-to-end: an application that sends all its writes to one node that does not lead their
 * partition. The leader sees them all passed on by that node and hands its leadership over, so
 * the writes stop paying the hop to the leader and back; every acknowledged write is still there,
 * and the metrics say why leadership moved.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { settledLeader } from "./settled_leader.ts";
import { b64, callJson, ProcessCluster } from "./processes.ts";

/** The partition's leader as node `id` sees it (0 when unknown or unreachable). */
async function leaderAt(c: ProcessCluster, id: number): Promise<number> {
  return (await c.health(id))?.partitions.find((p) => p.partition === 0)?.leader ?? 0;
}

Deno.test("leadership follows the node a partition's writes come through; no acknowledged write is lost", async () => {
  // Fast ticks: leader balancing looks every 30 ticks.
  const c = await ProcessCluster.start(3, { partitions: 1, tickMs: 20 });
  try {
    // Balancing first hands the partition to its preferred replica: start from there.
    const db = await PrkDbClient.connect([...c.urls.values()]);
    const first = await settledLeader(db).finally(() => db.close());
    const writer = [1, 2, 3].find((id) => id !== first)!;
    const url = c.urls.get(writer)!;
    const acknowledged: number[] = [];
    // Bounded: at most 4,000 writes or 30 seconds, whichever comes first.
    const until = Date.now() + 30_000;
    let leader = first;
    for (let i = 0; i < 4000 && Date.now() < until; i++) {
      const put = await callJson(url, "Put", { key: b64(`w-${i}`), value: b64(String(i)) });
      // A write caught by the handover may be refused as retryable; it was not acknowledged.
      if (put.status === 200 && put.json.ok === true) acknowledged.push(i);
      if (i % 25 === 0 && (leader = await leaderAt(c, writer)) === writer) break;
    }
    assertEquals(leader, writer, "the writer's node leads");
    assert(acknowledged.length >= 32, `${acknowledged.length} writes acknowledged`);

    // Counted where it happened (the first leader may have handed the partition to its
    // preferred replica before the writes came).
    let transfers = 0;
    for (const u of c.urls.values()) {
      const line = (await (await fetch(`${u}/metrics`)).text()).split("\n").find((l) =>
        l.startsWith("prkdb_raft_leadership_transfers_total{") && l.includes('reason="writes"')
      );
      transfers += Number(line?.split(" ").at(-1) ?? 0);
    }
    assert(transfers >= 1, "no leadership transfer counted for writes");

    // Every acknowledged write reads back, linearizably, through the new leader.
    for (const i of [acknowledged[0], ...acknowledged.slice(-20)]) {
      const got = await callJson(url, "Get", { key: b64(`w-${i}`) });
      assertEquals(got.json.value, b64(String(i)), `w-${i}`);
    }
  } finally {
    await c.stop();
  }
});
