/**
 * Snapshot files: one per stored snapshot, written atomically (temporary file, fsync, rename,
 * fsync of the directory), so a crash leaves either the old snapshot or the new one, never half.
 *
 * ```text
 * "PRKS" | version (u32 LE) | index (u64) | term (u64) | data length (u64) | CRC-32 of data (u32) | data
 *        | membership length (u32) | membership (JSON, empty for none) | CRC-32 of membership (u32)
 * ```
 *
 * Version 1 files end after the data: they hold no membership, and still load.
 *
 * @module
 */
import { join } from "@std/path";
import { ByteReader, ByteWriter } from "./binary.ts";
import { crc32 } from "./crc32.ts";
import { CorruptLogError, FormatVersionError } from "./errors.ts";
import type { Snapshot } from "./raft_storage.ts";
import { decodeMembership, encodeMembership } from "../raft/membership.ts";

const MAGIC = new Uint8Array([0x50, 0x52, 0x4b, 0x53]); // "PRKS"
const VERSION = 2;

/** The file name of a partition's snapshot. */
export function snapshotFileName(partition: number, index: number, term: number): string {
  return `p${partition}-${String(index).padStart(16, "0")}-${term}.snap`;
}

/** Fsyncs a directory, so a rename or a new file in it is durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Writes a snapshot atomically into `dir` and returns its path. */
export async function writeSnapshotFile(
  dir: string,
  partition: number,
  snapshot: Snapshot,
): Promise<string> {
  const path = join(dir, snapshotFileName(partition, snapshot.meta.index, snapshot.meta.term));
  const tmp = `${path}.tmp`;
  const w = new ByteWriter().bytes(MAGIC).u32(VERSION).u64(snapshot.meta.index).u64(
    snapshot.meta.term,
  )
    .u64(snapshot.data.length).u32(crc32(snapshot.data)).bytes(snapshot.data);
  const membership = snapshot.meta.membership
    ? encodeMembership(snapshot.meta.membership)
    : new Uint8Array();
  w.u32(membership.length).bytes(membership).u32(crc32(membership));
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    const bytes = w.view();
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
  await syncDirectory(dir);
  return path;
}

/** Reads and verifies a snapshot file. */
export async function readSnapshotFile(path: string): Promise<Snapshot> {
  const bytes = await Deno.readFile(path);
  const r = new ByteReader(bytes);
  try {
    if (!MAGIC.every((b) => r.u8() === b)) {
      throw new CorruptLogError(path, 0, "not a PrkDB snapshot (bad magic)");
    }
    const version = r.u32();
    if (version > VERSION) throw new FormatVersionError(path, version, VERSION);
    const index = r.u64(), term = r.u64(), length = r.u64(), checksum = r.u32();
    const data = r.bytes(length);
    if (crc32(data) !== checksum) {
      throw new CorruptLogError(path, 36, "snapshot data checksum mismatch");
    }
    if (version < 2) return { meta: { index, term }, data: data.slice() };
    const at = r.offset;
    const encoded = r.bytes(r.u32());
    if (crc32(encoded) !== r.u32()) {
      throw new CorruptLogError(path, at, "snapshot membership checksum mismatch");
    }
    if (encoded.length === 0) return { meta: { index, term }, data: data.slice() };
    let membership;
    try {
      membership = decodeMembership(encoded);
    } catch (error) {
      throw new CorruptLogError(path, at, (error as Error).message);
    }
    return { meta: { index, term, membership }, data: data.slice() };
  } catch (error) {
    if (error instanceof CorruptLogError || error instanceof FormatVersionError) throw error;
    throw new CorruptLogError(path, r.offset, `truncated snapshot: ${(error as Error).message}`);
  }
}
