/**
 * The one place that says what a {@linkcode PartitionWrite} does to a partition's state. The
 * memory backend applies writes with it, and the file backend replays its log with it, so the
 * backends cannot disagree about semantics.
 *
 * @module
 */
import type { Entry } from "../raft/entry.ts";
import type { HardState } from "../raft/types.ts";
import { StorageError } from "./errors.ts";
import type { PartitionState, PartitionWrite, Snapshot } from "./raft_storage.ts";

/** A partition's state, mutable, for backends to apply writes to. */
export class MutablePartitionState {
  hardState: HardState = { term: 0, votedFor: 0, commitIndex: 0 };
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot, contiguous. */
  entries: Entry[] = [];

  /** Index of the first entry after the snapshot. */
  get firstIndex(): number {
    return (this.snapshot?.meta.index ?? 0) + 1;
  }

  /** Index of the last entry (or the snapshot's). */
  get lastIndex(): number {
    return this.firstIndex - 1 + this.entries.length;
  }

  /** Applies the hard state part. */
  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  /** Applies the snapshot part: the log prefix through the snapshot's index goes. An older snapshot than the one held changes nothing. */
  setSnapshot(snapshot: Snapshot): void {
    if (this.snapshot && snapshot.meta.index < this.snapshot.meta.index) return;
    const keepFrom = snapshot.meta.index + 1;
    this.entries = this.entries.filter((e) => e.index >= keepFrom);
    if (this.entries.length > 0 && this.entries[0].index !== keepFrom) this.entries = [];
    this.snapshot = snapshot;
  }

  /** Applies the truncation part: entries from `index` on go. */
  truncateFrom(index: number): void {
    const keep = Math.max(0, index - this.firstIndex);
    if (keep < this.entries.length) this.entries.length = keep;
  }

  /** Applies the append part. Entries must follow on from what remains; those a snapshot covers are skipped. */
  append(entries: readonly Entry[]): void {
    const covered = this.firstIndex - 1;
    if (entries.length > 0 && entries[0].index <= covered) {
      entries = entries.filter((e) => e.index > covered);
    }
    if (entries.length === 0) return;
    const first = entries[0].index;
    this.truncateFrom(first);
    if (first !== this.lastIndex + 1) {
      throw new StorageError(`Append at index ${first} would leave a gap after ${this.lastIndex}`);
    }
    for (const e of entries) this.entries.push(e);
  }

  /** Applies a whole write, in the documented order. */
  apply(write: PartitionWrite): void {
    if (write.hardState) this.setHardState(write.hardState);
    if (write.snapshot) this.setSnapshot(write.snapshot);
    if (write.truncateFrom !== undefined) this.truncateFrom(write.truncateFrom);
    if (write.entries) this.append(write.entries);
  }

  /** A copy that later writes do not change. */
  freeze(): PartitionState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}

/**
 * Checks a batch before any of it is stored, so a bad write is refused whole.
 *
 * @param batch The batch.
 * @throws {StorageError} Naming the partition and the problem.
 */
export function validateBatch(batch: readonly PartitionWrite[]): void {
  for (const w of batch) {
    if (!Number.isSafeInteger(w.partition) || w.partition < 0) {
      throw new StorageError(`Partition must be a non-negative integer, got ${w.partition}`);
    }
    const entries = w.entries ?? [];
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].index !== entries[i - 1].index + 1) {
        throw new StorageError(
          `Partition ${w.partition}: entries are not contiguous at index ${entries[i].index}`,
        );
      }
    }
    if (entries.length > 0 && entries[0].index < 1) {
      throw new StorageError(
        `Partition ${w.partition}: entry index must be at least 1, got ${entries[0].index}`,
      );
    }
  }
}
