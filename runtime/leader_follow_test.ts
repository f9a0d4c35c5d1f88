/**
 * Leadership follows a partition's writers: on the real runtime over manual clocks, a partition
 * whose writes nearly all come through one follower moves there, stays while they keep coming,
 * and goes back to its preferred replica once they stop. Spread writes move nothing.
 */
import { assert, assertEquals } from "@std/assert";
import { ManualCluster } from "../tests/support/manual_cluster.ts";
import { FOLLOW_MIN_WRITES, FOLLOW_SHARE, FOLLOW_TENURE_PASSES } from "./leader_balance.ts";
import { WriteOrigins } from "./write_origins.ts";
import type { MultiRaftHost } from "./multi_raft_host.ts";
import type { HandOffReason } from "./leader_balance.ts";

/** Ticks between two leader balancing passes at the default election timeout (10 ticks). */
const PASS_TICKS = 30;

/** A 3-node cluster with one partition, led by its preferred replica, and what it handed off. */
async function cluster(options: { followWrites?: boolean } = {}) {
  const handOffs: { from: number; to: number; reason: HandOffReason }[] = [];
  const c = await ManualCluster.start(3, 1, {
    ...options,
    observer: {
      handedOff: (_p, to, reason) => handOffs.push({ from: leader(), to, reason }),
    },
  });
  const leader = () => c.leaderOf(0).nodeId;
  const preferred = c.hosts.get(1)!.replicasOf(0)[0];
  await c.until("the preferred replica to lead", () => leader() === preferred, 2000);
  const others = [1, 2, 3].filter((id) => id !== preferred);
  handOffs.length = 0; // the start's own: elections put leaders anywhere
  return { c, leader, preferred, others, handOffs };
}

/**
 * Writes as the server counts them, for `ticks` ticks, or until `done` holds: per tick, the
 * clients of each `through` node send one write, which that node counts, and the leader counts
 * it by the node it came through.
 */
async function write(
  c: ManualCluster,
  through: number[],
  ticks: number,
  done: () => boolean = () => false,
): Promise<void> {
  for (let t = 0; t < ticks && !done(); t++) {
    const leader = c.leaderOf(0);
    for (const id of through) {
      const host: MultiRaftHost = c.hosts.get(id)!;
      host.noteWrite(0);
      if (id !== leader.nodeId) leader.noteWrite(0, id);
    }
    await c.step();
  }
}

Deno.test("WriteOrigins: a node dominates with enough writes and a large enough share; the tally decays", () => {
  const o = new WriteOrigins(1);
  for (let i = 0; i < FOLLOW_MIN_WRITES - 1; i++) o.record(0, 2);
  assertEquals(o.dominant(0, FOLLOW_MIN_WRITES, FOLLOW_SHARE), undefined, "too few");
  o.record(0, 2);
  assertEquals(o.dominant(0, FOLLOW_MIN_WRITES, FOLLOW_SHARE)?.node, 2);
  for (let i = 0; i < 4; i++) o.record(0); // 4 of 36 sent here: node 2 has 89%
  assertEquals(o.dominant(0, FOLLOW_MIN_WRITES, FOLLOW_SHARE), undefined, "no share of 90%");
  assertEquals(o.dominant(0, FOLLOW_MIN_WRITES, 0.8)?.node, 2);
  assertEquals(o.dominant(1, 0, 0), undefined, "a partition without writes");
  o.decay(); // 16 and 2
  assertEquals(o.dominant(0, 16, 0.8)?.share, 16 / 18);
  for (let i = 0; i < 4; i++) o.decay(); // 1 and gone
  assertEquals(o.dominant(0, 0, 0), { node: 2, share: 1 });
  o.decay();
  assertEquals(o.dominant(0, 0, 0), undefined, "forgotten");
});

Deno.test("leadership moves to the node a partition's writes come through, stays, and goes back once they stop", async () => {
  const { c, leader, preferred, others, handOffs } = await cluster();
  try {
    const writer = others[0];
    await write(c, [writer], 10 * PASS_TICKS, () => leader() === writer);
    assertEquals(leader(), writer, "the writer's node leads");
    assertEquals(handOffs, [{ from: preferred, to: writer, reason: "writes" }]);

    // Its writes now arrive at their leader: it keeps the partition, pass after pass.
    await write(c, [writer], 4 * PASS_TICKS);
    assertEquals(leader(), writer);

    // Quiet: the tally decays below the threshold and balancing hands it back.
    await c.until(
      "the preferred replica to lead again",
      () => leader() === preferred,
      20 * PASS_TICKS,
    );
    assertEquals(handOffs.at(-1), { from: writer, to: preferred, reason: "preferred" });
    // It did not wait for the first pass: the writes had to fade first.
    assert(handOffs.length === 2);
  } finally {
    await c.stop();
  }
});

