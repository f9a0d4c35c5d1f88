/**
 * Membership changes (thesis chapter 4): the pure rules of a single-server change, the entry
 * encoding, and the behaviour of removed nodes and learners in a running group. The step-by-step
 * protocol is in the golden scripts `tests/golden/membership_*.txt`.
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { MembershipChangeError, RaftError } from "./errors.ts";
import { changeMembership, decodeMembership, encodeMembership } from "./membership.ts";
import type { Message } from "./message.ts";
import { RaftNode } from "./node.ts";
import { hasQuorum, majority, quorumValue, voteResult } from "./quorum.ts";
import { SeededRandom } from "./rng.ts";

Deno.test("changeMembership: one server at a time, and only changes that make sense", () => {
  const m = { voters: [1, 2, 3], learners: [4] };
  assertEquals(changeMembership(m, { type: "promote", node: 4 }), {
    voters: [1, 2, 3, 4],
    learners: [],
  });
  assertEquals(changeMembership(m, { type: "remove", node: 2 }), { voters: [1, 3], learners: [4] });
  assertEquals(changeMembership(m, { type: "remove", node: 4 }).learners, []);
  const refused: [Parameters<typeof changeMembership>[1], string][] = [
    [{ type: "addLearner", node: 3 }, "already a member"],
    [{ type: "promote", node: 2 }, "already a voter"],
    [{ type: "promote", node: 9 }, "not a learner"],
    [{ type: "remove", node: 9 }, "not a member"],
    [{ type: "addLearner", node: 0 }, "positive integers"],
  ];
  for (const [change, message] of refused) {
    assertThrows(() => changeMembership(m, change), MembershipChangeError, message);
  }
  assertThrows(
    () => changeMembership({ voters: [1], learners: [] }, { type: "remove", node: 1 }),
    MembershipChangeError,
    "last voter",
  );
});

Deno.test("config entries: a membership round-trips; anything else is refused", () => {
  const m = { voters: [1, 2], learners: [3] };
  assertEquals(decodeMembership(encodeMembership(m)), m);
  for (const bad of ["nope", "{}", '{"voters":[]}', '{"voters":[1],"learners":[-1]}']) {
    assertThrows(() => decodeMembership(new TextEncoder().encode(bad)), RaftError);
  }
});

Deno.test("quorum: majorities of voters only", () => {
  assertEquals([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
  assertEquals(quorumValue([1, 2, 3, 4], (id) => [0, 9, 8, 3, 1][id]), 3);
  assertEquals(voteResult([1, 2, 3], new Map([[1, true], [4, true]])), "pending");
  assertEquals(voteResult([1, 2, 3], new Map([[1, true], [2, true]])), "won");
  assertEquals(voteResult([1, 2, 3], new Map([[2, false], [3, false]])), "lost");
  assert(!hasQuorum([1, 2, 3, 4], (id) => id <= 2));
});

/** Instant, lossless delivery among `nodes` until nothing moves. */
function settle(nodes: Map<number, RaftNode>): void {
  for (let round = 0; round < 200; round++) {
    const messages: Message[] = [];
    for (const n of nodes.values()) {
      if (!n.hasReady()) continue;
      const rd = n.ready();
      messages.push(...rd.messages);
      n.advance(rd);
    }
    if (messages.length === 0) return;
    for (const m of messages) nodes.get(m.to)?.step(m);
  }
  throw new Error("did not settle");
}

function group(voters: number[]): Map<number, RaftNode> {
  return new Map(
    voters.map((id) => [id, new RaftNode({ id, voters, random: new SeededRandom(id) })]),
  );
}

Deno.test("a removed voter never campaigns, and a learner cannot become leader", () => {
  const nodes = group([1, 2, 3]);
  nodes.get(1)!.campaign();
  settle(nodes);
  nodes.get(1)!.changeMembership({ type: "remove", node: 3 });
  settle(nodes);
  const removed = nodes.get(3)!;
  assertEquals(removed.status().membership.voters, [1, 2]);
  for (let i = 0; i < 100; i++) removed.tick();
  settle(nodes);
  assertEquals([removed.status().role, removed.status().term], ["Follower", 1]);
  assertThrows(() => removed.campaign(), RaftError, "not a voter");

  const joining = new RaftNode({
    id: 4,
    voters: [1, 2],
    learners: [4],
    random: new SeededRandom(4),
  });
  nodes.set(4, joining);
  nodes.get(1)!.changeMembership({ type: "addLearner", node: 4 });
  settle(nodes);
  assertThrows(() => nodes.get(1)!.transferLeadership(4), RaftError, "not a voter");
  for (let i = 0; i < 100; i++) joining.tick();
  settle(nodes);
  assertEquals(joining.status().role, "Follower");
  assertEquals(nodes.get(1)!.status().leaderId, 1);
});

Deno.test("a leader removing itself stops counting its own log: a two-voter group needs both", () => {
  const nodes = group([1, 2, 3]);
  nodes.get(1)!.campaign();
  settle(nodes);
  const leader = nodes.get(1)!;
  // Node 3 is unreachable: the change that removes node 1 needs both remaining voters.
  const reachable = new Map([...nodes].filter(([id]) => id !== 3));
  const { index } = leader.changeMembership({ type: "remove", node: 1 });
  settle(reachable);
  assert(leader.status().commitIndex < index, "committed without a majority of the new voters");
  leader.tick(); // a heartbeat reaches node 3 now
  settle(nodes);
  assert(!leader.isLeader, "the removed leader stepped down");
  assert([2, 3].includes(nodes.get(2)!.status().leaderId), "a remaining voter leads");
});

Deno.test("hasReady only looks: asking twice changes nothing, and ready still has the work", () => {
  const nodes = group([1, 2, 3]);
  nodes.get(1)!.campaign();
  settle(nodes);
  const leader = nodes.get(1)!;
  leader.propose(new TextEncoder().encode("x"));
  const before = leader.status();
  assert(leader.hasReady());
  assert(leader.hasReady());
  assertEquals(leader.status(), before);
  assertEquals(leader.ready().messages.filter((m) => m.type === "AppendEntries").length, 2);
});
