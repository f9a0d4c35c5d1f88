/**
 * The storage contract every backend fulfils: what a node must persist for each of its
 * partitions (Raft groups) before it may speak, and what it recovers after a crash.
 *
 * One storage instance serves a whole node, so a batch holding writes for many partitions costs
 * one fsync (group commit).
 *
 * @module
 */
import type { Entry } from "../raft/entry.ts";
import type { HardState, Snapshot } from "../raft/types.ts";

export type { Snapshot, SnapshotMeta } from "../raft/types.ts";

/**
 * Everything a partition has durably stored: what a restarted node recovers from.
 *
 * @example Usage
 * ```ts
 * import type { PartitionState } from "@prkdb/prkdb/storage";
 * const empty: PartitionState = {
 *   hardState: { term: 0, votedFor: 0, commitIndex: 0 }, snapshot: undefined, entries: [],
 * };
 * ```
 */
export interface PartitionState {
  /** The latest hard state (term, vote, commit index). */
  readonly hardState: HardState;
  /** The latest snapshot, if any. */
  readonly snapshot: Snapshot | undefined;
  /** The entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
}

/**
 * One partition's part of a batch. The parts apply in this order, which is also the order a
 * crash can cut them in (a torn write loses a suffix, never a middle):
 *
 * 1. `hardState` replaces the hard state;
 * 2. `snapshot` replaces the log prefix through `snapshot.meta.index` (later entries stay);
 * 3. every entry at `truncateFrom` or later is removed (default: `entries[0].index`);
 * 4. `entries` are appended, contiguous with what remains.
 *
 * @example Usage
 * ```ts
 * import type { PartitionWrite } from "@prkdb/prkdb/storage";
 * const w: PartitionWrite = { partition: 0, hardState: { term: 1, votedFor: 1, commitIndex: 0 } };
 * ```
 */
export interface PartitionWrite {
  /** The Raft group. */
  readonly partition: number;
  /** The new hard state. */
  readonly hardState?: HardState;
  /** A snapshot to store (compaction, or one received from the leader). */
  readonly snapshot?: Snapshot;
  /** Remove entries from this index on (for a snapshot that conflicts with the log). */
  readonly truncateFrom?: number;
  /** Entries to append, replacing any from `entries[0].index` on. */
  readonly entries?: readonly Entry[];
}

/**
 * A node's durable Raft storage.
 *
 * @example Write, then recover after a restart
 * ```ts
 * import { MemoryStorage } from "@prkdb/prkdb/storage";
 * const storage = new MemoryStorage();
 * await storage.write([{ partition: 0, entries: [{ index: 1, term: 1, type: "noop", data: new Uint8Array() }] }]);
 * console.log((await storage.load(0)).entries.length); // 1
 * ```
 */
export interface RaftStorage {
  /**
   * Reads a partition's durable state; a partition never written is empty.
   *
   * @param partition The Raft group.
   * @returns Its state.
   */
  load(partition: number): Promise<PartitionState>;
  /**
   * Durably stores a batch. It resolves only once every part is on stable storage, so the
   * caller may then send the messages that depend on it. Batches apply in call order.
   *
   * @param batch Writes for any number of partitions.
   */
  write(batch: readonly PartitionWrite[]): Promise<void>;
  /** Finishes pending writes and releases files or handles. */
  close(): Promise<void>;
}

/**
 * The empty state of a partition never written.
 *
 * @returns A fresh state.
 *
 * @example Usage
 * ```ts
 * import { emptyPartitionState } from "@prkdb/prkdb/storage";
 * console.log(emptyPartitionState().entries.length); // 0
 * ```
 */
export function emptyPartitionState(): PartitionState {
  return { hardState: { term: 0, votedFor: 0, commitIndex: 0 }, snapshot: undefined, entries: [] };
}
