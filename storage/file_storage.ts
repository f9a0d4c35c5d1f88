/**
 * The embedded default backend: one write-ahead log per node, shared by all its partitions, in
 * checksummed segments, plus one snapshot file per partition.
 *
 * ```text
 * <dir>/wal/00000000000000000001.wal   records of every partition, appended in batches
 * <dir>/snapshots/p3-...-4.snap        the latest snapshot of partition 3
 * ```
 *
 * - **Group commit**: batches queued while a write is in flight, from any partition, go out in
 *   the next write with one fdatasync. Throughput comes from batching, not from skipping fsync.
 * - **Recovery**: the segments are replayed in order. A torn tail (the last record of the last
 *   segment, cut by a crash) is truncated with a warning; any other bad record is a
 *   {@linkcode CorruptLogError} naming the file and offset.
 * - **Compaction**: when a segment fills, a new one starts with a checkpoint of every
 *   partition's hard state and snapshot; a segment whose entries are all covered by snapshots
 *   is deleted.
 * - **Fail-stop**: after an I/O error (a full disk, say) every later write fails too, so
 *   nothing is acknowledged on top of a write that may be missing.
 *
 * @module
 */
import { join } from "@std/path";
import { ByteWriter } from "./binary.ts";
import { StorageError } from "./errors.ts";
import { MutablePartitionState, validateBatch } from "./partition_state.ts";
import {
  emptyPartitionState,
  type PartitionState,
  type PartitionWrite,
  type RaftStorage,
} from "./raft_storage.ts";
import { scanSegment } from "./segment_scan.ts";
import {
  readSnapshotFile,
  snapshotFileName,
  syncDirectory,
  writeSnapshotFile,
} from "./snapshot_file.ts";
import { encodeRecord, segmentHeader, type WalRecord } from "./wal_format.ts";
import { GroupCommit } from "./group_commit.ts";

/**
 * Options for {@linkcode FileStorage.open}.
 *
 * @example Usage
 * ```ts
 * import type { FileStorageOptions } from "@prkdb/prkdb/storage";
 * const options: FileStorageOptions = { segmentBytes: 16 << 20, onWarning: () => {} };
 * ```
 */
export interface FileStorageOptions {
  /** Start a new segment once the active one passes this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Receives recovery warnings (a truncated torn tail). Default: standard error. */
  onWarning?: (message: string) => void;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  size: number;
  /** Highest entry index per partition written in this segment. */
  readonly maxIndex: Map<number, number>;
}

const segmentName = (seq: number) => `${String(seq).padStart(20, "0")}.wal`;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ioError(verb: string, path: string, error: unknown): StorageError {
  const code = (error as { code?: string }).code;
  const message = code === "ENOSPC"
    ? `Disk full: cannot ${verb} ${path}; free some space, then restart the node`
    : `Cannot ${verb} ${path}: ${describe(error)}`;
  return new StorageError(message, { cause: error });
}

