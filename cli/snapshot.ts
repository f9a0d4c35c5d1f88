/**
 * The backup file of `snapshot save` and `snapshot restore`: JSON lines, versioned and
 * checksummed.
 *
 * ```text
 * {"format":"prkdb-snapshot","version":1,"createdAt":"2026-11-30T09:00:00.000Z","partitions":8,"positions":["0:12",...]}
 * {"key":"aGVsbG8=","value":"d29ybGQ=","version":"3:7"}
 * ...
 * {"end":true,"entries":2,"sha256":"<hex of every byte above this line>"}
 * ```
 *
 * Keys and values are base64 (they may be any bytes). `version` is the version the key had in
 * the backed-up cluster; a restore writes every key anew, so restored keys get new versions.
 * `positions` are the per-partition versions the last page was read at. Expiry times are not
 * kept: a key with a TTL is restored without one.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { PrkDbClient } from "../client/mod.ts";

/** The format name in the header. */
export const SNAPSHOT_FORMAT = "prkdb-snapshot";
/** The format version this code writes and reads. */
export const SNAPSHOT_VERSION = 1;

/** One backed-up key. */
export interface SnapshotEntry {
  /** The key's bytes. */
  readonly key: Uint8Array;
  /** The value's bytes. */
  readonly value: Uint8Array;
  /** Its version when backed up. */
  readonly version: string;
}

/** A read backup. */
export interface Snapshot {
  /** When it was made. */
  readonly createdAt: string;
  /** The backed-up cluster's partition count. */
  readonly partitions: number;
  /** Every key. */
  readonly entries: SnapshotEntry[];
}

/** A backup file that is not one, or is damaged. */
export class SnapshotFileError extends Error {}

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

/**
 * Backs up every key: a list over the whole key space, every page a linearizable read of
 * every partition. Written to `file + ".tmp"`, then renamed, so a crash never leaves a
 * half-written backup under the final name.
 *
 * @param db A connected client.
 * @param file Where to write.
 * @returns How many keys were written.
 */
export async function saveSnapshot(db: PrkDbClient, file: string): Promise<number> {
  const hash = createHash("sha256");
  const tmp = `${file}.tmp`;
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  const lines: string[] = [];
  let count = 0;
  const it = db.list({ prefix: "" }, { batchSize: 1000, readMode: "linearizable" });
  try {
    for await (const e of it) {
      lines.push(
        JSON.stringify({
          key: b64(e.key),
          value: b64(e.value ?? new Uint8Array()),
          version: e.version,
        }),
      );
      count++;
    }
    const header = JSON.stringify({
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      createdAt: new Date().toISOString(),
      partitions: db.cluster.partitions.length,
      positions: it.positions,
    });
    for (const line of [header, ...lines]) {
      const bytes = encoder.encode(line + "\n");
      hash.update(bytes);
      await out.write(bytes);
    }
    const trailer = { end: true, entries: count, sha256: hash.digest("hex") };
    await out.write(encoder.encode(JSON.stringify(trailer) + "\n"));
    await out.sync();
  } finally {
    out.close();
  }
  await Deno.rename(tmp, file);
  return count;
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
  if (header.version !== SNAPSHOT_VERSION) {
    throw new SnapshotFileError(
      `${file} is format version ${header.version}; this program reads version ${SNAPSHOT_VERSION}`,
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
  const entries = lines.slice(1, -1).map((line, i) => {
    const e = parse(line, `entry on line ${i + 2}`);
    return { key: unb64(e.key), value: unb64(e.value), version: String(e.version ?? "") };
  });
  if (entries.length !== trailer.entries) {
    throw new SnapshotFileError(
      `${file} holds ${entries.length} entries, its end marker says ${trailer.entries}`,
    );
  }
  return { createdAt: header.createdAt, partitions: header.partitions, entries };
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