Deno.test("writes spread over the nodes, or a share below 90%, leave leadership where it is", async () => {
  const { c, leader, preferred, others, handOffs } = await cluster();
  try {
    await write(c, [1, 2, 3], 4 * PASS_TICKS);
    assertEquals(leader(), preferred);
    // One follower sends eight writes in nine, the leader's own clients the ninth: 89%, for
    // long enough that the spread writes before have faded from the tally.
    for (let t = 0; t < 10 * PASS_TICKS; t++) {
      await write(c, t % 9 === 0 ? [preferred] : [others[0]], 1);
    }
    assertEquals(leader(), preferred);
    assertEquals(handOffs, []);
  } finally {
    await c.stop();
  }
});

Deno.test("followWrites: false keeps leadership with the preferred replica whatever the writes", async () => {
  const { c, leader, preferred, others, handOffs } = await cluster({ followWrites: false });
  try {
    await write(c, [others[0]], 4 * PASS_TICKS);
    assertEquals(leader(), preferred);
    assertEquals(handOffs, []);
  } finally {
    await c.stop();
  }
});

Deno.test("a share that swings around the line moves leadership once, not back and forth", async () => {
  const { c, leader, preferred, others, handOffs } = await cluster();
  try {
    // Nine writes in ten through one follower, a tenth through the other, in a shuffled order
    // (seeded), for 40 passes: the share sits on the 90% line and crosses it often.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let t = 0; t < 40 * PASS_TICKS; t++) {
      await write(c, [next() < 0.9 ? others[0] : others[1]], 1);
    }
    assertEquals(leader(), others[0]);
    assertEquals(handOffs, [{ from: preferred, to: others[0], reason: "writes" }]);

    // Two application servers taking turns every two passes: a few moves, not one per turn.
    handOffs.length = 0;
    for (let turn = 0; turn < 20; turn++) await write(c, [others[turn % 2]], 2 * PASS_TICKS);
    assert(handOffs.length <= 4, `${handOffs.length} transfers in 20 turns`);
  } finally {
    await c.stop();
  }
});

Deno.test("writes through a node that holds no replica of the partition count as spread: back to the preferred replica", async () => {
  const c = await ManualCluster.start(5, 1);
  try {
    const replicas = c.hosts.get(1)!.replicasOf(0);
    const outsider = [1, 2, 3, 4, 5].find((id) => !replicas.includes(id))!;
    const leader = () => c.leaderOf(0).nodeId;
    await c.until("the preferred replica to lead", () => leader() === replicas[0], 2000);
    c.leaderOf(0).transferLeadership(0, replicas[1]);
    await c.until("the second replica to lead", () => leader() === replicas[1]);
    let ticks = 0;
    for (; ticks < 10 * PASS_TICKS && leader() !== replicas[0]; ticks++) {
      for (let i = 0; i < 4; i++) c.leaderOf(0).noteWrite(0, outsider);
      await c.step();
    }
    assertEquals(leader(), replicas[0], "handed back as if the writes were spread");
  } finally {
    await c.stop();
  }
});

Deno.test("a new leader leads a few passes before it hands the partition on for its writes", async () => {
  const { c, leader, preferred, others, handOffs } = await cluster();
  try {
    c.leaderOf(0).transferLeadership(0, others[0]);
    await c.until("the other replica to lead", () => leader() === others[0]);
    // From its first tick as leader, every write comes through the third replica.
    let ticks = 0;
    for (; ticks < 10 * PASS_TICKS && leader() === others[0]; ticks++) {
      for (let i = 0; i < 20; i++) {
        c.hosts.get(others[1])!.noteWrite(0);
        c.leaderOf(0).noteWrite(0, others[1]);
      }
      await c.step();
    }
    assertEquals(leader(), others[1]);
    assertEquals(handOffs.at(-1), { from: others[0], to: others[1], reason: "writes" });
    // Its first pass may come a tick after it took over: the third is two passes later.
    assert(
      ticks > (FOLLOW_TENURE_PASSES - 2) * PASS_TICKS,
      `handed on after ${ticks} ticks, before leading ${FOLLOW_TENURE_PASSES} passes`,
    );
    assert(!handOffs.some((h) => h.to === preferred && h.from === others[0]), "not sent back");
  } finally {
    await c.stop();
  }
});
