import { assert, assertEquals, assertRejects } from "@std/assert";
import type { Entry } from "../raft/entry.ts";
import { FormatVersionError, StorageError } from "./errors.ts";
import { KvStorage } from "./kv_storage.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const entry = (index: number, term: number, size = 8): Entry => ({
  index,
  term,
  type: "normal",
  data: te.encode(`${index}@${term}`.padEnd(size, ".")),
});

/** A Deno.Kv whose atomic commits start failing after `allowed` of them: a crash between commits. */
function crashingKv(kv: Deno.Kv, allowed: number): { kv: Deno.Kv; commits: () => number } {
  let commits = 0;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            if (commits >= allowed) return Promise.reject(new Error("simulated crash"));
            commits++;
            return commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: proxy, commits: () => commits };
}

Deno.test("KvStorage: a batch split across commits is crash-safe at every boundary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-kv-" });
  try {
    const old = Array.from({ length: 300 }, (_, i) => entry(i + 1, 1));
    // Replaces entries 101.. with 1200 bigger entries of term 2 and a new hard state: this needs
    // several commits (over 1000 mutations and 800 KiB).
    const replacement = Array.from({ length: 1200 }, (_, i) => entry(101 + i, 2, 1500));
    const oldLog = old.map((e) => `${e.index}@${e.term}`);
    const newLog = [...oldLog.slice(0, 100), ...replacement.map((e) => `${e.index}@${e.term}`)];
    // Count the commits the batch takes when nothing fails.
    let total = 0;
    {
      const path = `${dir}/count.sqlite`;
      const kv = await Deno.openKv(path);
      const seed = await KvStorage.open(kv);
      await seed.write([{ partition: 0, entries: old }]);
      const counting = crashingKv(kv, Infinity);
      const s = await KvStorage.open(counting.kv);
      await s.write([{
        partition: 0,
        hardState: { term: 2, votedFor: 3, commitIndex: 100 },
        entries: replacement,
      }]);
      total = counting.commits();
      kv.close();
    }
    assert(total >= 3, `expected the batch to need several commits, it took ${total}`);
    for (let allowed = 0; allowed <= total; allowed++) {
      const path = `${dir}/crash-${allowed}.sqlite`;
      const kv = await Deno.openKv(path);
      await (await KvStorage.open(kv)).write([{ partition: 0, entries: old }]);
      const s = await KvStorage.open(crashingKv(kv, allowed).kv);
      const write = s.write([{
        partition: 0,
        hardState: { term: 2, votedFor: 3, commitIndex: 100 },
        entries: replacement,
      }]);
      if (allowed < total) await assertRejects(() => write, StorageError, "simulated crash");
      else await write;
      kv.close();
      // Restart: whatever the crash left must be a valid log, either a prefix of the old one or the new one.
      const reopened = await KvStorage.open(path);
      const state = await reopened.load(0);
      const log = state.entries.map((e) => `${e.index}@${e.term}`);
      const isOldPrefix = log.every((x, i) => x === oldLog[i]);
      const isNew = log.length === newLog.length && log.every((x, i) => x === newLog[i]);
      assert(
        isOldPrefix || isNew,
        `after ${allowed} of ${total} commits the log is neither: ${log.slice(95, 105)}`,
      );
      if (allowed === total) assertEquals([isNew, state.hardState.term], [true, 2]);
      if (allowed === 0) assertEquals(log, oldLog, "nothing committed, nothing changed");
      await reopened.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KvStorage: compacted and truncated entries are deleted from the database", async () => {
  const kv = await Deno.openKv(":memory:");
  const s = await KvStorage.open(kv, { namespace: ["t"] });
  await s.write([{ partition: 0, entries: Array.from({ length: 50 }, (_, i) => entry(i + 1, 1)) }]);
  await s.write([{
    partition: 0,
    snapshot: { meta: { index: 30, term: 1 }, data: te.encode("s") },
  }]);
  await s.write([{ partition: 0, entries: [entry(41, 2)] }]);
  const state = await s.load(0);
  await s.close(); // garbage is collected right after each commit; close waits for it
  const keys: number[] = [];
  for await (const { key } of kv.list({ prefix: ["t", "log", 0] })) keys.push(key[3] as number);
  assertEquals(keys, Array.from({ length: 11 }, (_, i) => 31 + i));
  assertEquals([td.decode(state.snapshot!.data), state.entries.at(-1)?.term], ["s", 2]);
  kv.close();
});

Deno.test("KvStorage: data from a newer format version is refused clearly", async () => {
  const kv = await Deno.openKv(":memory:");
  await kv.set(["prkdb", "meta", 0], {
    version: 7,
    lastIndex: 0,
    snapshotIndex: 0,
    snapshotTerm: 0,
    snapshotChunks: 0,
  });
  const s = await KvStorage.open(kv);
  await assertRejects(() => s.load(0), FormatVersionError, "version 7");
  await s.close();
  kv.close();
});

Deno.test("KvStorage: an unopenable path is a clear error", async () => {
  await assertRejects(
    () => KvStorage.open("/proc/definitely/not/here.sqlite"),
    StorageError,
    "Cannot open Deno KV at",
  );
});
