/**
 * Storage benchmark: durable appends per second for each backend at batch sizes 1, 10 and 100,
 * with many partitions writing at once (group commit), beside the disk's raw fdatasync rate.
 *
 * ```sh
 * deno task bench                 # prints a table; --markdown prints it for docs/storage.md
 * ```
 *
 * Each case runs for about a second (BENCH_SECONDS; bounded by a count too) in a fresh temporary
 * directory. A round is one write per partition, all at once: with 16 partitions, 16 writes.
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import type { Entry } from "../../raft/mod.ts";
import { FileStorage } from "../../storage/file_storage.ts";
import { KvStorage } from "../../storage/kv_storage.ts";
import type { RaftStorage } from "../../storage/raft_storage.ts";
import { scriptArgs } from "../support/script_args.ts";

const USAGE = `Usage: deno task bench [--markdown]

Durable appends per second for the file and Deno KV storage at batch sizes 1, 10 and 100, one and
16 partitions at once, beside the disk's raw fdatasync rate. Each case runs BENCH_SECONDS seconds
(default 1) in a fresh temporary directory.

Options:
  --markdown   Print the table as Markdown (for docs/storage.md).
  -h, --help   Show this help.
`;
const args = scriptArgs(USAGE, ["--markdown"]);

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "1");
const PAYLOAD = new Uint8Array(100).fill(7);
const markdown = args.has("--markdown");

interface Row {
  what: string;
  entriesPerSecond: number;
  batchesPerSecond: number;
  microsPerBatch: number;
}

async function time(
  fn: (round: number) => Promise<number>,
): Promise<{ seconds: number; entries: number; rounds: number }> {
  const started = performance.now();
  let entries = 0, rounds = 0;
  while (performance.now() - started < SECONDS * 1000 && rounds < 200_000) {
    entries += await fn(rounds++);
  }
  return { seconds: (performance.now() - started) / 1000, entries, rounds };
}

async function rawFsync(dir: string): Promise<Row> {
  const file = await Deno.open(`${dir}/raw`, { create: true, write: true, append: true });
  const r = await time(async () => {
    await file.write(PAYLOAD);
    await file.syncData();
    return 1;
  });
  file.close();
  return row("disk: 100-byte write + fdatasync", r);
}

function row(what: string, r: { seconds: number; entries: number; rounds: number }): Row {
  return {
    what,
    entriesPerSecond: r.entries / r.seconds,
    batchesPerSecond: r.rounds / r.seconds,
    microsPerBatch: (r.seconds * 1e6) / r.rounds,
  };
}

/** `partitions` writers each append `batch` entries per write, all at once, until time is up. */
async function appends(
  storage: RaftStorage,
  batch: number,
  partitions: number,
): Promise<{ seconds: number; entries: number; rounds: number }> {
  const next = new Array(partitions).fill(1);
  return await time(async () => {
    await Promise.all(Array.from({ length: partitions }, (_, p) => {
      const entries: Entry[] = Array.from(
        { length: batch },
        (_, i) => ({ index: next[p] + i, term: 1, type: "normal", data: PAYLOAD }),
      );
      next[p] += batch;
      return storage.write([{ partition: p, entries }]);
    }));
    return batch * partitions;
  });
}

const dir = await Deno.makeTempDir({ prefix: "prkdb-bench-" });
const rows: Row[] = [];
try {
  rows.push(await rawFsync(dir));
  const backends: [string, (d: string) => Promise<RaftStorage>][] = [
    ["file", (d) => FileStorage.open(d)],
    ["kv", (d) => KvStorage.open(`${d}.sqlite`)],
  ];
  for (const [name, open] of backends) {
    for (const [batch, partitions] of [[1, 1], [10, 1], [100, 1], [1, 16], [10, 16]]) {
      const storage = await open(`${dir}/${name}-${batch}-${partitions}`);
      const r = await appends(storage, batch, partitions);
      await storage.close();
      const label = partitions === 1
        ? `${name}: batch ${batch}`
        : `${name}: batch ${batch} x ${partitions} partitions at once`;
      rows.push(row(label, r));
      if (!markdown) console.log(`  measured ${label}`);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
if (markdown) {
  console.log("| case | entries/s | rounds/s | µs per round |\n| --- | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.what} | ${fmt(r.entriesPerSecond)} | ${fmt(r.batchesPerSecond)} | ${
        fmt(r.microsPerBatch)
      } |`,
    );
  }
} else {
  console.log(
    `\n${"case".padEnd(44)} ${"entries/s".padStart(12)} ${"rounds/s".padStart(10)} ${
      "µs/round".padStart(9)
    }`,
  );
  for (const r of rows) {
    console.log(
      `${r.what.padEnd(44)} ${fmt(r.entriesPerSecond).padStart(12)} ${
        fmt(r.batchesPerSecond).padStart(10)
      } ${fmt(r.microsPerBatch).padStart(9)}`,
    );
  }
}
