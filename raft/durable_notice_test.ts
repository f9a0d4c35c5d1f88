import { assert, assertEquals } from "@std/assert";
import type { Message } from "./message.ts";
import { RaftNode } from "./node.ts";
import { SeededRandom } from "./rng.ts";
import type { ReadState } from "./types.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/**
 * Nodes over instant delivery, driven by hand: `deliver` runs Readies and hands over messages
 * until nothing moves, collecting each node's read states; `held` messages wait until released.
 */
function group(voters: number[]) {
  const nodes = new Map(
    voters.map((id) => [id, new RaftNode({ id, voters, random: new SeededRandom(id) })]),
  );
  const reads = new Map<number, ReadState[]>(voters.map((id) => [id, []]));
  const deliver = (extra: Message[] = []) => {
    let msgs = extra;
    for (let rounds = 0; rounds < 100; rounds++) {
      for (const m of msgs) nodes.get(m.to)!.step(m);
      msgs = [];
      for (const [id, n] of nodes) {
        if (!n.hasReady()) continue;
        const rd = n.ready();
        msgs.push(...rd.messages);
        reads.get(id)!.push(...rd.readStates);
        n.advance(rd);
      }
      if (msgs.length === 0) return;
    }
    throw new Error("did not settle");
  };
  nodes.get(1)!.campaign();
  deliver();
  const leader = nodes.get(1)!;
  assert(leader.isLeader);
  return { nodes, reads, deliver, leader };
}

/** Proposes at the leader and writes the entry there, holding its AppendEntries back. */
function proposeHeld(leader: RaftNode): { index: number; term: number; held: Message[] } {
  const { index, term } = leader.propose(bytes("x"));
  const rd = leader.ready();
  leader.advance(rd); // the leader's write finished: the entry is durable there
  return { index, term, held: [...rd.messages] };
}

Deno.test("announceDurable: only a leader in the entry's term, with the peer and itself a majority", () => {
  const g = group([1, 2, 3]);
  const { index, term, held } = proposeHeld(g.leader);
  assertEquals(g.nodes.get(2)!.announceDurable(1, index, term), false, "a follower");
  assertEquals(g.leader.announceDurable(2, index, term + 1), false, "another term");
  assertEquals(g.leader.announceDurable(2, index + 1, term), false, "an entry it does not hold");
  assertEquals(g.leader.announceDurable(4, index, term), false, "not a voter");
  assertEquals(g.leader.announceDurable(2, index, term), true);
  g.deliver(held);

  const five = group([1, 2, 3, 4, 5]);
  const p = proposeHeld(five.leader);
  assertEquals(five.leader.announceDurable(2, p.index, p.term), false, "two of five");
});

Deno.test("announceDurable: refused while a membership change is pending", () => {
  const g = group([1, 2, 3]);
  g.leader.changeMembership({ type: "addLearner", node: 4 });
  const { index, term, held } = proposeHeld(g.leader);
  assertEquals(g.leader.announceDurable(2, index, term), false);
  g.deliver(held.filter((m) => m.to !== 4));
  assertEquals(g.leader.announceDurable(2, index, term), true, "once the change committed");
});

Deno.test("announceDurable: a read admitted afterwards, here or at a follower, gets a read index covering the entry", () => {
  for (const announce of [false, true]) {
    const g = group([1, 2, 3]);
    const { index, term, held } = proposeHeld(g.leader);
    if (announce) assert(g.leader.announceDurable(2, index, term));
    g.leader.readIndex(7);
    g.nodes.get(3)!.readIndex(8);
    g.deliver(); // the reads get their read index before the followers hear of the entry
    g.deliver(held);
    // Without the notice the entry was not known committed when the reads came: they may be
    // served before it. With it, node 2 may already have answered for it.
    const want = announce ? index : index - 1;
    assertEquals(g.reads.get(1), [{ context: 7, index: want }]);
    assertEquals(g.reads.get(3), [{ context: 8, index: want }]);
  }
});
