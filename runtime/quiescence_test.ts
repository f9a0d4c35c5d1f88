/**
 * Quiet partitions on the real runtime over manual clocks: an idle group goes quiet and stays
 * quiet (no elections, no term changes); when its leader's node dies for good, the followers
 * notice the silence, wake, and elect a new leader that takes writes.
 */
import { assert, assertEquals } from "@std/assert";
import { ManualCluster } from "../tests/support/manual_cluster.ts";

const te = new TextEncoder();

Deno.test("an idle group goes quiet; a dead quiet leader's followers wake and elect another", async () => {
  const c = await ManualCluster.start(3, 1, { balanceLeaders: false });
  try {
    const raft = (id: number) => c.hosts.get(id)!.status()[0].raft;
    await c.run(c.leaderOf(0).put(te.encode("k"), te.encode("v1")));
    await c.until("every replica to be quiet", () => [1, 2, 3].every((id) => raft(id).quiescent));
    const leader = c.leaderOf(0).nodeId;
    const term = raft(leader).term;
    for (let i = 0; i < 100; i++) await c.step(); // ten election timeouts
    assert([1, 2, 3].every((id) => raft(id).quiescent && raft(id).term === term), "still quiet");

    await c.hosts.get(leader)!.stop();
    const others = [1, 2, 3].filter((id) => id !== leader);
    await c.until(
      "another node to lead",
      () => others.some((id) => raft(id).role === "Leader"),
      200,
    );
    const next = c.hosts.get(others.find((id) => raft(id).role === "Leader")!)!;
    assert(raft(next.nodeId).term > term);
    await c.run(next.put(te.encode("k"), te.encode("v2")));
    const got = await c.run(next.get(te.encode("k")));
    assertEquals(got && new TextDecoder().decode(got.value), "v2");
  } finally {
    await c.stop();
  }
});

Deno.test("a quiet follower wakes at once when its leader's ping says it no longer leads", async () => {
  const c = await ManualCluster.start(3, 1, { balanceLeaders: false });
  try {
    const raft = (id: number) => c.hosts.get(id)!.status()[0].raft;
    await c.until("every replica to be quiet", () => [1, 2, 3].every((id) => raft(id).quiescent));
    const leader = c.leaderOf(0).nodeId;
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    // The leader's node still answers, but (say its replica stopped) it leads nothing now.
    c.hosts.get(follower)!.receive(leader, [], new Uint8Array([0b1]));
    assert(raft(follower).quiescent, "a ping that lists partition 0 changes nothing");
    c.hosts.get(follower)!.receive(leader, [], new Uint8Array([0]));
    assertEquals(raft(follower).quiescent, false);
  } finally {
    await c.stop();
  }
});

Deno.test("a quiet leader cut off from its voters wakes and steps down (CheckQuorum)", async () => {
  const c = await ManualCluster.start(3, 1, { balanceLeaders: false });
  try {
    const raft = (id: number) => c.hosts.get(id)!.status()[0].raft;
    await c.until("every replica to be quiet", () => [1, 2, 3].every((id) => raft(id).quiescent));
    const leader = c.leaderOf(0).nodeId;
    c.net.isolate(leader, true);
    await c.until(
      `quiet leader ${leader}, cut off, to step down`,
      () => raft(leader).role !== "Leader",
      200,
    );
    assert(!raft(leader).quiescent);
  } finally {
    await c.stop();
  }
});
