import { assertEquals, assertThrows } from "@std/assert";
import type { Entry } from "./entry.ts";
import { RaftLog } from "./log.ts";

const e = (index: number, term: number, data = ""): Entry => ({
  index,
  term,
  type: data ? "normal" : "noop",
  data: new TextEncoder().encode(data),
});
const terms = (log: RaftLog) => log.slice(log.firstIndex, log.lastIndex + 1).map((x) => x.term);

Deno.test("RaftLog: an empty log ends at 0@0", () => {
  const log = new RaftLog();
  assertEquals([log.firstIndex, log.lastIndex, log.lastTerm], [1, 0, 0]);
  assertEquals(log.term(0), 0);
  assertEquals(log.term(1), undefined);
});

Deno.test("RaftLog: append refuses to leave a gap", () => {
  const log = new RaftLog();
  log.append([e(1, 1)]);
  assertThrows(() => log.append([e(3, 1)]), Error, "gap");
});

Deno.test("RaftLog: tryAppend applies the consistency check (section 5.3)", () => {
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 1)]);
  assertEquals(log.tryAppend(2, 2, 0, [e(3, 2)]), undefined, "prev term mismatch must be refused");
  assertEquals(
    log.tryAppend(3, 1, 0, [e(4, 1)]),
    undefined,
    "prev index beyond the log must be refused",
  );
  assertEquals(log.tryAppend(2, 1, 0, [e(3, 2)]), 3);
  assertEquals(terms(log), [1, 1, 2]);
});

Deno.test("RaftLog: tryAppend truncates a conflicting suffix but keeps matching entries", () => {
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 1), e(3, 1), e(4, 1)]);
  log.markStable();
  // A duplicate of what we have changes nothing (and must not truncate index 4).
  assertEquals(log.tryAppend(1, 1, 0, [e(2, 1)]), 2);
  assertEquals(log.lastIndex, 4);
  // A conflict at 3 replaces 3..4.
  assertEquals(log.tryAppend(2, 1, 0, [e(3, 2)]), 3);
  assertEquals(terms(log), [1, 1, 2]);
  assertEquals(log.stableIndex, 2, "the replaced entries must be persisted again");
  assertEquals(log.unstableEntries().map((x) => x.index), [3]);
});

Deno.test("RaftLog: commit index follows min(leaderCommit, last new entry)", () => {
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 1), e(3, 1)]);
  log.tryAppend(1, 1, 10, []); // the leader's commit is far ahead, but we only know 1 matches
  assertEquals(log.commitIndex, 1);
  log.tryAppend(2, 1, 10, [e(3, 1)]);
  assertEquals(log.commitIndex, 3);
});

Deno.test("RaftLog: overwriting a committed entry is a safety violation", () => {
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 1)]);
  log.commitTo(2);
  assertThrows(() => log.tryAppend(1, 1, 2, [e(2, 2)]), Error, "Safety violation");
});

Deno.test("RaftLog: findConflictByTerm skips whole terms", () => {
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 1), e(3, 2), e(4, 2), e(5, 4), e(6, 4)]);
  assertEquals(log.findConflictByTerm(6, 3), { index: 4, term: 2 });
  assertEquals(log.findConflictByTerm(6, 4), { index: 6, term: 4 });
  assertEquals(log.findConflictByTerm(9, 1), { index: 2, term: 1 });
  assertEquals(log.findConflictByTerm(6, 0), { index: 0, term: 0 });
});

Deno.test("RaftLog: isUpToDate compares last term, then length (section 5.4.1)", () => {
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 2)]);
  assertEquals(log.isUpToDate(1, 3), true, "a later last term wins even when shorter");
  assertEquals(log.isUpToDate(5, 1), false, "an earlier last term loses even when longer");
  assertEquals(log.isUpToDate(2, 2), true);
  assertEquals(log.isUpToDate(1, 2), false);
});

