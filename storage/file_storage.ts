/**
 * The embedded default backend: one write-ahead log per node, shared by all its partitions, in
 * checksummed segments, plus one snapshot file per partition.
 *
 * ```text
 * <dir>/wal/00000000000000000001.wal   records of every partition, appended in batches
 * <dir>/snapshots/p3-...-4.snap        the latest snapshot of partition 3
 * <dir>/high-water                     a last acknowledged record's number (see below)
 * ```
 *
 * - **Group commit**: batches queued while a write is in flight, from any partition, go out in
 *   the next write with one fdatasync. Throughput comes from batching, not from skipping fsync.
 * - **What was acknowledged** is kept where losing the log's tail cannot take it: every write
 *   updates the active segment's header mark in place (wal_format.ts), naming the records of the
 *   writes before it, in the same fdatasync as its own records. The high-water file is brought
 *   up to date at every new segment (so a lost newest segment is caught), and otherwise at most
 *   once a second: an fdatasync of its own per write would cost more than the write's.
 * - **Recovery**: the segments are checked (wal_recovery.ts) and replayed in order, and every
 *   snapshot they point at is read and verified. A torn tail (damage at the end of the newest
 *   segment with no valid record after it, holding nothing acknowledged) is truncated with a
 *   warning, but only after all of that succeeded; any other damage is a
 *   {@linkcode CorruptLogError} naming the file and offset, and a log that ends before the
 *   high-water record is a {@linkcode DataLossError}. A refused start changes nothing on disk.
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
import { CorruptLogError, DataLossError, FormatVersionError, StorageError } from "./errors.ts";
import { HighWater, readHighWater } from "./high_water.ts";
import { MutablePartitionState, validateBatch } from "./partition_state.ts";
import {
  emptyPartitionState,
  type PartitionState,
  type PartitionWrite,
  type RaftStorage,
} from "./raft_storage.ts";
import { listSegments, scanLog, type ScannedLog, segmentName } from "./wal_recovery.ts";
import {
  readSnapshotFile,
  snapshotFileName,
  syncDirectory,
  writeSnapshotFile,
} from "./snapshot_file.ts";
import {
  encodeRecord,
  MARK_OFFSET,
  OLDEST_SEGMENT_VERSION,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
  segmentHeader,
  type WalRecord,
} from "./wal_format.ts";
import { encodeSlot, SLOT_BYTES } from "./mark_slots.ts";
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
  /** Where its records end. */
  size: number;
  /** The file's length: its records, then zeros preallocated for the next ones. */
  allocated: number;
  /** Highest entry index per partition written in this segment. */
  readonly maxIndex: Map<number, number>;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The least time between two high-water updates between segments. */
const HIGH_WATER_INTERVAL_MS = 1000;
/**
 * How far ahead of its records a segment file is made longer (at most a segment's size). A write
 * that lands inside the file leaves its size as it was, so its fdatasync has no size to record:
 * measured here, that made an fdatasync about a third cheaper, in time and in CPU, for writes of
 * 0.3 to 6 KB. The space is a hole until written (it costs no disk), and recovery reads zeros
 * after the last record as space not written yet.
 */
const PREALLOCATE_BYTES = 1 << 20;

