/**
 * Figure 2's receiver rules, one crafted message at a time into a single node (no cluster):
 * what it answers, and what it persists.
 */
import { assert, assertEquals } from "@std/assert";
import type { Entry } from "./entry.ts";
import type { Message } from "./message.ts";
import { RaftNode } from "./node.ts";
import { SeededRandom } from "./rng.ts";

const entry = (index: number, term: number): Entry => ({
  index,
  term,
  type: "normal",
  data: new Uint8Array([index]),
});

/** Node 2 of {1, 2, 3}, stepped with `m`; returns the messages and hard state it produced. */
function step(node: RaftNode, m: Message) {
  node.step(m);
  const rd = node.ready();
  node.advance(rd);
  return { messages: rd.messages, hardState: rd.hardState };
}

function follower(options: { preVote?: boolean; checkQuorum?: boolean } = {}): RaftNode {
  return new RaftNode({
    id: 2,
    voters: [1, 2, 3],
    random: new SeededRandom(2),
    preVote: options.preVote ?? false,
    checkQuorum: options.checkQuorum ?? false,
  });
}

const vote = (from: number, term: number, preVote = false): Message => ({
  type: "Vote",
  from,
  to: 2,
  term,
  preVote,
  lastLogIndex: 0,
  lastLogTerm: 0,
  leadershipTransfer: false,
});

const append = (term: number, prev: number, entries: Entry[], commit: number): Message => ({
  type: "AppendEntries",
  from: 1,
  to: 2,
  term,
  prevLogIndex: prev,
  prevLogTerm: prev === 0 ? 0 : 1,
  entries,
  leaderCommit: commit,
});

Deno.test("RequestVote receiver: a request from an older term is dropped, changing nothing", () => {
  const node = follower();
  assertEquals(step(node, vote(3, 2)).hardState, { term: 2, votedFor: 3, commitIndex: 0 });
  const stale = step(node, vote(1, 1));
  assertEquals(stale.messages, []);
  assertEquals(stale.hardState, undefined);
  assertEquals(node.status().votedFor, 3);
});

Deno.test("RequestVote receiver: one vote per term, granted again to the same candidate", () => {
  const node = follower();
  const first = step(node, vote(3, 1));
  assertEquals(first.messages.map((m) => m.type === "VoteResponse" && m.granted), [true]);
  const other = step(node, vote(1, 1));
  assertEquals(other.messages.map((m) => m.type === "VoteResponse" && m.granted), [false]);
  const again = step(node, vote(3, 1));
  assertEquals(again.messages.map((m) => m.type === "VoteResponse" && m.granted), [true]);
});

Deno.test("AppendEntries receiver: older than the commit index is answered with the commit index", () => {
  const node = follower();
  const first = step(node, append(1, 0, [entry(1, 1), entry(2, 1)], 2));
  assertEquals(first.hardState, { term: 1, votedFor: 0, commitIndex: 2 });
  // A duplicate of an earlier message: it cannot be applied, and nothing needs to be.
  const duplicate = step(node, append(1, 0, [entry(1, 1)], 0));
  assertEquals(
    duplicate.messages.map((m) => m.type === "AppendEntriesResponse" && [m.success, m.matchIndex]),
    [[true, 2]],
  );
  assertEquals(node.status().lastLogIndex, 2);
});

Deno.test("AppendEntries receiver: an older term is rejected with the current term only with PreVote or CheckQuorum", () => {
  for (const [options, answered] of [[{}, false], [{ checkQuorum: true }, true]] as const) {
    const node = follower(options);
    step(node, vote(3, 2));
    const stale = step(node, append(1, 0, [entry(1, 1)], 0));
    assertEquals(
      stale.messages.map((m) => m.type === "AppendEntriesResponse" && [m.success, m.term]),
      answered ? [[false, 2]] : [],
      JSON.stringify(options),
    );
    assertEquals(node.status().lastLogIndex, 0);
  }
});

Deno.test("PreVote: a request from an older term is refused with the voter's term", () => {
  const node = follower({ preVote: true });
  step(node, vote(3, 2));
  const stale = step(node, vote(1, 1, true));
  assertEquals(
    stale.messages.map((m) => m.type === "VoteResponse" && [m.preVote, m.granted, m.term]),
    [[true, false, 2]],
  );
  assertEquals(stale.hardState, undefined);
});

Deno.test("InstallSnapshot receiver: an older term is refused at once, nothing installed", () => {
  const node = follower({ checkQuorum: true });
  step(node, vote(3, 2));
  const stale = step(node, {
    type: "InstallSnapshot",
    from: 1,
    to: 2,
    term: 1,
    snapshotIndex: 5,
    snapshotTerm: 1,
    offset: 0,
    data: new Uint8Array([1]),
    done: true,
  });
  assertEquals(
    stale.messages.map((m) => m.type === "AppendEntriesResponse" && [m.success, m.term]),
    [[false, 2]],
  );
  assertEquals(node.status().firstIndex, 1);
});

Deno.test("RequestVote receiver: granting a vote restarts the election timer (figure 2, rules for followers)", () => {
  const node = follower();
  // Term 1 with no vote cast and no leader known: a later vote request of term 1 can be granted
  // without a term change (a term change would restart the timer by itself).
  step(node, { type: "VoteResponse", from: 3, to: 2, term: 1, preVote: false, granted: false });
  for (let i = 1; i < 10; i++) node.tick(); // electionTick - 1: the timeout is at least 10
  assertEquals(node.status().role, "Follower");
  const granted = step(node, vote(3, 1));
  assertEquals(granted.messages.map((m) => m.type === "VoteResponse" && m.granted), [true]);
  // Section 5.2: a follower waits a whole election timeout after the vote before campaigning.
  let ticks = 0;
  while (node.status().role === "Follower" && ticks < 20) {
    node.tick();
    ticks++;
  }
  assert(ticks >= 10, `the follower campaigned ${ticks} ticks after granting a vote`);
});
