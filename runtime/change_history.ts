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
 * A write that applied keeps no change records of its own: its changes are exactly its
 * mutations, so the history holds the entry's bytes (the same object the log holds) and decodes
 * them when a watcher reads the page. Under load every write of every partition passes through
 * here and stays for thousands of entries: long enough for the collector to copy each record
 * out of the young generation and later sweep it from the old one. One reference per write,
 * instead of a record, an array, a change and two byte views, is what keeps that cheap. The
 * latest decoded writes are kept for a while, so that many watchers following the same partition
 * decode each write once between them.
 *
 * @module
 */
import { decodeCommand } from "../partition/command_codec.ts";
import type { Change } from "../partition/kv_state_machine.ts";

/** What the history keeps for an entry: a write's bytes, or the changes of any other entry. */
type Kept = Uint8Array | readonly Change[];

/** How many decoded writes watchers share: the latest ones read. */
const DECODED_KEPT = 1024;

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
 * import { encodeCommand, putCommand } from "@prkdb/prkdb/partition";
 * const h = new ChangeHistory(0);
 * h.record(1, [{ type: "delete", key: new Uint8Array([1]), index: 1 }]);
 * h.recordWrite(2, encodeCommand(putCommand(new Uint8Array([2]), new Uint8Array([7]), 0)));
 * const page = h.after(0, 10, 2);
 * console.log(page.kind === "changes" && page.changes.map((c) => c.type)); // [ "delete", "put" ]
 * ```
 */
export class ChangeHistory {
  readonly #byIndex = new Map<number, Kept>();
  /** Writes decoded for watchers, oldest first: present only while someone reads. */
  readonly #decoded = new Map<number, readonly Change[]>();
  readonly #keepEntries: number;
  readonly #keepBytes: number;
  #bytes = 0;
  /** Entries after this index are covered. */
  #from: number;

  /**
   * Starts a history that covers the entries after `appliedIndex`.
   *
   * @param appliedIndex Where the replica's state machine starts (its snapshot's index).
   * @param keep How much to keep after a compaction: entries (default 4096) and bytes (default
   *   16 MiB: the writes' encoded bytes, and the keys and values of other changes).
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
    this.#byIndex.set(index, changes);
    this.#bytes += sizeOf(changes);
  }

  /**
   * Records a write that applied in full (its checks held, or it had none): its changes are
   * its mutations, read back from `command` when a watcher asks.
   *
   * @param index The entry's index.
   * @param command The entry's bytes: an encoded write command, which must not change later.
   */
  recordWrite(index: number, command: Uint8Array): void {
    this.#byIndex.set(index, command);
    this.#bytes += command.length;
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
    for (const [i, kept] of this.#byIndex) {
      if (this.#bytes <= this.#keepBytes) break;
      this.#byIndex.delete(i);
      this.#decoded.delete(i);
      this.#bytes -= sizeOf(kept);
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
    for (const [i, kept] of this.#byIndex) {
      if (i > through) continue;
      this.#byIndex.delete(i);
      this.#bytes -= sizeOf(kept);
    }
    for (const i of this.#decoded.keys()) if (i <= through) this.#decoded.delete(i);
    if (through > this.#from) this.#from = through;
  }

  /** The changes of the write at `index`, decoded once for every watcher reading them soon. */
  #decode(index: number, command: Uint8Array): readonly Change[] {
    let changes = this.#decoded.get(index);
    if (changes) return changes;
    changes = writeChanges(index, command);
    this.#decoded.set(index, changes);
    if (this.#decoded.size > DECODED_KEPT) {
      this.#decoded.delete(this.#decoded.keys().next().value!);
    }
    return changes;
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
      const kept = this.#byIndex.get(i);
      if (kept instanceof Uint8Array) changes.push(...this.#decode(i, kept));
      else if (kept) changes.push(...kept);
    }
    return { kind: "changes", changes, through: Math.max(afterIndex, through) };
  }
}

/** The bytes an entry's record counts against the budget. */
function sizeOf(kept: Kept): number {
  if (kept instanceof Uint8Array) return kept.length;
  let bytes = 0;
  for (const c of kept) bytes += c.key.length + (c.value?.length ?? 0);
  return bytes;
}

/** The changes of the write at `index`, which applied in full: one per mutation. */
function writeChanges(index: number, command: Uint8Array): Change[] {
  const write = decodeCommand(command);
  if (write.op !== "write") throw new TypeError(`Entry ${index} is not a write`);
  return write.mutations.map((m) =>
    m.type === "set"
      ? { type: "put", key: m.key, value: m.value, index }
      : { type: "delete", key: m.key, index }
  );
}
