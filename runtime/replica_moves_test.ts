/**
 * Moving a partition's replica to a node outside its placement with single-server membership
 * changes, on the real runtime over manual clocks: the new node starts its replica when the
 * leader's traffic reaches it, catches up as a learner, is promoted, the old replica is removed,
 * and every acknowledged write stays readable, also after the new node restarts.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { ManualCluster } from "../tests/support/manual_cluster.ts";
import { MembershipChangeError } from "../raft/errors.ts";
import type { MembershipChange } from "../raft/membership.ts";
import type { MultiRaftHost } from "./multi_raft_host.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A key that falls into `partition`. */
function keyIn(host: MultiRaftHost, partition: number, i: number): Uint8Array {
  for (let n = 0;; n++) {
    const key = te.encode(`k${i}-${n}`);
    if (host.map.partitionOf(key) === partition) return key;
  }
}

Deno.test("a replica moves from node 2 to node 4 while writes go on, and survives a restart", async () => {
  const c = await ManualCluster.start(4, 4, { compaction: { entries: 8 } });
  try {
    const p = 0;
    const one = c.hosts.get(1)!;
    assertEquals(one.replicasOf(p), [1, 2, 3], "placement: node 4 is not a replica of partition 0");
    assert(!c.hosts.get(4)!.isReplica(p));
    let written = 0;
    const write = async () => {
      const key = keyIn(one, p, written);
      await c.run(c.leaderOf(p).put(key, te.encode(`v${written}`)));
      written++;
    };
    /** Proposes at the current leader, retrying while it refuses for now (not caught up yet). */
    const change = async (ch: MembershipChange) => {
      for (let attempt = 0;; attempt++) {
        try {
          await c.run(c.leaderOf(p).changeMembership(p, ch));
          return;
        } catch (error) {
          if (attempt >= 50) throw error;
          await c.step();
        }
      }
    };
    for (let i = 0; i < 20; i++) await write(); // past a compaction: node 4 needs a snapshot

    await change({ type: "addLearner", node: 4 });
    const four = c.hosts.get(4)!;
    await c.until("node 4 to host the partition and catch up", () =>
      four.isReplica(p) &&
      four.status().find((s) => s.partition === p)!.applied >=
        c.leaderOf(p).status().find((s) => s.partition === p)!.raft.commitIndex);
    await write();
    await change({ type: "promote", node: 4 });
    assertEquals(c.leaderOf(p).replicasOf(p), [1, 2, 3, 4]);
    await write();
    await change({ type: "remove", node: 2 });
    await c.until(
      "every replica to see voters 1, 3, 4",
      () =>
        [1, 3, 4].every((id) =>
          c.hosts.get(id)!.status().find((s) => s.partition === p)?.raft.membership.voters
            .join() ===
            "1,3,4"
        ),
    );
    await c.hosts.get(2)!.stop();
    for (let i = 0; i < 5; i++) await write();

    const restarted = await c.restart(4);
    assert(restarted.isReplica(p), "node 4 hosts the partition from its stored state");
    assertEquals(restarted.replicasOf(p), [1, 3, 4]);
    await c.until(
      "node 4 to hear from the leader and apply everything",
      () =>
        restarted.leaderOf(p) !== 0 &&
        restarted.status().find((s) => s.partition === p)!.applied >=
          c.leaderOf(p).status().find((s) => s.partition === p)!.raft.commitIndex,
    );
    for (let i = 0; i < written; i++) {
      const got = await c.run(restarted.get(keyIn(one, p, i), "follower"));
      assertEquals(got && td.decode(got.value), `v${i}`, `write ${i} is readable at node 4`);
    }
  } finally {
    await c.stop();
  }
});

Deno.test("membership changes that make no sense are refused with a typed error", async () => {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    await assertRejects(
      () => leader.changeMembership(0, { type: "addLearner", node: 2 }),
      MembershipChangeError,
      "already a member",
    );
    await assertRejects(
      () => leader.changeMembership(0, { type: "promote", node: 7 }),
      MembershipChangeError,
      "not a learner",
    );
  } finally {
    await c.stop();
  }
});
