import { assertEquals } from "@std/assert";
import { RaftNode, SeededRandom } from "../raft/mod.ts";
import type { Entry } from "../raft/entry.ts";
import type { Ready } from "../raft/ready.ts";
import { Durability } from "./durability.ts";

const entry = (index: number, term: number): Entry => ({
  index,
  term,
  type: "normal",
  data: new Uint8Array([index]),
});

/** A follower (node 2 of three) fed AppendEntries by hand. */
function follower() {
  const node = new RaftNode({ id: 2, voters: [1, 2, 3], random: new SeededRandom(2) });
  const append = (from: number, term: number, prev: number, prevTerm: number, entries: Entry[]) =>
    node.step({
      type: "AppendEntries",
      from,
      to: 2,
      term,
      prevLogIndex: prev,
      prevLogTerm: prevTerm,
      entries,
      leaderCommit: 0,
    });
  return { node, append };
}

/** Takes the node's Ready and hands it to "storage", returning it unwritten. */
function hand(node: RaftNode, d: Durability): Ready {
  const rd = node.ready();
  d.handing(rd);
  return rd;
}

Deno.test("Durability: an answer waits until the round that holds its entry has written it", () => {
  const { node, append } = follower();
  const d = new Durability(0, node);
  append(1, 1, 0, 0, [entry(1, 1), entry(2, 1)]);
  const fired: string[] = [];
  d.wait(2, 1, () => fired.push("before the round")); // the entry is not even handed over
  const rd = hand(node, d);
  d.wait(1, 1, () => fired.push("during the write"));
  assertEquals(fired, []);
  d.written(rd);
  node.advance(rd);
  assertEquals(fired, ["before the round", "during the write"]);
  d.wait(2, 1, () => fired.push("after"));
  assertEquals(fired.at(-1), "after", "durable already: at once");
});

Deno.test("Durability: an entry of another term at that index is never taken for the one named", () => {
  const { node, append } = follower();
  const d = new Durability(0, node);
  append(1, 1, 0, 0, [entry(1, 1), entry(2, 1)]);
  let rd = hand(node, d);
  d.written(rd);
  node.advance(rd);
  const fired: string[] = [];
  // On disk: (2, term 1). A notice for (2, term 2) finds another entry there: it never fires.
  d.wait(2, 2, () => fired.push("wrong term on disk"));
  // A new leader of term 2 replaces entry 2: cut in memory first, then handed over, then written.
  append(3, 2, 1, 1, [entry(2, 2)]);
  d.wait(2, 1, () => fired.push("old entry"));
  d.wait(2, 2, () => fired.push("new entry"));
  assertEquals(fired, [], "the replacement is not on disk yet, and the old entry is gone");
  rd = hand(node, d);
  d.wait(2, 2, () => fired.push("new entry, asked during the write"));
  assertEquals(fired, [], "handed over, not written");
  d.written(rd);
  node.advance(rd);
  assertEquals(fired, ["new entry", "new entry, asked during the write"]);
});

Deno.test("Durability: a stopped wait does not fire; a compacted entry never does, the entries after a compaction still do", () => {
  const { node, append } = follower();
  const d = new Durability(0, node);
  append(1, 1, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)]);
  const fired: number[] = [];
  const stop = d.wait(3, 1, () => fired.push(3));
  const rd = hand(node, d);
  stop();
  d.written(rd);
  node.advance(rd);
  assertEquals(fired, []);
  node.step({
    type: "Heartbeat",
    from: 1,
    to: 2,
    term: 1,
    leaderCommit: 3,
    readRound: 0,
  });
  const applied = node.ready();
  node.advance(applied);
  node.compact(2, new Uint8Array());
  // The compaction's snapshot goes to storage; the entry after it stays where it was, on disk.
  const compaction = hand(node, d);
  d.written(compaction);
  node.advance(compaction);
  d.wait(1, 1, () => fired.push(1));
  d.wait(3, 1, () => fired.push(3));
  assertEquals(fired, [3]);
});

Deno.test("Durability: a leader's notice leaves once its own write has the entry, if the node agrees", () => {
  const node = new RaftNode({ id: 1, voters: [1, 2, 3], random: new SeededRandom(1) });
  node.campaign();
  const d = new Durability(0, node);
  let rd = node.ready();
  node.advance(rd);
  for (const from of [2, 3]) {
    node.step({ type: "VoteResponse", from, to: 1, term: 1, preVote: true, granted: true });
  }
  rd = node.ready();
  node.advance(rd);
  for (const from of [2, 3]) {
    node.step({ type: "VoteResponse", from, to: 1, term: 1, preVote: false, granted: true });
  }
  assertEquals(node.isLeader, true);
  const { index, term } = node.propose(new Uint8Array([1]));
  const sent: string[] = [];
  d.announce(index, term, { to: 2, send: (p, i, t) => sent.push(`to 2: ${p}/${i}@${t}`) });
  d.announce(index, term, { to: 9, send: () => sent.push("to a stranger") });
  d.announce(index, term, {
    to: 3,
    send: () => {
      throw new Error("the stream is gone");
    },
  });
  rd = hand(node, d);
  assertEquals(sent, [], "not before the write");
  d.written(rd);
  node.advance(rd);
  assertEquals(
    sent,
    [`to 2: 0/${index}@${term}`],
    "only to a peer that makes a majority with it; one that cannot be sent stops nothing",
  );
});