/** Refuses a segment written in a format this build does not read (from its first 8 bytes). */
async function checkFormat(path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  if (bytes.length >= 8 && SEGMENT_MAGIC.every((b, i) => bytes[i] === b)) {
    const version = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
    if (version > SEGMENT_VERSION || version < OLDEST_SEGMENT_VERSION) {
      throw new FormatVersionError(path, version, SEGMENT_VERSION, OLDEST_SEGMENT_VERSION);
    }
  }
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
  /** The on-disk format version this build writes (the log segments' version). */
  static readonly formatVersion: number = SEGMENT_VERSION;
  readonly #walDir: string;
  readonly #snapshotDir: string;
  readonly #highWaterPath: string;
  #highWater!: HighWater;
  /** The sequence number of the next record. */
  #nextSeq = 1;
  readonly #segmentBytes: number;
  readonly #states = new Map<number, MutablePartitionState>();
  readonly #snapshotPaths = new Map<number, string>();
  readonly #segments: Segment[] = [];
  /** The active segment, written at known offsets: records at its end, the mark in its header. */
  #active!: Deno.FsFile;
  /** The mark's slot the next write updates (they alternate). */
  #markSlot = 0;
  /** The last record known durable. */
  #durable = 0;
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
    this.#highWaterPath = join(dir, "high-water");
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
    let acknowledged: number | undefined;
    let names: string[] = [];
    try {
      await Deno.mkdir(dir, { recursive: true });
      acknowledged = await readHighWater(storage.#highWaterPath);
      names = await listSegments(storage.#walDir).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return [];
        throw error;
      });
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw new StorageError(`Cannot use ${dir} as a data directory: ${describe(error)}`, {
        cause: error,
      });
    }
    if (acknowledged === undefined && names.length > 0) {
      // A log from before the high-water record existed: say so, not that a file is missing.
      await checkFormat(join(storage.#walDir, names[0]));
      throw new DataLossError(
        storage.#highWaterPath,
        "the high-water file is gone while the log is there, so what was acknowledged cannot be checked",
      );
    }
    if (names.length === 0 && (acknowledged ?? 0) > 0) {
      throw new DataLossError(
        storage.#walDir,
        `there is no log segment, but records through ${acknowledged} were acknowledged (${storage.#highWaterPath})`,
      );
    }
    if (names.length === 0) {
      // A new store (or one whose creation was cut short before anything was written).
      for (const sub of [storage.#walDir, storage.#snapshotDir]) {
        await Deno.mkdir(sub, { recursive: true });
      }
      storage.#highWater = acknowledged === undefined
        ? await HighWater.create(storage.#highWaterPath, 0, HIGH_WATER_INTERVAL_MS)
        : await HighWater.open(storage.#highWaterPath, 0, HIGH_WATER_INTERVAL_MS);
      await storage.#rotate();
      return storage;
    }
    const log = await scanLog(storage.#walDir, names, acknowledged!, storage.#highWaterPath);
    await storage.#recover(log, acknowledged!, warn);
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
    await this.#highWater.close();
  }

  async #commit(batches: readonly (readonly PartitionWrite[])[]): Promise<void> {
    if (this.#highWater.failed) throw this.#highWater.failed;
    const w = new ByteWriter();
    const snapshotsWritten = new Map<number, string>();
    for (const batch of batches) {
      for (const write of batch) {
        const p = write.partition;
        if (write.hardState) {
          encodeRecord(
            w,
            { type: "hardState", partition: p, hardState: write.hardState },
            this.#nextSeq++,
          );
        }
        if (write.snapshot) {
          // The data must be durable before the record that points at it.
          const path = await writeSnapshotFile(this.#snapshotDir, p, write.snapshot)
            .catch((error) => {
              throw ioError("write a snapshot in", this.#snapshotDir, error);
            });
          snapshotsWritten.set(p, path);
          encodeRecord(
            w,
            { type: "snapshot", partition: p, meta: write.snapshot.meta },
            this.#nextSeq++,
          );
        }
        if (write.truncateFrom !== undefined) {
          encodeRecord(
            w,
            { type: "truncate", partition: p, fromIndex: write.truncateFrom },
            this.#nextSeq++,
          );
        }
        if (write.entries && write.entries.length > 0) {
          encodeRecord(
            w,
            { type: "entries", partition: p, entries: [...write.entries] },
            this.#nextSeq++,
          );
        }
      }
    }
    const segment = this.#segments.at(-1)!;
    await this.#append(segment, w.view(), true);
    for (const batch of batches) {
      for (const write of batch) this.#applyToMemory(segment, write);
    }
    for (const [partition, path] of snapshotsWritten) {
      await this.#replaceSnapshotFile(partition, path);
    }
    if (segment.size >= this.#segmentBytes) await this.#rotate();
    if (snapshotsWritten.size > 0) await this.#collectSegments();
  }

  /**
   * Appends records to the active segment and makes them durable. With `mark`, one slot of the
   * segment's acknowledged mark is first updated to name the records durable so far: the same
   * fdatasync carries it (an fdatasync flushes the whole file), and a crash that tears this write
   * leaves the other slot.
   */
  async #append(segment: Segment, bytes: Uint8Array, mark: boolean): Promise<void> {
    try {
      // The writes only copy into the page cache: done in place, they cost less than handing
      // them to a blocking thread. The fdatasync waits for the disk, so it runs off the event loop.
      if (mark) {
        this.#writeAt(
          MARK_OFFSET + this.#markSlot * SLOT_BYTES,
          encodeSlot(this.#durable, this.#markSlot),
        );
        this.#markSlot ^= 1;
      }
      const end = segment.size + bytes.length;
      if (end > segment.allocated) {
        // Best effort: a file that cannot be made longer (a device) still takes the write.
        try {
          const allocated = end + Math.min(PREALLOCATE_BYTES, this.#segmentBytes);
          this.#active.truncateSync(allocated);
          segment.allocated = allocated;
        } catch {
          // The write below says what is wrong, if anything is; this file is not tried again.
          segment.allocated = Infinity;
        }
      }
      this.#writeAt(segment.size, bytes);
      await this.#active.syncData();
    } catch (error) {
      throw ioError("append to", segment.path, error);
    }
    segment.size += bytes.length;
    this.#durable = this.#nextSeq - 1;
    this.#highWater.advance(this.#durable);
  }

  /** Writes all of `bytes` to the active segment at `offset` (into the page cache). */
  #writeAt(offset: number, bytes: Uint8Array): void {
    this.#active.seekSync(offset, Deno.SeekMode.Start);
    let written = 0;
    while (written < bytes.length) written += this.#active.writeSync(bytes.subarray(written));
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
      allocated: 0,
      maxIndex: new Map(),
    };
    const w = new ByteWriter().bytes(segmentHeader(this.#nextSeq, this.#durable));
    for (const [partition, state] of this.#states) {
      // A checkpoint: the next segment alone says where every partition stands.
      const checkpoint: WalRecord[] = [{
        type: "hardState",
        partition,
        hardState: state.hardState,
      }];
      if (state.snapshot) {
        checkpoint.push({ type: "snapshot", partition, meta: state.snapshot.meta });
      }
      checkpoint.push({ type: "bounds", partition, lastIndex: state.lastIndex });
      for (const record of checkpoint) encodeRecord(w, record, this.#nextSeq++);
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(segment.path, { create: true, write: true });
    } catch (error) {
      throw ioError("create", segment.path, error);
    }
    this.#active?.close();
    this.#active = file;
    this.#markSlot = 0;
    this.#segments.push(segment);
    // The header's mark already names every durable record.
    await this.#append(segment, w.view(), false);
    await syncDirectory(this.#walDir);
    // Were this segment lost whole, the previous one's mark would not tell: the high-water
    // record names the checkpoint, before anything is written after it.
    await this.#highWater.sync(this.#durable);
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

  async #recover(log: ScannedLog, highWater: number, warn: (message: string) => void) {
    // Replay, starting each partition from its latest snapshot, because segment collection may
    // have removed entries that snapshot covers.
    const scratch: Segment = { seq: 0, path: "", size: 0, allocated: 0, maxIndex: new Map() };
    for (const { scan } of log.segments) {
      for (const { record } of scan.records) {
        if (record.type === "snapshot") this.#replay(scratch, record);
      }
    }
    // The partitions known before the newest segment, and those its checkpoint covers.
    const newest = log.segments.at(-1)!;
    let before: number[] = [];
    const checkpointed = new Set<number>();
    for (const { seq, path, scan } of log.segments) {
      const isNewest = scan === newest.scan;
      if (isNewest) before = [...this.#states.keys()];
      if (scan.torn?.offset === 0) continue; // a segment whose creation was cut short
      const segment: Segment = {
        seq,
        path,
        size: scan.validEnd,
        allocated: scan.torn ? scan.validEnd : scan.length,
        maxIndex: new Map(),
      };
      for (const { record, offset } of scan.records) {
        if (isNewest && record.type === "bounds") checkpointed.add(record.partition);
        try {
          this.#replay(segment, record);
        } catch (error) {
          if (error instanceof DataLossError) throw error;
          throw new CorruptLogError(path, offset, `record does not apply: ${describe(error)}`);
        }
      }
      this.#segments.push(segment);
    }
    for (const [partition, path] of this.#snapshotPaths) {
      await this.#verifySnapshot(partition, path);
    }
    // Everything loaded and verified: only now may anything on disk change.
    if (newest.scan.torn) {
      const { offset, reason } = newest.scan.torn;
      warn(
        `Truncating torn tail of ${newest.path} at offset ${offset} (${reason}); it was never acknowledged`,
      );
      if (offset === 0) await Deno.remove(newest.path);
      else await Deno.truncate(newest.path, offset);
    }
    await this.#cleanSnapshotDir();
    this.#nextSeq = log.lastSeq + 1;
    const last = this.#segments.at(-1);
    if (last) {
      // What was read may have been only in the page cache (a process that died between a write
      // and its fdatasync): make it durable before anything names it so, or writes after it.
      this.#active = await Deno.open(last.path, { write: true });
      await this.#active.syncData();
      await syncDirectory(this.#walDir);
    }
    this.#durable = log.lastSeq;
    this.#highWater = await HighWater.open(this.#highWaterPath, highWater, HIGH_WATER_INTERVAL_MS);
    this.#highWater.advance(this.#durable);
    const scan = newest.scan;
    // Go on in the newest segment only if it has a mark and a whole checkpoint: a crash during
    // a rotation can leave the checkpoint cut short, and the older segments, which then hold the
    // only copy of some partitions' state, must not be collected on the strength of it.
    const whole = before.every((p) => checkpointed.has(p));
    if (last && scan.version === SEGMENT_VERSION && scan.mark && whole) {
      // The next update goes to the other slot: the one holding the mark stays until it is done.
      this.#markSlot = scan.mark.slot ^ 1;
    } else {
      // No segment, one in an older format (without a mark), or a cut checkpoint: a new one.
      await this.#rotate();
    }
  }

  /** Reads a snapshot file the log points at, so a start never finds it missing later. */
  async #verifySnapshot(partition: number, path: string): Promise<void> {
    const expected = this.#states.get(partition)?.snapshot?.meta;
    let found;
    try {
      found = (await readSnapshotFile(path)).meta;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new DataLossError(
          path,
          `the log points at partition ${partition}'s snapshot, which is gone`,
        );
      }
      throw error;
    }
    if (found.index !== expected?.index || found.term !== expected?.term) {
      throw new CorruptLogError(
        path,
        0,
        `holds snapshot ${found.index}@${found.term}, but the log points at ${expected?.index}@${expected?.term}`,
      );
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
      case "bounds": {
        // A checkpoint said the log reached lastIndex; less means an older segment is gone.
        const lastIndex = this.#states.get(p)?.lastIndex ?? 0;
        if (lastIndex < record.lastIndex) {
          throw new DataLossError(
            segment.path,
            `partition ${p}'s log reached index ${record.lastIndex} before this segment, but only ${lastIndex} remains: an older segment is missing`,
          );
        }
        return;
      }
    }
  }

  /**
   * Removes half-written and superseded snapshot files left by a crash. It runs only after
   * recovery verified the log and every snapshot it points at; files it did not write stay.
   */
  async #cleanSnapshotDir(): Promise<void> {
    const live = new Set(this.#snapshotPaths.values());
    await Deno.mkdir(this.#snapshotDir, { recursive: true });
    for await (const entry of Deno.readDir(this.#snapshotDir)) {
      const path = join(this.#snapshotDir, entry.name);
      const ours = /^p\d+-\d{16}-\d+\.snap(\.tmp)?$/.test(entry.name);
      if (entry.isFile && ours && !live.has(path)) await Deno.remove(path).catch(() => {});
    }
  }
}
