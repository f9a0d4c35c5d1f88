/**
 * Raft storage in Deno KV (SQLite underneath, each atomic commit fsynced).
 *
 * Keys, under a namespace (default `["prkdb"]`):
 *
 * ```text
 * [ns, "meta", p]           { version, lastIndex, snapshotIndex, snapshotTerm, snapshotChunks,
 *                              snapshotMembership? }
 * [ns, "hs", p]             the hard state
 * [ns, "log", p, i, k]      chunk k of entry i (chunk 0 starts with term, type and sizes)
 * [ns, "snap", p, i, k]     chunk k of the snapshot ending at index i
 * [ns, "seq"]               the number of the last commit (one more in every commit)
 * ```

 * Beside a database file, `<file>.high-water` (see high_water.ts) holds the number of the last
 * commit the store acknowledged. A database that is missing, or holds an older commit number
 * (SQLite rolled back: a damaged or missing `-wal` file, an older copy), refuses to open with a
 * {@linkcode DataLossError}. SQLite has no page checksums, so a flipped bit inside a page that
 * SQLite still accepts is not detected.
 *
 * A partition's `meta` decides what is visible: entries in `(snapshotIndex, lastIndex]`, and
 * the snapshot at `snapshotIndex`. A batch is one atomic commit when it fits Deno KV's limits
 * (1000 mutations, 800 KiB). A larger one is split so that every commit boundary is safe:
 * snapshot chunks first (invisible), then the hard state and a `meta` that hides whatever will
 * be overwritten, then the new entries (invisible), then the `meta` that shows them. A crash
 * between commits loses only the unacknowledged part of the batch.
 *
 * @module
 */
import { ifExists } from "./if_exists.ts";
import type { Entry } from "../raft/entry.ts";
import type { Membership } from "../raft/membership.ts";
import type { HardState } from "../raft/types.ts";
import { ByteReader, ByteWriter } from "./binary.ts";
import { DataLossError, FormatVersionError, StorageError } from "./errors.ts";
import { HighWater, readHighWater } from "./high_water.ts";
import { validateBatch } from "./partition_state.ts";
import { GroupCommit } from "./group_commit.ts";
import type { PartitionState, PartitionWrite, RaftStorage, Snapshot } from "./raft_storage.ts";

const FORMAT_VERSION = 1;
/** Deno KV refuses values over 64 KiB; chunks stay below that with room for overhead. */
const CHUNK_BYTES = 60 * 1024;
const MAX_MUTATIONS = 1000;
/** Room in every commit for the commit number. */
const MAX_DATA_MUTATIONS = MAX_MUTATIONS - 1;
/** Deno KV allows 800 KiB per commit, counted after serialization: keep a wide margin. */
const MAX_COMMIT_BYTES = 600 * 1024;
const ENTRY_TYPES = ["normal", "noop", "config"] as const;

interface Meta {
  version: number;
  lastIndex: number;
  snapshotIndex: number;
  snapshotTerm: number;
  snapshotChunks: number;
  /** The snapshot's membership, when it records one. */
  snapshotMembership?: Membership;
}

const EMPTY_META: Meta = {
  version: FORMAT_VERSION,
  lastIndex: 0,
  snapshotIndex: 0,
  snapshotTerm: 0,
  snapshotChunks: 0,
};

/** How one partition's visible range moved in a commit. */
interface Change {
  readonly partition: number;
  readonly before: Meta;
  readonly after: Meta;
}

type Mutation = { key: Deno.KvKey; value: unknown; bytes: number } | {
  key: Deno.KvKey;
  value: undefined;
  bytes: number;
};

/**
 * Options for {@linkcode KvStorage.open}.
 *
 * @example Usage
 * ```ts
 * import type { KvStorageOptions } from "@prkdb/prkdb/storage";
 * const options: KvStorageOptions = { namespace: ["prkdb", "node-1"] };
 * ```
 */
