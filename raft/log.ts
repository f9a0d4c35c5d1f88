/**
 * The replicated log as one node sees it, with the three pointers the Ready loop needs:
 * `stableIndex` (handed to storage), `commitIndex` (known committed) and `lastApplied` (handed to
 * the state machine). Invariant: `lastApplied <= commitIndex <= lastIndex`.
 *
 * Entries before `firstIndex` have been compacted into a snapshot; only the compaction point
 * (`snapshotIndex`, `snapshotTerm`) is kept, so `term(snapshotIndex)` still answers the
 * AppendEntries consistency check right after a snapshot.
 *
 * @module
 */
import { type Entry, entrySize } from "./entry.ts";
import { RaftError } from "./errors.ts";

/**
 * What a node restores its log from after a restart: exactly what was persisted.
 *
 * @example Usage
 * ```ts
 * import type { LogState } from "@prkdb/prkdb/raft";
 * const empty: LogState = { snapshotIndex: 0, snapshotTerm: 0, entries: [] };
 * ```
 */
export interface LogState {
  /** Index of the last entry covered by the snapshot, `0` when there is none. */
  readonly snapshotIndex: number;
  /** Term of that entry. */
  readonly snapshotTerm: number;
  /** The entries after `snapshotIndex`, contiguous. */
  readonly entries: readonly Entry[];
}

/**
 * The in-memory log of one node.
 *
 * @example Usage
 * ```ts
 * import { RaftLog } from "@prkdb/prkdb/raft";
 * const log = new RaftLog();
 * log.append([{ index: 1, term: 1, type: "noop", data: new Uint8Array() }]);
 * console.log(log.lastIndex, log.lastTerm); // 1 1
 * ```
 */
export class RaftLog {
  #entries: Entry[];
  #snapshotIndex: number;
  #snapshotTerm: number;
  #commitIndex: number;
  #lastApplied: number;
  #stableIndex: number;
  #bytes = 0;
  /** Indexes of the `config` entries in the log, ascending (thesis section 4.1). */
  #configIndexes: number[] = [];