/**
 * File-backed {@linkcode RaftStorage}.
 *
 * @example Open, write, reopen
 * ```ts
 * import { FileStorage } from "@prkdb/prkdb/storage";
 * const dir = await Deno.makeTempDir();
 * const a = await FileStorage.open(dir);
 * await a.write([{ partition: 0, hardState: { term: 3, votedFor: 2, commitIndex: 0 } }]);
 * await a.close();
 * const b = await FileStorage.open(dir);
 * console.log((await b.load(0)).hardState.term); // 3
 * await b.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileStorage implements RaftStorage {
  readonly #walDir: string;
  readonly #snapshotDir: string;
  readonly #segmentBytes: number;
  readonly #states = new Map<number, MutablePartitionState>();
  readonly #snapshotPaths = new Map<number, string>();
  readonly #segments: Segment[] = [];
  #active!: Deno.FsFile;
  /** Each round of queued batches is one write and one fsync. */
  readonly #group = new GroupCommit<readonly PartitionWrite[]>({
    commit: (round) => this.#commit(round),
    toError: (error) =>
      error instanceof StorageError ? error : new StorageError(describe(error), { cause: error }),
    validate: validateBatch,
    name: "FileStorage",
  });

  private constructor(dir: string, options: FileStorageOptions) {
    this.#walDir = join(dir, "wal");
    this.#snapshotDir = join(dir, "snapshots");
    this.#segmentBytes = options.segmentBytes ?? 64 << 20;
  }

  /**
   * Opens (creating if needed) a data directory and recovers its state.
   *
   * @param dir The node's data directory.
   * @param options Segment size and warning sink.
   * @returns The open store.
   * @throws {StorageError} When the directory cannot be used.
   * @throws {CorruptLogError} When a record before the tail is damaged.
   * @throws {FormatVersionError} When a newer PrkDB wrote the data.
   */
  static async open(dir: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    // deno-lint-ignore no-console -- recovery warnings go to stderr unless the caller routes them
    const warn = options.onWarning ?? ((message: string) => console.warn(message));
    const storage = new FileStorage(dir, options);
    for (const sub of [storage.#walDir, storage.#snapshotDir]) {
      try {
        await Deno.mkdir(sub, { recursive: true });
      } catch (error) {
        throw new StorageError(`Cannot use ${dir} as a data directory: ${describe(error)}`, {
          cause: error,
        });
      }
    }
    await storage.#recover(warn);
    return storage;
  }

  /**
   * Reads a partition's durable state.
   *
   * @param partition The Raft group.
   * @returns Its state, with the snapshot read from its file.
   */
  async load(partition: number): Promise<PartitionState> {
    const state = this.#states.get(partition);
    if (!state) return emptyPartitionState();
    const frozen = state.freeze();
    const path = this.#snapshotPaths.get(partition);
    return path ? { ...frozen, snapshot: await readSnapshotFile(path) } : frozen;
  }

  /**
   * Durably appends a batch; resolves after its fdatasync.
   *
   * @param batch Writes for any partitions.
   */
  write(batch: readonly PartitionWrite[]): Promise<void> {
    return this.#group.submit(batch);
  }

  /** Waits for queued writes, then closes the log. */
  async close(): Promise<void> {
    if (!(await this.#group.close())) return;
    this.#active.close();
  }

  async #commit(batches: readonly (readonly PartitionWrite[])[]): Promise<void> {
    const w = new ByteWriter();
    const snapshotsWritten = new Map<number, string>();
    for (const batch of batches) {
      for (const write of batch) {
        const p = write.partition;
        if (write.hardState) {
          encodeRecord(w, { type: "hardState", partition: p, hardState: write.hardState });
        }
        if (write.snapshot) {
          // The data must be durable before the record that points at it.
          const path = await writeSnapshotFile(this.#snapshotDir, p, write.snapshot)
            .catch((error) => {
              throw ioError("write a snapshot in", this.#snapshotDir, error);
            });
          snapshotsWritten.set(p, path);
          encodeRecord(w, { type: "snapshot", partition: p, meta: write.snapshot.meta });
        }
        if (write.truncateFrom !== undefined) {
          encodeRecord(w, { type: "truncate", partition: p, fromIndex: write.truncateFrom });
        }
        if (write.entries && write.entries.length > 0) {
          encodeRecord(w, { type: "entries", partition: p, entries: [...write.entries] });
        }
      }
    }
    const segment = this.#segments.at(-1)!;
    await this.#append(segment, w.view());
    for (const batch of batches) {
      for (const write of batch) this.#applyToMemory(segment, write);
    }
    for (const [partition, path] of snapshotsWritten) {
      await this.#replaceSnapshotFile(partition, path);
    }
    if (segment.size >= this.#segmentBytes) await this.#rotate();
    if (snapshotsWritten.size > 0) await this.#collectSegments();
  }

  async #append(segment: Segment, bytes: Uint8Array): Promise<void> {
    try {
      let written = 0;
      while (written < bytes.length) written += await this.#active.write(bytes.subarray(written));
      await this.#active.syncData();
    } catch (error) {
      throw ioError("append to", segment.path, error);
    }
    segment.size += bytes.length;
  }

  #applyToMemory(segment: Segment, write: PartitionWrite): void {
    let state = this.#states.get(write.partition);
    if (!state) this.#states.set(write.partition, state = new MutablePartitionState());
    // The snapshot's bytes live in its file; memory keeps only where the log starts.
    state.apply(
      write.snapshot
        ? { ...write, snapshot: { meta: write.snapshot.meta, data: new Uint8Array() } }
        : write,
    );
    const last = write.entries?.at(-1)?.index;
    if (last !== undefined) {
      segment.maxIndex.set(
        write.partition,
        Math.max(segment.maxIndex.get(write.partition) ?? 0, last),
      );
    }
  }

  async #replaceSnapshotFile(partition: number, path: string): Promise<void> {
    const old = this.#snapshotPaths.get(partition);
    this.#snapshotPaths.set(partition, path);
    if (old && old !== path) await Deno.remove(old).catch(() => {});
  }

  /** Starts a new segment that begins with every partition's hard state and snapshot. */
  async #rotate(): Promise<void> {
    const seq = (this.#segments.at(-1)?.seq ?? 0) + 1;
    const segment: Segment = {
      seq,
      path: join(this.#walDir, segmentName(seq)),
      size: 0,
      maxIndex: new Map(),
    };
    const w = new ByteWriter().bytes(segmentHeader());
    for (const [partition, state] of this.#states) {
      encodeRecord(w, { type: "hardState", partition, hardState: state.hardState });
      if (state.snapshot) {
        encodeRecord(w, { type: "snapshot", partition, meta: state.snapshot.meta });
      }
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(segment.path, { create: true, write: true, append: true });
    } catch (error) {
      throw ioError("create", segment.path, error);
    }
    this.#active?.close();
    this.#active = file;
    this.#segments.push(segment);
    await this.#append(segment, w.view());
    await syncDirectory(this.#walDir);
  }

  /** Deletes the oldest segments whose entries every partition has compacted away. */
  async #collectSegments(): Promise<void> {
    while (this.#segments.length > 1) {
      const oldest = this.#segments[0];
      for (const [partition, max] of oldest.maxIndex) {
        if (max > (this.#states.get(partition)?.snapshot?.meta.index ?? 0)) return;
      }
      this.#segments.shift();
      await Deno.remove(oldest.path).catch(() => {});
    }
  }

  async #recover(warn: (message: string) => void): Promise<void> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(this.#walDir)) {
      if (entry.isFile && entry.name.endsWith(".wal")) names.push(entry.name);
    }
    names.sort();
    // Pass 1: read every segment. Pass 2 replays them, starting each partition from its latest
    // snapshot, because segment collection may have removed entries that snapshot covers.
    const scans = [];
    for (let i = 0; i < names.length; i++) {
      const path = join(this.#walDir, names[i]);
      scans.push({
        name: names[i],
        path,
        scan: scanSegment(await Deno.readFile(path), path, i === names.length - 1),
      });
    }
    for (const { scan } of scans) {
      for (const { record } of scan.records) {
        if (record.type === "snapshot") {
          this.#replay({ seq: 0, path: "", size: 0, maxIndex: new Map() }, record);
        }
      }
    }
    for (const { name, path, scan } of scans) {
      const segment: Segment = {
        seq: Number(name.slice(0, 20)),
        path,
        size: scan.validEnd,
        maxIndex: new Map(),
      };
      for (const { record } of scan.records) this.#replay(segment, record);
      this.#segments.push(segment);
      if (scan.torn) {
        warn(
          `Truncating torn tail of ${path} at offset ${scan.torn.offset} (${scan.torn.reason}); it was never acknowledged`,
        );
        if (scan.validEnd === 0) {
          // Not even the header survived: start the segment over.
          this.#segments.pop();
          await Deno.remove(path);
        } else {
          await Deno.truncate(path, scan.validEnd);
        }
      }
    }
    await this.#cleanSnapshotDir();
    const last = this.#segments.at(-1);
    if (last) {
      this.#active = await Deno.open(last.path, { write: true, append: true });
    } else {
      await this.#rotate();
    }
  }

  #replay(segment: Segment, record: WalRecord): void {
    const p = record.partition;
    switch (record.type) {
      case "hardState":
        return this.#applyToMemory(segment, { partition: p, hardState: record.hardState });
      case "snapshot":
        this.#snapshotPaths.set(
          p,
          join(this.#snapshotDir, snapshotFileName(p, record.meta.index, record.meta.term)),
        );
        return this.#applyToMemory(segment, {
          partition: p,
          snapshot: { meta: record.meta, data: new Uint8Array() },
        });
      case "truncate":
        return this.#applyToMemory(segment, { partition: p, truncateFrom: record.fromIndex });
      case "entries":
        return this.#applyToMemory(segment, { partition: p, entries: record.entries });
    }
  }

  /** Removes half-written and superseded snapshot files left by a crash. */
  async #cleanSnapshotDir(): Promise<void> {
    const live = new Set(this.#snapshotPaths.values());
    for await (const entry of Deno.readDir(this.#snapshotDir)) {
      const path = join(this.#snapshotDir, entry.name);
      if (entry.isFile && !live.has(path)) await Deno.remove(path).catch(() => {});
    }
  }
}
