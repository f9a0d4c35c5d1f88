/**
 * What each applied entry changed, for watchers: kept for the entries the Raft log still holds
 * (since the last snapshot) and dropped with them at compaction. A watcher that needs older
 * history gets a clear "compacted" answer naming the oldest position still available, and
 * re-reads the state instead.
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
  readonly #byIndex = new Map<number, readonly Change[]>();
  /** Entries after this index are covered. */
  #from: number;

  /**
   * Starts a history that covers the entries after `appliedIndex`.
   *
   * @param appliedIndex Where the replica's state machine starts (its snapshot's index).
   */
  constructor(appliedIndex: number) {
    this.#from = appliedIndex;
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
    if (changes.length > 0) this.#byIndex.set(index, changes);
  }

  /**
   * Forgets everything through `index`: the log was compacted there, or a snapshot replaced
   * the state.
   *
   * @param index The last index to forget.
   */
  forget(index: number): void {
    if (index <= this.#from) return;
    for (const i of this.#byIndex.keys()) if (i <= index) this.#byIndex.delete(i);
    this.#from = index;
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
      if (c) changes.push(...c);
    }
    return { kind: "changes", changes, through: Math.max(afterIndex, through) };
  }
}
