/**
 * The storage conformance suite: what every {@linkcode RaftStorage} must store and recover,
 * written once and run against each backend. Someone writing a backend of their own runs it
 * against theirs:
 *
 * @example Run the suite against a backend
 * ```ts ignore
 * import { MemoryStorage, testStorageConformance } from "@prkdb/prkdb/storage";
 * testStorageConformance("memory", () => {
 *   const storage = new MemoryStorage();
 *   return Promise.resolve({
 *     storage,
 *     reopen: () => Promise.resolve(storage),
 *     cleanup: () => storage.close(),
 *   });
 * });
 * ```
 *
 * @module
 */
import { assertEquals, assertRejects } from "@std/assert";
import type { Entry } from "../raft/entry.ts";
import type { PartitionState, RaftStorage } from "./raft_storage.ts";

/**
 * A fresh store for one case.
 *
 * @example Usage
 * ```ts
 * import type { StorageUnderTest } from "@prkdb/prkdb/storage";
 * ```
 */
export interface StorageUnderTest {
  /** The store, empty. */
  readonly storage: RaftStorage;
  /** Closes the store and opens the same data again, as a restart does. */
  reopen(): Promise<RaftStorage>;
  /** Closes whatever is open and removes the data. */
  cleanup(): Promise<void>;
}

/**
 * One case of the suite.
 *
 * @example Usage
 * ```ts
 * import { STORAGE_CONFORMANCE } from "@prkdb/prkdb/storage";
 * console.log(STORAGE_CONFORMANCE.length > 5); // true
 * ```
 */
export interface ConformanceCase {
  /** What it checks. */
  readonly name: string;
  /** Runs it; throws when the store breaks the contract. */
  run(storage: RaftStorage, reopen: () => Promise<RaftStorage>): Promise<void>;
}

