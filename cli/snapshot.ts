/**
 * The backup file of `snapshot save` and `snapshot restore`: JSON lines, versioned and
 * checksummed. Version 2 (written now) holds one consistent copy of each partition's state:
 *
 * ```text
 * {"format":"prkdb-snapshot","version":2,"createdAt":"2026-11-30T09:00:00.000Z","partitions":8}
 * {"partition":0,"index":1234,"state":"<base64 of the partition's state machine snapshot>"}
 * ...
 * {"end":true,"entries":8,"sha256":"<hex of every byte above this line>"}
 * ```
 *
 * Each partition's state is taken at one applied index after a ReadIndex round, so it is a
 * linearizable point-in-time copy of that partition, with versions, sessions and expiry times.
 * (Partitions are copied one after the other: the backup is not one instant across them.)
 *
 * Version 1 files (one line per key, `{"key","value","version"}` in base64, no expiry times)
 * still restore into a running cluster.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { PrkDbClient } from "../client/mod.ts";
import { KvStateMachine } from "../partition/kv_state_machine.ts";

/** The format name in the header. */
export const SNAPSHOT_FORMAT = "prkdb-snapshot";
/** The format version this code writes; it reads this one and version 1. */
export const SNAPSHOT_VERSION = 2;

/** One backed-up key. */
export interface SnapshotEntry {
  /** The key's bytes. */
  readonly key: Uint8Array;
  /** The value's bytes. */
  readonly value: Uint8Array;
  /** Its version when backed up. */
  readonly version: string;
}

/** One partition's consistent state in a backup (format version 2). */
export interface PartitionCopy {
  /** The partition. */
  readonly partition: number;
  /** The applied index it was taken at. */
  readonly index: number;
  /** The state machine's snapshot bytes at that index. */
  readonly state: Uint8Array;
}

/** A read backup. */
export interface Snapshot {
  /** When it was made. */
  readonly createdAt: string;
  /** The backed-up cluster's partition count. */
  readonly partitions: number;
  /** Every key. */
  readonly entries: SnapshotEntry[];
  /** Each partition's state (format version 2; absent in version 1 files). */
  readonly copies?: readonly PartitionCopy[];
}

/** Every live key in a partition copy, in key order. */
export function keysOf(copy: PartitionCopy): SnapshotEntry[] {
  const sm = new KvStateMachine(copy.partition);
  sm.restore(copy.state);
  return sm.scan(new Uint8Array(), undefined, Number.MAX_SAFE_INTEGER).map((e) => ({
    key: e.key,
    value: e.value,
    version: e.version,
  }));
}

/** A backup file that is not one, or is damaged. */
export class SnapshotFileError extends Error {}

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

/**
 * Backs up every partition: one consistent copy each (see the module documentation), written
 * to `file + ".tmp"`, then renamed, so a crash never leaves a half-written backup under the
 * final name.
 *
 * @param partitions The cluster's partition count.
 * @param file Where to write.
 * @param copy Fetches one partition's consistent copy from the cluster.
 * @returns How many keys the backup holds.
 */
export async function saveSnapshot(
  partitions: number,
  file: string,
  copy: (partition: number) => Promise<PartitionCopy>,
): Promise<number> {
  const hash = createHash("sha256");
  const tmp = `${file}.tmp`;
  const encoder = new TextEncoder();
  const lines = [JSON.stringify({
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    createdAt: new Date().toISOString(),
    partitions,
  })];
  let keys = 0;
  for (let p = 0; p < partitions; p++) {
    const c = await copy(p);
    keys += keysOf(c).length; // also proves the copy restores
    lines.push(JSON.stringify({ partition: p, index: c.index, state: b64(c.state) }));
  }
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    for (const line of lines) {
      const bytes = encoder.encode(line + "\n");
      hash.update(bytes);
      await out.write(bytes);
    }
    const trailer = { end: true, entries: partitions, sha256: hash.digest("hex") };
    await out.write(encoder.encode(JSON.stringify(trailer) + "\n"));
    await out.sync();
  } finally {
    out.close();
  }
  await Deno.rename(tmp, file);
  return keys;
}

/**
 * Reads and verifies a backup file: its format and version, its checksum and its count.
 *
 * @param file The file.
 * @returns The backup.
 * @throws {SnapshotFileError} When the file is not a backup or is damaged.
 */
export async function readSnapshot(file: string): Promise<Snapshot> {
  const bytes = await Deno.readFile(file);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SnapshotFileError(`${file} is not a PrkDB backup (not UTF-8 text)`);
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const parse = (line: string | undefined, what: string) => {
    try {
      return JSON.parse(line ?? "");
    } catch {
      throw new SnapshotFileError(`${file}: the ${what} is not JSON; is this a PrkDB backup?`);
    }
  };
  const header = parse(lines[0], "first line");
  if (header?.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotFileError(`${file} is not a PrkDB backup (no "${SNAPSHOT_FORMAT}" header)`);
  }
  if (header.version !== 1 && header.version !== SNAPSHOT_VERSION) {
    throw new SnapshotFileError(
      `${file} is format version ${header.version}; this program reads versions 1 and ${SNAPSHOT_VERSION}`,
    );
  }
  const trailer = parse(lines.at(-1), "last line");
  if (lines.length < 2 || trailer?.end !== true) {
    throw new SnapshotFileError(`${file} is truncated: its end marker is missing`);
  }
  const body = lines.slice(0, -1).map((l) => l + "\n").join("");
  const sum = createHash("sha256").update(new TextEncoder().encode(body)).digest("hex");
  if (sum !== trailer.sha256) {
    throw new SnapshotFileError(`${file} is damaged: its checksum does not match its content`);
  }
  const records = lines.slice(1, -1).map((line, i) => parse(line, `entry on line ${i + 2}`));
  if (records.length !== trailer.entries) {
    throw new SnapshotFileError(
      `${file} holds ${records.length} entries, its end marker says ${trailer.entries}`,
    );
  }
  if (header.version === 1) {
    const entries = records.map((e) => ({
      key: unb64(e.key),
      value: unb64(e.value),
      version: String(e.version ?? ""),
    }));
    return { createdAt: header.createdAt, partitions: header.partitions, entries };
  }
  const copies = records.map((r): PartitionCopy => ({
    partition: r.partition,
    index: r.index,
    state: unb64(r.state),
  }));
  const seen = copies.map((c) => c.partition).sort((a, b) => a - b).join();
  if (seen !== Array.from({ length: header.partitions }, (_, p) => p).join()) {
    throw new SnapshotFileError(`${file} does not hold every partition of ${header.partitions}`);
  }
  let entries: SnapshotEntry[];
  try {
    entries = copies.flatMap(keysOf);
  } catch (error) {
    throw new SnapshotFileError(`${file}: a partition's state does not restore: ${error}`);
  }
  return { createdAt: header.createdAt, partitions: header.partitions, entries, copies };
}

/**
 * Writes every key of a backup into a running cluster with `put`, a few at a time. Keys the
 * cluster has and the backup lacks are left as they are.
 *
 * @param db A connected client.
 * @param snapshot The backup.
 * @param concurrency Writes in flight at once.
 * @returns How many keys were written.
 */
export async function restoreSnapshot(
  db: PrkDbClient,
  snapshot: Snapshot,
  concurrency = 16,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < snapshot.entries.length) {
      const e = snapshot.entries[next++];
      await db.put(e.key, e.value);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, snapshot.entries.length) }, worker));
  return snapshot.entries.length;
}