export interface KvStorageOptions {
  /** Key prefix, so several nodes or apps can share one database. Default `["prkdb"]`. */
  namespace?: Deno.KvKey;
}

function chunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) out.push(bytes.subarray(i, i + CHUNK_BYTES));
  return out.length > 0 ? out : [new Uint8Array()];
}

/**
 * Deno KV-backed {@linkcode RaftStorage}.
 *
 * @example Write and reload
 * ```ts
 * import { KvStorage } from "@prkdb/prkdb/storage";
 * const storage = await KvStorage.open(":memory:");
 * await storage.write([{ partition: 1, entries: [{ index: 1, term: 1, type: "noop", data: new Uint8Array() }] }]);
 * console.log((await storage.load(1)).entries[0].index); // 1
 * await storage.close();
 * ```
 */
export class KvStorage implements RaftStorage {
  /** The on-disk format version this build writes. */
  static readonly formatVersion: number = FORMAT_VERSION;
  readonly #kv: Deno.Kv;
  readonly #ns: Deno.KvKey;
  readonly #ownsKv: boolean;
  readonly #path: string;
  readonly #metas = new Map<number, Meta>();
  /** The last commit's number. */
  #seq = 0;
  #highWater: HighWater | undefined;
  /**
   * Group commit: every batch queued while a commit is in flight goes into the next one (or the
   * next few, past Deno KV's limits), in call order. Invisible leftovers (compacted or truncated
   * entries, old snapshots) are collected after a round is durable and before the next one, so a
   * later append is never collected; losing that step to a crash only leaves garbage.
   */
  readonly #group = new GroupCommit<readonly PartitionWrite[]>({
    commit: async (round) => {
      const garbage = await this.#commit(round);
      return () => this.#collect(garbage).catch(() => {});
    },
    toError: (error) =>
      error instanceof StorageError
        ? error
        : new StorageError((error as Error).message, { cause: error }),
    validate: validateBatch,
    name: "KvStorage",
  });

  private constructor(kv: Deno.Kv, ns: Deno.KvKey, ownsKv: boolean, path: string) {
    this.#kv = kv;
    this.#ns = ns;
    this.#ownsKv = ownsKv;
    this.#path = path;
  }

  /**
   * Opens a store in a Deno KV database.
   *
   * @param path A database file path, `":memory:"`, or an open `Deno.Kv` (which stays the caller's to close).
   * @param options The key namespace.
   * @returns The store.
   * @throws {StorageError} When the database cannot be opened.
   */
  static async open(path: string | Deno.Kv, options: KvStorageOptions = {}): Promise<KvStorage> {
    const ns = options.namespace ?? ["prkdb"];
    if (typeof path !== "string") {
      const shared = new KvStorage(path, ns, false, "(shared Deno.Kv)");
      shared.#seq = (await path.get<number>([...ns, "seq"])).value ?? 0;
      return shared;
    }
    const durable = path !== ":memory:";
    const highWaterPath = `${path}.high-water`;
    const acknowledged = durable ? await readHighWater(highWaterPath) : undefined;
    if ((acknowledged ?? 0) > 0 && (await size(path)) === 0) {
      // Checked before SQLite opens it: SQLite would create a new, empty database in its place.
      throw new DataLossError(
        path,
        `the database is gone or empty, but commits through ${acknowledged} were acknowledged (${highWaterPath})`,
      );
    }
    // SQLite folds its -wal file into the database when the last connection closes, dropping
    // every frame after a damaged one. Keep the file as found until the start is verified.
    const keptWal = `${path}-wal.kept`;
    const keep = (acknowledged ?? 0) > 0 && (await size(`${path}-wal`)) > 0 &&
      !(await exists(keptWal));
    if (keep) {
      await Deno.copyFile(`${path}-wal`, keptWal).catch((error) => {
        throw new StorageError(`Cannot keep a copy of ${path}-wal: ${error.message}`, {
          cause: error,
        });
      });
    }
    let kv: Deno.Kv;
    try {
      kv = await Deno.openKv(path);
    } catch (error) {
      throw new StorageError(`Cannot open Deno KV at ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const storage = new KvStorage(kv, ns, true, path);
    try {
      storage.#seq = (await kv.get<number>([...ns, "seq"])).value ?? 0;
      if (!durable) return storage;
      if (acknowledged !== undefined && storage.#seq < acknowledged) {
        throw new DataLossError(
          path,
          `the database holds commits through ${storage.#seq}, but commits through ${acknowledged} were acknowledged (${highWaterPath}); SQLite rolled back (a damaged or missing ${path}-wal file, or an older copy of the database)${
            (await exists(keptWal)) ? `. The SQLite WAL file as found is kept in ${keptWal}` : ""
          }`,
        );
      }
      if (keep) await Deno.remove(keptWal);
      // A new database, one from an older PrkDB, or one written through a shared Deno.Kv handle
      // starts being tracked now. (A node's data directory also requires the file to exist.)
      storage.#highWater = acknowledged === undefined
        ? await HighWater.create(highWaterPath, storage.#seq)
        : await HighWater.open(highWaterPath, acknowledged);
      storage.#highWater.advance(storage.#seq);
      return storage;
    } catch (error) {
      kv.close();
      if (error instanceof StorageError) throw error;
      throw new StorageError(`Cannot read Deno KV at ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Reads a partition's durable state.
   *
   * @param partition The Raft group.
   * @returns Its state.
   */
  async load(partition: number): Promise<PartitionState> {
    try {
      return await this.#load(partition);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      // SQLite's own errors ("database disk image is malformed"), named and typed.
      throw new StorageError(`Cannot read Deno KV at ${this.#path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async #load(partition: number): Promise<PartitionState> {
    const meta = await this.#meta(partition);
    const hs = (await this.#kv.get<HardState>([...this.#ns, "hs", partition])).value ??
      { term: 0, votedFor: 0, commitIndex: 0 };
    let snapshot: Snapshot | undefined;
    if (meta.snapshotIndex > 0) {
      const parts: Uint8Array[] = [];
      for (let k = 0; k < meta.snapshotChunks; k++) {
        const chunk =
          (await this.#kv.get<Uint8Array>([...this.#ns, "snap", partition, meta.snapshotIndex, k]))
            .value;
        if (!chunk) {
          throw new StorageError(
            `${this.#path}: snapshot ${meta.snapshotIndex} of partition ${partition} is missing chunk ${k}`,
          );
        }
        parts.push(chunk);
      }
      snapshot = {
        meta: {
          index: meta.snapshotIndex,
          term: meta.snapshotTerm,
          ...(meta.snapshotMembership && { membership: meta.snapshotMembership }),
        },
        data: concat(parts),
      };
    }
    const entries: Entry[] = [];
    let current: { head: Uint8Array; parts: Uint8Array[]; index: number } | undefined;
    const finish = () => {
      if (current) {
        entries.push(
          decodeEntry(current.index, current.head, current.parts, this.#path, partition),
        );
      }
    };
    const prefix = [...this.#ns, "log", partition];
    for await (
      const { key, value } of this.#kv.list<Uint8Array>({
        start: [...prefix, meta.snapshotIndex + 1],
        end: [...prefix, meta.lastIndex + 1],
      })
    ) {
      const index = key[prefix.length] as number;
      if (key[prefix.length + 1] === 0) {
        finish();
        current = { head: value, parts: [], index };
      } else current?.parts.push(value);
    }
    finish();
    entries.forEach((e, i) => {
      if (e.index !== meta.snapshotIndex + 1 + i) {
        throw new StorageError(
          `${this.#path}: partition ${partition} is missing entry ${meta.snapshotIndex + 1 + i}`,
        );
      }
    });
    if (entries.length !== meta.lastIndex - meta.snapshotIndex) {
      throw new StorageError(
        `${this.#path}: partition ${partition} should hold entries through ${meta.lastIndex}`,
      );
    }
    return { hardState: hs, snapshot, entries };
  }

  /**
   * Durably stores a batch: usually one atomic commit, several when it exceeds Deno KV's limits.
   *
   * @param batch Writes for any partitions.
   */
  write(batch: readonly PartitionWrite[]): Promise<void> {
    return this.#group.submit(batch);
  }

  /** Waits for pending writes and closes the database if this store opened it. */
  async close(): Promise<void> {
    if (!(await this.#group.close())) return;
    try {
      await this.#highWater?.close();
    } finally {
      if (this.#ownsKv) this.#kv.close();
    }
  }

  async #meta(partition: number): Promise<Meta> {
    const cached = this.#metas.get(partition);
    if (cached) return cached;
    const meta = (await this.#kv.get<Meta>([...this.#ns, "meta", partition])).value ?? EMPTY_META;
    if (meta.version > FORMAT_VERSION) {
      throw new FormatVersionError(this.#path, meta.version, FORMAT_VERSION);
    }
    this.#metas.set(partition, meta);
    return meta;
  }

  async #commit(batches: readonly (readonly PartitionWrite[])[]): Promise<Change[]> {
    if (this.#highWater?.failed) throw this.#highWater.failed;
    const mutations: Mutation[] = [];
    const changes = new Map<number, Change>();
    for (const batch of batches) {
      for (const write of batch) {
        const change = changes.get(write.partition);
        const before = change?.after ?? await this.#meta(write.partition);
        const after = this.#plan(write, before, mutations);
        changes.set(write.partition, {
          partition: write.partition,
          before: change?.before ?? before,
          after,
        });
      }
    }
    try {
      for (const commit of pack(mutations)) {
        const op = this.#kv.atomic();
        for (const m of commit) m.value === undefined ? op.delete(m.key) : op.set(m.key, m.value);
        op.set([...this.#ns, "seq"], this.#seq + 1);
        const result = await op.commit();
        if (!result.ok) throw new Error("atomic commit was rejected");
        this.#seq++;
      }
    } catch (error) {
      this.#metas.clear(); // what is durable is unknown now; reread on the next load
      throw new StorageError(
        `Cannot write to Deno KV at ${this.#path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    for (const c of changes.values()) this.#metas.set(c.partition, c.after);
    this.#highWater?.advance(this.#seq);
    return [...changes.values()];
  }

  /** Appends the mutations for one partition's write, in a crash-safe order; returns its new meta. */
  #plan(write: PartitionWrite, meta: Meta, out: Mutation[]): Meta {
    const p = write.partition;
    let next: Meta = { ...meta };
    if (write.snapshot) {
      const parts = chunks(write.snapshot.data);
      parts.forEach((chunk, k) =>
        out.push({
          key: [...this.#ns, "snap", p, write.snapshot!.meta.index, k],
          value: chunk,
          bytes: chunk.length + 256,
        })
      );
      const index = write.snapshot.meta.index;
      next = {
        ...next,
        snapshotIndex: index,
        snapshotTerm: write.snapshot.meta.term,
        snapshotChunks: parts.length,
        snapshotMembership: write.snapshot.meta.membership,
        lastIndex: Math.max(next.lastIndex, index),
      };
      if (!next.snapshotMembership) delete next.snapshotMembership;
    }
    if (write.truncateFrom !== undefined) {
      next.lastIndex = Math.min(next.lastIndex, write.truncateFrom - 1);
    }
    const entries = write.entries ?? [];
    if (entries.length > 0) {
      if (entries[0].index > next.lastIndex + 1) {
        throw new StorageError(
          `Append at index ${entries[0].index} would leave a gap after ${next.lastIndex}`,
        );
      }
      next.lastIndex = Math.min(next.lastIndex, entries[0].index - 1);
    }
    if (write.hardState) {
      out.push({ key: [...this.#ns, "hs", p], value: write.hardState, bytes: 128 });
    }
    // This meta hides every entry about to be overwritten and shows the new snapshot.
    out.push({ key: [...this.#ns, "meta", p], value: { ...next }, bytes: 128 });
    if (entries.length > 0) {
      for (const e of entries) {
        encodeEntry(e).forEach((chunk, k) =>
          out.push({
            key: [...this.#ns, "log", p, e.index, k],
            value: chunk,
            bytes: chunk.length + 256,
          })
        );
      }
      next = { ...next, lastIndex: entries.at(-1)!.index };
      out.push({ key: [...this.#ns, "meta", p], value: { ...next }, bytes: 128 });
    }
    return next;
  }

  async #collect(changes: readonly Change[]): Promise<void> {
    const deletes: Deno.KvKey[] = [];
    for (const { partition: p, before, after } of changes) {
      const log = [...this.#ns, "log", p];
      if (after.snapshotIndex > before.snapshotIndex) {
        for await (
          const { key } of this.#kv.list({
            start: [...log, 0],
            end: [...log, after.snapshotIndex + 1],
          })
        ) deletes.push(key);
        if (before.snapshotIndex > 0) {
          for (let k = 0; k < before.snapshotChunks; k++) {
            deletes.push([...this.#ns, "snap", p, before.snapshotIndex, k]);
          }
        }
      }
      for await (
        const { key } of this.#kv.list({
          start: [...log, after.lastIndex + 1],
          end: [...log, Number.MAX_SAFE_INTEGER],
        })
      ) {
        deletes.push(key);
      }
    }
    for (let i = 0; i < deletes.length; i += MAX_MUTATIONS) {
      const op = this.#kv.atomic();
      for (const key of deletes.slice(i, i + MAX_MUTATIONS)) op.delete(key);
      await op.commit();
    }
  }
}

async function size(path: string): Promise<number> {
  return (await ifExists(path, Deno.stat))?.size ?? 0;
}

async function exists(path: string): Promise<boolean> {
  return (await ifExists(path, Deno.stat)) !== undefined;
}

/** Splits mutations into commits within Deno KV's limits, keeping their order. */
function pack(mutations: readonly Mutation[]): Mutation[][] {
  const commits: Mutation[][] = [];
  let current = new Map<string, Mutation>();
  let bytes = 0;
  const flush = () => {
    if (current.size > 0) commits.push([...current.values()]);
    current = new Map();
    bytes = 0;
  };
  for (const m of mutations) {
    const id = JSON.stringify(m.key);
    if (
      !current.has(id) && (current.size >= MAX_DATA_MUTATIONS || bytes + m.bytes > MAX_COMMIT_BYTES)
    ) {
      flush();
    }
    // A later write of the same key in the same commit replaces the earlier one.
    current.delete(id);
    current.set(id, m);
    bytes += m.bytes;
  }
  flush();
  return commits;
}

function encodeEntry(e: Entry): Uint8Array[] {
  const parts = chunks(e.data);
  const head = new ByteWriter().u64(e.term).u8(ENTRY_TYPES.indexOf(e.type)).u32(e.data.length).u32(
    parts.length,
  )
    .bytes(parts[0]).view().slice();
  return [head, ...parts.slice(1)];
}

function decodeEntry(
  index: number,
  head: Uint8Array,
  rest: Uint8Array[],
  path: string,
  partition: number,
): Entry {
  const r = new ByteReader(head);
  const term = r.u64(), type = ENTRY_TYPES[r.u8()], length = r.u32(), count = r.u32();
  const data = concat([r.bytes(r.remaining), ...rest]);
  if (!type || count !== rest.length + 1 || data.length !== length) {
    throw new StorageError(`${path}: entry ${index} of partition ${partition} is damaged`);
  }
  return { index, term, type, data };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0].slice();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