const te = new TextEncoder();
const entry = (index: number, term: number, data = `v${index}`): Entry => ({
  index,
  term,
  type: "normal",
  data: te.encode(data),
});
const range = (from: number, to: number, term: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const summary = (s: PartitionState) => ({
  hardState: s.hardState,
  snapshot: s.snapshot &&
    { meta: s.snapshot.meta, data: new TextDecoder().decode(s.snapshot.data) },
  log: s.entries.map((e) => `${e.index}@${e.term}:${new TextDecoder().decode(e.data)}`),
});

const cases: ConformanceCase[] = [];
const test = (name: string, run: ConformanceCase["run"]) => cases.push({ name, run });

test("a partition never written is empty", async (s) => {
  assertEquals(summary(await s.load(7)), {
    hardState: { term: 0, votedFor: 0, commitIndex: 0 },
    snapshot: undefined,
    log: [],
  });
});

test("appends survive a restart", async (s, reopen) => {
  await s.write([{ partition: 0, entries: range(1, 3, 1) }]);
  await s.write([{ partition: 0, entries: range(4, 5, 2) }]);
  const after = await reopen();
  assertEquals(summary(await after.load(0)).log, [
    "1@1:v1",
    "2@1:v2",
    "3@1:v3",
    "4@2:v4",
    "5@2:v5",
  ]);
});

test("an append overwrites a conflicting suffix", async (s, reopen) => {
  await s.write([{ partition: 0, entries: range(1, 5, 1) }]);
  await s.write([{ partition: 0, entries: [entry(3, 2, "x"), entry(4, 2, "y")] }]);
  assertEquals(summary(await s.load(0)).log, ["1@1:v1", "2@1:v2", "3@2:x", "4@2:y"]);
  assertEquals(summary(await (await reopen()).load(0)).log, [
    "1@1:v1",
    "2@1:v2",
    "3@2:x",
    "4@2:y",
  ]);
});

test("the hard state survives a restart, latest wins", async (s, reopen) => {
  await s.write([{ partition: 0, hardState: { term: 1, votedFor: 1, commitIndex: 0 } }]);
  await s.write([{ partition: 0, hardState: { term: 4, votedFor: 3, commitIndex: 9 } }]);
  assertEquals((await (await reopen()).load(0)).hardState, {
    term: 4,
    votedFor: 3,
    commitIndex: 9,
  });
});

test("a snapshot compacts the prefix and keeps the tail", async (s, reopen) => {
  await s.write([{ partition: 0, entries: range(1, 10, 1) }]);
  await s.write([{
    partition: 0,
    snapshot: { meta: { index: 6, term: 1 }, data: te.encode("state@6") },
  }]);
  const expected = { index: 6, data: "state@6", log: ["7@1:v7", "8@1:v8", "9@1:v9", "10@1:v10"] };
  const view = (st: PartitionState) => {
    const got = summary(st);
    return { index: got.snapshot?.meta.index, data: got.snapshot?.data, log: got.log };
  };
  assertEquals(view(await s.load(0)), expected);
  assertEquals(view(await (await reopen()).load(0)), expected);
});

test("a later snapshot replaces the earlier one; appends continue after it", async (s, reopen) => {
  await s.write([{ partition: 0, entries: range(1, 4, 1) }]);
  await s.write([{
    partition: 0,
    snapshot: { meta: { index: 2, term: 1 }, data: te.encode("a") },
  }]);
  await s.write([{
    partition: 0,
    snapshot: { meta: { index: 4, term: 1 }, data: te.encode("b") },
  }]);
  await s.write([{ partition: 0, entries: range(5, 6, 2) }]);
  const got = summary(await (await reopen()).load(0));
  assertEquals([got.snapshot?.meta, got.snapshot?.data, got.log], [{ index: 4, term: 1 }, "b", [
    "5@2:v5",
    "6@2:v6",
  ]]);
});

test("an installed snapshot that conflicts with the log replaces all of it", async (s, reopen) => {
  await s.write([{ partition: 0, entries: range(1, 8, 1) }]);
  await s.write([{
    partition: 0,
    snapshot: { meta: { index: 20, term: 3 }, data: te.encode("leader's") },
    truncateFrom: 21,
  }]);
  await s.write([{ partition: 0, entries: [entry(21, 3)] }]);
  const got = summary(await (await reopen()).load(0));
  assertEquals([got.snapshot?.meta, got.log], [{ index: 20, term: 3 }, ["21@3:v21"]]);
});

test("a snapshot's membership and config entries survive a restart", async (s, reopen) => {
  const membership = { voters: [1, 2, 4], learners: [5] };
  const config = {
    index: 4,
    term: 2,
    type: "config" as const,
    data: te.encode(JSON.stringify(membership)),
  };
  await s.write([{ partition: 0, entries: [...range(1, 3, 1), config] }]);
  await s.write([{
    partition: 0,
    snapshot: { meta: { index: 3, term: 1, membership }, data: te.encode("s") },
  }]);
  const got = await (await reopen()).load(0);
  assertEquals(got.snapshot?.meta, { index: 3, term: 1, membership });
  assertEquals(got.entries.map((e) => [e.index, e.type]), [[4, "config"]]);
});

test("two partitions in one store stay apart", async (s, reopen) => {
  await s.write([
    {
      partition: 0,
      hardState: { term: 2, votedFor: 1, commitIndex: 1 },
      entries: range(1, 2, 2),
    },
    {
      partition: 5,
      hardState: { term: 7, votedFor: 2, commitIndex: 0 },
      entries: range(1, 1, 7),
    },
  ]);
  await s.write([{
    partition: 5,
    snapshot: { meta: { index: 1, term: 7 }, data: te.encode("p5") },
  }]);
  const after = await reopen();
  assertEquals(summary(await after.load(0)), {
    hardState: { term: 2, votedFor: 1, commitIndex: 1 },
    snapshot: undefined,
    log: ["1@2:v1", "2@2:v2"],
  });
  assertEquals(summary(await after.load(5)), {
    hardState: { term: 7, votedFor: 2, commitIndex: 0 },
    snapshot: { meta: { index: 1, term: 7 }, data: "p5" },
    log: [],
  });
});

test("concurrent writes apply in call order", async (s, reopen) => {
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => s.write([{ partition: 1, entries: [entry(i + 1, 1)] }])),
  );
  await s.write([{ partition: 1, entries: [entry(40, 2, "last")] }]);
  const log = summary(await (await reopen()).load(1)).log;
  assertEquals(log.length, 40);
  assertEquals(log.at(-1), "40@2:last");
});

test("large entries and batches larger than one commit round-trip", async (s, reopen) => {
  const big = new Uint8Array(300 * 1024).map((_, i) => i % 251);
  const many = range(2, 1500, 1);
  await s.write([{
    partition: 2,
    entries: [{ index: 1, term: 1, type: "normal", data: big }, ...many],
  }]);
  const got = await (await reopen()).load(2);
  assertEquals(got.entries.length, 1500);
  assertEquals(got.entries[0].data, big);
  assertEquals(new TextDecoder().decode(got.entries[1499].data), "v1500");
});

test("a gap is refused and nothing of the batch is stored", async (s) => {
  await s.write([{ partition: 0, entries: range(1, 2, 1) }]);
  await assertRejects(
    () => s.write([{ partition: 0, entries: [entry(1, 1), entry(3, 1)] }]),
    Error,
    "not contiguous",
  );
  assertEquals(summary(await s.load(0)).log, ["1@1:v1", "2@1:v2"]);
});

/** Every case of the suite, in order. */
export const STORAGE_CONFORMANCE: readonly ConformanceCase[] = cases;

/**
 * Registers one Deno test per case for a backend.
 *
 * @param backend The backend's name, shown in each test's name.
 * @param open Opens a fresh, empty store for one case.
 */
export function testStorageConformance(
  backend: string,
  open: () => Promise<StorageUnderTest>,
): void {
  for (const c of STORAGE_CONFORMANCE) {
    Deno.test(`storage conformance (${backend}): ${c.name}`, async () => {
      const { storage, reopen, cleanup } = await open();
      try {
        await c.run(storage, reopen);
      } finally {
        await cleanup();
      }
    });
  }
}