  /**
   * Creates a log, empty or restored from storage.
   *
   * @param state What storage holds; everything in it counts as stable.
   * @param commitIndex The persisted commit index (clamped to the restored entries).
   */
  constructor(
    state: LogState = { snapshotIndex: 0, snapshotTerm: 0, entries: [] },
    commitIndex = 0,
  ) {
    this.#snapshotIndex = state.snapshotIndex;
    this.#snapshotTerm = state.snapshotTerm;
    this.#entries = [...state.entries];
    this.#entries.forEach((e, i) => {
      if (e.index !== state.snapshotIndex + 1 + i) {
        throw new RaftError(`Log state is not contiguous: entry ${e.index} at position ${i}`);
      }
    });
    for (const e of this.#entries) {
      this.#bytes += entrySize(e);
      if (e.type === "config") this.#configIndexes.push(e.index);
    }
    this.#stableIndex = this.lastIndex;
    this.#commitIndex = Math.min(Math.max(commitIndex, state.snapshotIndex), this.lastIndex);
    this.#lastApplied = state.snapshotIndex;
  }

  /** The first index still held as an entry. */
  get firstIndex(): number {
    return this.#snapshotIndex + 1;
  }

  /** The index of the last entry (the snapshot index when the log is empty). */
  get lastIndex(): number {
    return this.#snapshotIndex + this.#entries.length;
  }

  /** The term of the last entry. */
  get lastTerm(): number {
    return this.term(this.lastIndex)!;
  }

  /** The compaction point: the last index covered by a snapshot. */
  get snapshotIndex(): number {
    return this.#snapshotIndex;
  }

  /** The highest index known to be committed. */
  get commitIndex(): number {
    return this.#commitIndex;
  }

  /** The highest index handed to the state machine. */
  get lastApplied(): number {
    return this.#lastApplied;
  }

  /** The bytes the entries after the snapshot take, as counted by `entrySize`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The highest index handed to storage. */
  get stableIndex(): number {
    return this.#stableIndex;
  }

  /**
   * The term of the entry at `index`.
   *
   * @param index A log index.
   * @returns The term, or `undefined` when the index is compacted away or beyond the end.
   */
  term(index: number): number | undefined {
    if (index === this.#snapshotIndex) return this.#snapshotTerm;
    if (index < this.#snapshotIndex || index > this.lastIndex) return undefined;
    return this.#entries[index - this.#snapshotIndex - 1].term;
  }

  /**
   * The entry at `index`.
   *
   * @param index A log index.
   * @returns The entry, or `undefined` when not held.
   */
  entry(index: number): Entry | undefined {
    if (index <= this.#snapshotIndex || index > this.lastIndex) return undefined;
    return this.#entries[index - this.#snapshotIndex - 1];
  }

  /**
   * Whether a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as this one
   * (Raft section 5.4.1): a later last term wins; with equal terms, the longer log wins.
   *
   * @param lastIndex The other log's last index.
   * @param lastTerm The other log's last term.
   * @returns `true` when a vote may be granted on log grounds.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /**
   * Entries in `[lo, hi)`, at most `maxCount` of them and about `maxBytes` (always at least one
   * entry when the range is not empty, so a huge entry still makes progress).
   *
   * @param lo The first index, at least `firstIndex`.
   * @param hi One past the last index.
   * @param maxCount The most entries to return.
   * @param maxBytes The most bytes to return, as counted by `entrySize`.
   * @returns The entries, shared, not copied.
   */
  slice(lo: number, hi: number, maxCount = Infinity, maxBytes = Infinity): Entry[] {
    if (lo < this.firstIndex || hi > this.lastIndex + 1) {
      throw new RaftError(
        `Log slice [${lo}, ${hi}) is out of bounds [${this.firstIndex}, ${this.lastIndex + 1})`,
      );
    }
    const end = Math.min(hi, lo + maxCount);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < end; i++) {
      const e = this.#entries[i - this.#snapshotIndex - 1];
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Appends entries at the end, as the leader does with new proposals.
   *
   * @param entries Entries whose first index is `lastIndex + 1`.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    if (entries[0].index !== this.lastIndex + 1) {
      throw new RaftError(
        `Append at ${entries[0].index} would leave a gap after ${this.lastIndex}`,
      );
    }
    for (const e of entries) {
      this.#entries.push(e);
      this.#bytes += entrySize(e);
      if (e.type === "config") this.#configIndexes.push(e.index);
    }
  }

  /**
   * The follower's side of AppendEntries (Raft section 5.3): if the entry at `prevLogIndex`
   * has `prevLogTerm`, removes any conflicting suffix, appends what is new, and advances the
   * commit index to `min(leaderCommit, index of the last new entry)`.
   *
   * @param prevLogIndex The index before the first entry.
   * @param prevLogTerm The term the leader has at `prevLogIndex`.
   * @param leaderCommit The leader's commit index.
   * @param entries The entries sent.
   * @returns The last index now known to match the leader, or `undefined` if the check failed.
   */
  tryAppend(
    prevLogIndex: number,
    prevLogTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (this.term(prevLogIndex) !== prevLogTerm) return undefined;
    const lastNew = prevLogIndex + entries.length;
    const conflict = this.#findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.#commitIndex) {
        throw new RaftError(
          `Safety violation: entry ${conflict} conflicts with the committed prefix (commit ${this.#commitIndex})`,
        );
      }
      this.#truncateAndAppend(entries.slice(conflict - prevLogIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /**
   * The largest index at most `index` whose term is at most `term`, with that term. Both sides
   * of a rejected AppendEntries use it to skip a whole conflicting term per round trip.
   *
   * @param index Where to start looking (clamped to `lastIndex`).
   * @param term The term bound.
   * @returns The index found and its term (term `0` when it lies in the compacted prefix).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex); i >= 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * Advances the commit index; never moves it back.
   *
   * @param index The new commit index, at most `lastIndex`.
   */
  commitTo(index: number): void {
    if (index <= this.#commitIndex) return;
    if (index > this.lastIndex) {
      throw new RaftError(`Commit index ${index} is beyond the last log index ${this.lastIndex}`);
    }
    this.#commitIndex = index;
  }

  /**
   * Entries handed to storage since the last call to {@linkcode markStable}.
   *
   * @returns The unstable entries.
   */
  unstableEntries(): Entry[] {
    return this.#stableIndex >= this.lastIndex
      ? []
      : this.slice(this.#stableIndex + 1, this.lastIndex + 1);
  }

  /** Marks every entry as handed to storage. */
  markStable(): void {
    this.#stableIndex = this.lastIndex;
  }

  /**
   * Committed entries not yet handed to the state machine.
   *
   * @returns The entries in `(lastApplied, commitIndex]`.
   */
  committedEntries(): Entry[] {
    return this.#commitIndex > this.#lastApplied
      ? this.slice(this.#lastApplied + 1, this.#commitIndex + 1)
      : [];
  }

  /**
   * Records that the state machine has applied through `index`.
   *
   * @param index The last applied index, at most `commitIndex`.
   */
  appliedTo(index: number): void {
    if (index > this.#commitIndex) {
      throw new RaftError(`Applied index ${index} is beyond the commit index ${this.#commitIndex}`);
    }
    this.#lastApplied = Math.max(this.#lastApplied, index);
  }

  #findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (e.index <= this.#snapshotIndex) continue;
      if (this.term(e.index) !== e.term) return e.index;
    }
    return 0;
  }

  #truncateAndAppend(entries: readonly Entry[]): void {
    const from = entries[0].index;
    for (const e of this.#entries.splice(from - this.#snapshotIndex - 1)) {
      this.#bytes -= entrySize(e);
    }
    this.#stableIndex = Math.min(this.#stableIndex, from - 1);
    this.#dropConfigIndexes((i) => i >= from);
    this.append(entries);
  }

  /**
   * Discards the entries through `index`, which a snapshot of the state machine now covers
   * (Raft section 7). Only applied entries can be compacted.
   *
   * @param index The snapshot's last index, at most `lastApplied`.
   */
  compact(index: number): void {
    if (index <= this.#snapshotIndex) return;
    if (index > this.#lastApplied) {
      throw new RaftError(`Cannot compact through ${index}: only ${this.#lastApplied} is applied`);
    }
    const term = this.term(index)!;
    for (const e of this.#entries.splice(0, index - this.#snapshotIndex)) {
      this.#bytes -= entrySize(e);
    }
    this.#dropConfigIndexes((i) => i <= index);
    this.#snapshotIndex = index;
    this.#snapshotTerm = term;
  }

  /**
   * The index of the latest `config` entry at or before `index` (thesis section 4.1), or `0`
   * when the log holds none there: the membership then comes from the snapshot or the
   * configuration.
   *
   * @param index Look at or before this index; default the whole log.
   * @returns The entry's index, or `0`.
   */
  lastConfigIndex(index: number = this.lastIndex): number {
    for (let i = this.#configIndexes.length - 1; i >= 0; i--) {
      if (this.#configIndexes[i] <= index) return this.#configIndexes[i];
    }
    return 0;
  }

  #dropConfigIndexes(drop: (index: number) => boolean): void {
    this.#configIndexes = this.#configIndexes.filter((i) => !drop(i));
  }

  /**
   * Installs a snapshot received from the leader. If the log holds the snapshot's last entry
   * (same index and term), the entries after it are kept; otherwise the whole log is replaced
   * (Raft section 7). The snapshot counts as committed and applied.
   *
   * Storage must drop its entries after the snapshot when the log's own entries after it go,
   * and also whenever the log holds unstable entries: those may be replacing a conflicting
   * suffix that storage still holds, possibly past the snapshot, and the unstable entries that
   * would have overwritten it are now discarded.
   *
   * @param index The snapshot's last index.
   * @param term The term of that entry.
   * @returns Whether stored entries after the snapshot must be dropped.
   */
  restore(index: number, term: number): boolean {
    const keep = this.term(index) === term;
    const dropped = (!keep && this.lastIndex > index) || this.#stableIndex < this.lastIndex;
    if (keep) {
      for (const e of this.#entries.splice(0, index - this.#snapshotIndex)) {
        this.#bytes -= entrySize(e);
      }
      this.#dropConfigIndexes((i) => i <= index);
    } else {
      this.#entries = [];
      this.#bytes = 0;
      this.#configIndexes = [];
    }
    this.#snapshotIndex = index;
    this.#snapshotTerm = term;
    this.#commitIndex = Math.max(this.#commitIndex, index);
    this.#lastApplied = Math.max(this.#lastApplied, index);
    // Storage drops what follows the snapshot whenever `dropped`: every entry kept after it
    // must then be written again, so none of them counts as stable.
    this.#stableIndex = keep && !dropped ? Math.max(this.#stableIndex, index) : index;
    return dropped;
  }
}