Deno.test("RaftLog: slice bounds messages by count and bytes, but always makes progress", () => {
  const log = new RaftLog();
  log.append([e(1, 1, "x".repeat(100)), e(2, 1, "y".repeat(100)), e(3, 1, "z")]);
  assertEquals(log.slice(1, 4, 2).length, 2);
  assertEquals(log.slice(1, 4, 10, 150).length, 1);
  assertEquals(log.slice(1, 4, 10, 1).length, 1, "one oversized entry is still sent");
  assertThrows(() => log.slice(0, 2), Error, "out of bounds");
});

Deno.test("RaftLog: restores from a compaction point", () => {
  const log = new RaftLog(
    { snapshotIndex: 10, snapshotTerm: 3, entries: [e(11, 3), e(12, 4)] },
    11,
  );
  assertEquals([log.firstIndex, log.lastIndex, log.lastTerm, log.commitIndex, log.lastApplied], [
    11,
    12,
    4,
    11,
    10,
  ]);
  assertEquals(log.term(10), 3, "the compaction point still answers the consistency check");
  assertEquals(log.term(9), undefined);
  assertEquals(log.committedEntries().map((x) => x.index), [11]);
  assertThrows(
    () => new RaftLog({ snapshotIndex: 0, snapshotTerm: 0, entries: [e(2, 1)] }),
    Error,
    "contiguous",
  );
});

Deno.test("RaftLog: applied index cannot pass the commit index", () => {
  const log = new RaftLog();
  log.append([e(1, 1)]);
  assertThrows(() => log.appliedTo(1), Error, "beyond the commit index");
  log.commitTo(1);
  log.appliedTo(1);
  assertEquals(log.committedEntries(), []);
});

Deno.test("RaftLog: a snapshot installed over an unstable replacement tells storage to drop the stale suffix", () => {
  // Stored: 1..5 in term 1. In memory, a new leader's entry 4@2 replaced 4..5 but is not yet
  // persisted, so storage still holds the stale 4@1 and 5@1.
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 1), e(3, 1), e(4, 1), e(5, 1)]);
  log.markStable();
  assertEquals(log.tryAppend(3, 1, 0, [e(4, 2)]), 4);
  // The leader's snapshot through 4@2 matches the unstable entry 4: the log keeps nothing after
  // it, and storage must drop 5@1, which would otherwise survive past the snapshot.
  assertEquals(log.restore(4, 2), true);
  assertEquals(log.lastIndex, 4);
  // A snapshot over a fully stable, matching log leaves storage's tail alone.
  const stable = new RaftLog();
  stable.append([e(1, 1), e(2, 1), e(3, 1)]);
  stable.markStable();
  assertEquals(stable.restore(2, 1), false);
  assertEquals(stable.lastIndex, 3);
});

Deno.test("RaftLog: when storage drops the tail after a snapshot, every entry kept after it is written again", () => {
  // Stored: 1..9. Entry 10 arrived but is not persisted when a snapshot through 8 installs:
  // the log keeps 9 and 10, storage is told to drop everything after 8, so both must be in the
  // next write: the unstable entries start right after the snapshot, never leaving a gap.
  const log = new RaftLog();
  log.append([1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => e(i, 1)));
  log.markStable();
  log.append([e(10, 1)]);
  assertEquals(log.restore(8, 1), true);
  assertEquals(log.unstableEntries().map((x) => x.index), [9, 10]);
});

Deno.test("RaftLog: a snapshot whose last entry conflicts with the log replaces the whole log (section 7)", () => {
  // The follower holds 3@1 and 4@1 from an old leader; the snapshot says entry 3 is 3@2.
  const log = new RaftLog();
  log.append([e(1, 1), e(2, 1), e(3, 1), e(4, 1)]);
  log.markStable();
  assertEquals(log.restore(3, 2), true, "storage must drop the stale 4@1");
  assertEquals([log.lastIndex, log.lastTerm, log.term(4)], [3, 2, undefined]);
});
