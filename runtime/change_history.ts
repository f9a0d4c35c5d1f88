/**
 * What each applied entry changed, for watchers. It is kept apart from the Raft log: when the
 * log is compacted, the latest changes stay (up to a count and a byte budget), so a watcher
 * that was a little behind at that moment goes on undisturbed. A snapshot from the leader
 * replaces the state without its history, and then nothing before it is available. A watcher
 * that needs older history gets a clear "compacted" answer naming the oldest position still
 * available, and re-reads the state instead.
 *
 * Nothing is buffered per watcher: every watcher reads this one history, at its own pace.
 *
 * @module
 */
import type { Change } from "../partition/kv_state_machine.ts";

/**
 * A page of changes, or the news that the history needed is gone.
 *
 * @example Usage
 * ```ts
 * import type { ChangesPage } from "@prkdb/prkdb/runtime";
 * const none: ChangesPage = { kind: "changes", changes: [], through: 7 };
 * ```
 */
export type ChangesPage =
  | {
    readonly kind: "changes";
    /** The changes, in log order. */
    readonly changes: readonly Change[];
    /** The index the page reaches: the next page starts after it. */
    readonly through: number;
  }
  | {
    readonly kind: "compacted";
    /** The oldest index whose changes are still available (the page must start at or after it). */
    readonly oldest: number;
  };

/**
 * The changes of a replica's applied entries since its last snapshot.
 *
 * @example Usage
 * ```ts
 * import { ChangeHistory } from "@prkdb/prkdb/runtime";
 * const h = new ChangeHistory(0);
 * h.record(1, [{ type: "delete", key: new Uint8Array([1]), index: 1 }]);
 * const page = h.after(0, 10, 1);
 * console.log(page.kind === "changes" && page.changes.length); // 1
 * ```
 */
export class ChangeHistory {
  readonly #byIndex = new Map<number, { changes: readonly Change[]; bytes: number }>();
  readonly #keepEntries: number;
  readonly #keepBytes: number;
  #bytes = 0;
  /** Entries after this index are covered. */
  #from: number;

  /**
   * Starts a history that covers the entries after `appliedIndex`.
   *
   * @param appliedIndex Where the replica's state machine starts (its snapshot's index).
   * @param keep How much to keep after a compaction: entries (default 4096) and bytes of keys
   *   and values (default 16 MiB).
   */
  constructor(appliedIndex: number, keep: { entries?: number; bytes?: number } = {}) {
    this.#from = appliedIndex;
    this.#keepEntries = keep.entries ?? 4096;
    this.#keepBytes = keep.bytes ?? 16 * 1024 * 1024;
  }

  /** The oldest index whose changes a watcher can still read. */
  get oldest(): number {
    return this.#from + 1;
  }

  /**
   * Records what an applied entry changed (nothing, for most non-writes).
   *
   * @param index The entry's index.
   * @param changes Its changes.
   */
  record(index: number, changes: readonly Change[]): void {
    if (changes.length === 0) return;
    let bytes = 0;
    for (const c of changes) bytes += c.key.length + (c.value?.length ?? 0);
    this.#byIndex.set(index, { changes, bytes });
    this.#bytes += bytes;
  }

  /**
   * The log was compacted through `index`: keep only the latest changes, within the budget.
   *
   * @param index The compaction point.
   * @param appliedIndex How far the replica has applied.
   */
  compacted(index: number, appliedIndex: number): void {
    let from = Math.max(this.#from, Math.min(index, appliedIndex - this.#keepEntries));
    this.#drop(from);
    // Over the byte budget: drop the oldest until within it.
    for (const [i, c] of this.#byIndex) {
      if (this.#bytes <= this.#keepBytes) break;
      this.#byIndex.delete(i);
      this.#bytes -= c.bytes;
      from = Math.max(from, i);
    }
    this.#from = from;
  }

  /**
   * A snapshot replaced the state through `index`: nothing before it can be followed.
   *
   * @param index The snapshot's index.
   */
  reset(index: number): void {
    this.#drop(index);
    this.#from = Math.max(this.#from, index);
  }

  #drop(through: number): void {
    for (const [i, c] of this.#byIndex) {
      if (i > through) continue;
      this.#byIndex.delete(i);
      this.#bytes -= c.bytes;
    }
    if (through > this.#from) this.#from = through;
  }

  /**
   * The changes after `afterIndex`, up to `appliedIndex`, at most `limit` entries' worth.
   *
   * @param afterIndex The watcher's position.
   * @param limit The most entries to cover.
   * @param appliedIndex How far the replica has applied.
   * @returns The page, or `compacted` when the watcher is behind the history.
   */
  after(afterIndex: number, limit: number, appliedIndex: number): ChangesPage {
    if (afterIndex < this.#from) return { kind: "compacted", oldest: this.oldest };
    const through = Math.min(appliedIndex, afterIndex + limit);
    const changes: Change[] = [];
    for (let i = afterIndex + 1; i <= through; i++) {
      const c = this.#byIndex.get(i);
      if (c) changes.push(...c.changes);
    }
    return { kind: "changes", changes, through: Math.max(afterIndex, through) };
  }
}
