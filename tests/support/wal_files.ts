/**
 * What the file log's tests share: a data directory that cleans up after itself, entries that
 * say their index, the segment files in order, and a segment's framing read from its bytes.
 *
 * @module
 */
import { join } from "@std/path";
import type { Entry } from "../../raft/entry.ts";
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
