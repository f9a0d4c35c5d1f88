import { assert, assertEquals, assertThrows } from "@std/assert";
import { InvalidMessageError, NotLeaderError, ProposalDroppedError, RaftError } from "./errors.ts";
import type { Message } from "./message.ts";
import { RaftNode } from "./node.ts";
import type { Ready } from "./ready.ts";
import { SeededRandom } from "./rng.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

interface TestCluster {
  nodes: Map<number, RaftNode>;
  applied: Map<number, number[]>;
  settle: () => void;
  leader: RaftNode;
}

/**
 * Three nodes with instant, lossless delivery; returns them after node 1 wins. The loop here is
 * the bare minimum the core's API needs (ready, deliver, advance): these tests are about the
 * core alone, and `raft/` may not depend on the runtime that drives it in production.
 */
function cluster(voters = [1, 2, 3]): TestCluster {
  const nodes = new Map(
    voters.map((id) => [id, new RaftNode({ id, voters, random: new SeededRandom(id) })]),
  );
  const applied = new Map<number, number[]>(voters.map((id) => [id, []]));
  const settle = () => {
    for (let rounds = 0; rounds < 100; rounds++) {
      const msgs: Message[] = [];
      for (const [id, n] of nodes) {
        if (!n.hasReady()) continue;
        const rd = n.ready();
        msgs.push(...rd.messages);
        applied.get(id)!.push(...rd.committedEntries.map((e) => e.index));
        n.advance(rd);
      }
      if (msgs.length === 0) return;
      for (const m of msgs) nodes.get(m.to)!.step(m);
    }
    throw new Error("did not settle");
  };
  nodes.get(1)!.campaign();
  settle();
  return { nodes, applied, settle, leader: nodes.get(1)! };
}

Deno.test("RaftNode: a single node elects itself and commits at once", () => {
  const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
  node.campaign();
  assert(node.isLeader);
  const p = node.propose(bytes("a"));
  const rd = node.ready();
  assertEquals(rd.entries.map((e) => e.index), [1, 2]);
  assertEquals(rd.committedEntries.map((e) => e.index), [1, 2]);
  assertEquals(rd.hardState, { term: 1, votedFor: 1, commitIndex: 2 });
  assertEquals(p, { index: 2, term: 1 });
  node.advance(rd);
  assertEquals(node.status().lastApplied, 2);
});

Deno.test("RaftNode: proposals made between Readies travel in one AppendEntries per follower", () => {
  const { leader } = cluster();
  leader.proposeBatch([bytes("a"), bytes("b")]);
  leader.propose(bytes("c"));
  const rd = leader.ready();
  const appends = rd.messages.filter((m) => m.type === "AppendEntries");
  assertEquals(appends.length, 2);
  for (const m of appends) assertEquals(m.type === "AppendEntries" && m.entries.length, 3);
  leader.advance(rd);
});

Deno.test("RaftNode: every node applies the same entries in order", () => {
  const { leader, settle, applied } = cluster();
  for (let i = 0; i < 5; i++) leader.propose(bytes(`v${i}`));
  settle();
  assertEquals(applied.get(1), [1, 2, 3, 4, 5, 6]);
  assertEquals(applied.get(2), applied.get(1));
  assertEquals(applied.get(3), applied.get(1));
});

Deno.test("RaftNode: followers refuse proposals and name the leader", () => {
  const { nodes } = cluster();
  const error = assertThrows(() => nodes.get(2)!.propose(bytes("x")), NotLeaderError);
  assertEquals(error.leaderId, 1);
});

Deno.test("RaftNode: a leader refuses proposals while transferring leadership", () => {
  const { leader } = cluster();
  leader.transferLeadership(2);
  assertThrows(() => leader.propose(bytes("x")), ProposalDroppedError, "transfer to node 2");
});

Deno.test("RaftNode: the uncommitted-bytes bound refuses proposals instead of growing without limit", () => {
  const node = new RaftNode({
    id: 1,
    voters: [1, 2, 3],
    random: new SeededRandom(1),
    maxUncommittedBytes: 1000,
  });
  node.campaign();
  // Grant the election by hand; followers then never answer, so nothing commits.
  for (const from of [2, 3]) {
    node.step({ type: "VoteResponse", from, to: 1, term: 1, preVote: true, granted: true });
  }
  for (const from of [2, 3]) {
    node.step({ type: "VoteResponse", from, to: 1, term: 1, preVote: false, granted: true });
  }
  assert(node.isLeader);
  node.propose(new Uint8Array(900));
  assertThrows(() => node.propose(new Uint8Array(200)), ProposalDroppedError, "uncommitted");
});

