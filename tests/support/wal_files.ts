/**
 * What the file log's tests share: a data directory that cleans up after itself, entries that
 * say their index, the segment files in order, and a segment's framing read from its bytes.
 *
 * @module
 */
import { join } from "@std/path";
import type { Entry } from "../../raft/entry.ts";
import { FileStorage } from "../../storage/file_storage.ts";
import { SEGMENT_HEADER_BYTES } from "../../storage/wal_format.ts";

const te = new TextEncoder();

/** Entry `index` (term 1 unless given), whose data names it. */
export const entry = (index: number, term = 1): Entry => ({
  index,
  term,
  type: "normal",
  data: te.encode(`value-${index}`),
});

/** Runs `fn` with a new temporary directory, removed afterwards. */
export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-file-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens the file log in `dir`, writes entries `first`..`last` of partition 0, one batch each, and closes it. */
export async function fill(dir: string, last: number, first = 1): Promise<void> {
  const s = await FileStorage.open(dir);
  for (let i = first; i <= last; i++) await s.write([{ partition: 0, entries: [entry(i)] }]);
  await s.close();
}

/**
 * Like {@linkcode fill}, then puts the high-water file back as it was before: as after a power
 * loss that the file's later updates did not survive.
 */
export async function fillBehindHighWater(dir: string, last: number, first = 1): Promise<void> {
  const highWater = await Deno.readFile(join(dir, "high-water"));
  await fill(dir, last, first);
  await Deno.writeFile(join(dir, "high-water"), highWater);
}

/** The log segments of data directory `dir`, oldest first. */
export async function segments(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(join(dir, "wal"))) names.push(e.name);
  return names.sort().map((n) => join(dir, "wal", n));
}

/**
 * A segment's framing: where each record starts, and where the records end (zeros, space
 * preallocated for the next records, may follow: a record's sequence number is never 0).
 */
export function framing(bytes: Uint8Array): { offsets: number[]; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  let at = SEGMENT_HEADER_BYTES;
  while (at + 20 <= bytes.length && view.getUint32(at + 4, true) !== 0) {
    offsets.push(at);
    at += 20 + view.getUint32(at, true);
  }
  return { offsets, end: Math.min(at, bytes.length) };
}

/** How many fdatasyncs (of any file) `fn` made. */
export async function countFdatasyncs(fn: () => Promise<void>): Promise<number> {
  let syncs = 0;
  const real = Deno.FsFile.prototype.syncData;
  Deno.FsFile.prototype.syncData = function (this: Deno.FsFile) {
    syncs++;
    return real.call(this);
  };
  try {
    await fn();
  } finally {
    Deno.FsFile.prototype.syncData = real;
  }
  return syncs;
}
