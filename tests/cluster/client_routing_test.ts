/**
 * End-to-end: `PrkDbClient` sends each partition's writes to its leader, and follows the
 * leader when it moves. A node that passes a call on names the leader in its answer
 * (`prkdb-leader`), and the client's next call for that partition goes straight there, instead of
 * paying for the extra hop for as long as the client lives.
 */
import { assertEquals } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { waitFor } from "../support/wait.ts";
import { ProcessCluster } from "./processes.ts";

/** The partition's leader as node `id` sees it (0 when unknown or unreachable). */
async function leaderAt(c: ProcessCluster, id: number): Promise<number> {
  return (await c.health(id))?.partitions.find((p) => p.partition === 0)?.leader ?? 0;
}

Deno.test("client routing: after the leader moves, one call goes through the old leader and the next straight to the new one", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1 });
  // Which node each of the client's calls went to, in order.
  const sentTo: string[] = [];
  const nodeOf = new Map([...c.urls].map(([id, url]) => [new URL(url).host, id]));
  const recording: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    sentTo.push(`${url.pathname.split("/").pop()}@${nodeOf.get(url.host)}`);
    return fetch(input, init);
  };
  const db = await PrkDbClient.connect([...c.urls.values()], { fetch: recording });
  try {
    const leader = await waitFor("a leader all agree on", async () => {
      const seen = await Promise.all([1, 2, 3].map((id) => leaderAt(c, id)));
      return seen.every((l) => l !== 0 && l === seen[0]) ? seen[0] : 0;
    });
    await db.refresh();
    assertEquals(db.cluster.partitions[0].leader, leader);
    await db.put("warm", "1");
    const target = [1, 2, 3].find((id) => id !== leader)!;
    const moved = await fetch(`${c.urls.get(leader)}/admin/move-leader`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ partition: 0, to: target }),
    });
    assertEquals(moved.status, 200, await moved.text());
    await waitFor(
      "the old leader to follow the new one",
      async () => (await leaderAt(c, leader)) === target,
    );

    sentTo.length = 0;
    assertEquals((await db.put("a", "1")).ok, true);
    assertEquals((await db.put("b", "2")).ok, true);
    assertEquals((await db.get("a")).value, new TextEncoder().encode("1"));
    // The first write still went to the old leader, which passed it on and named the new one.
    assertEquals(sentTo, [`Put@${leader}`, `Put@${target}`, `Get@${target}`]);
    assertEquals(db.cluster.partitions[0].leader, target);
  } finally {
    db.close();
    await c.stop();
  }
});