Deno.test("RaftNode: the Ready contract is enforced", () => {
  const { leader } = cluster();
  leader.propose(bytes("x"));
  const rd = leader.ready();
  assertThrows(() => leader.ready(), RaftError, "before advance");
  assertThrows(() => leader.advance({ ...rd } as Ready), RaftError, "last Ready");
  assertEquals(leader.hasReady(), false, "nothing is handed out while a Ready is outstanding");
  leader.advance(rd);
});

Deno.test("RaftNode: messages from itself, to others, or malformed are refused without effect", () => {
  const { nodes } = cluster();
  const n2 = nodes.get(2)!;
  const before = n2.status();
  const ok = { type: "Heartbeat", from: 1, to: 2, term: 5, leaderCommit: 0, readRound: 0 } as const;
  assertThrows(() => n2.step({ ...ok, from: 0 }), InvalidMessageError, "not another node");
  assertThrows(() => n2.step({ ...ok, from: 2 }), InvalidMessageError, "not another node");
  assertThrows(() => n2.step({ ...ok, to: 3 }), InvalidMessageError, "addressed to node 3");
  assertThrows(() => n2.step({ ...ok, term: -1 }), InvalidMessageError, "term");
  assertThrows(
    () => n2.step({ ...ok, type: "Gossip" } as unknown as Message),
    InvalidMessageError,
    "unknown message type",
  );
  assertThrows(() => n2.step(null as unknown as Message), InvalidMessageError);
  assertEquals(n2.status(), before);
});

Deno.test("RaftNode: restart restores term, vote and log, and re-applies committed entries", () => {
  const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
  node.campaign();
  node.propose(bytes("a"));
  const rd = node.ready();
  node.advance(rd);
  const restarted = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) }, {
    hardState: rd.hardState!,
    snapshot: undefined,
    entries: rd.entries,
  });
  const s = restarted.status();
  assertEquals([s.role, s.term, s.votedFor, s.commitIndex, s.lastApplied], [
    "Follower",
    1,
    1,
    2,
    0,
  ]);
  assertEquals(restarted.ready().committedEntries.map((e) => e.index), [1, 2]);
});

Deno.test("RaftNode: status shows each follower's progress at the leader", () => {
  const { leader, settle } = cluster();
  leader.propose(bytes("x"));
  settle();
  const s = leader.status();
  assertEquals(s.role, "Leader");
  assertEquals(s.followers.map((f) => [f.id, f.matchIndex, f.state]), [[2, 2, "replicate"], [
    3,
    2,
    "replicate",
  ]]);
});

Deno.test("RaftNode: an illegal transition throws", () => {
  const { leader } = cluster();
  assertThrows(() => leader.campaign(), RaftError, "Leader cannot become Candidate");
});

Deno.test("RaftNode: status keeps a follower active across a CheckQuorum reset, and drops a silent one", () => {
  const { nodes, leader } = cluster();
  const down = 3;
  // Ticks the leader once and delivers everything except to and from the isolated node.
  const tick = () => {
    leader.tick();
    for (let rounds = 0; rounds < 100; rounds++) {
      const msgs: Message[] = [];
      for (const [id, n] of nodes) {
        if (id === down || !n.hasReady()) continue;
        const rd = n.ready();
        msgs.push(...rd.messages.filter((m) => m.to !== down));
        n.advance(rd);
      }
      if (msgs.length === 0) return;
      for (const m of msgs) nodes.get(m.to)!.step(m);
    }
    throw new Error("did not settle");
  };
  const active = () =>
    Object.fromEntries(leader.status().followers.map((f) => [f.id, f.recentActive]));
  // Two CheckQuorum periods (electionTick = 10), the last tick's answers not yet delivered.
  for (let i = 0; i < 19; i++) tick();
  assertEquals(active(), { 2: true, 3: true }, "node 3 was heard in the first period");
  leader.tick();
  // The leader has just forgotten who it heard from: node 2 answered all along and still
  // counts; node 3 was silent for the whole period and does not.
  assertEquals(active(), { 2: true, 3: false });
});

Deno.test("the election timer counts ticks towards a randomized timeout, then the CheckQuorum period", () => {
  const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(3) });
  node.tick();
  node.tick();
  const timer = node.electionTimer();
  assertEquals(timer.elapsed, 2);
  assert(timer.timeout >= 10 && timer.timeout < 20, `timeout ${timer.timeout}`);
  node.campaign();
  assertEquals(node.electionTimer(), { elapsed: 0, timeout: 10 });
});
