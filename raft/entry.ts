/**
 * Log entries: the unit Raft replicates.
 *
 * @module
 */

/**
 * What an entry carries. `normal` entries carry application commands; `noop` entries are
 * appended by each new leader so it can commit an entry of its own term (Raft section 5.4.2),
 * which also makes ReadIndex safe (section 6.4 of the thesis). `config` entries carry a new
 * `Membership` (thesis section 4.1); a node uses the latest one in its log.
 *
 * @example Usage
 * ```ts
 * import type { EntryType } from "@prkdb/prkdb/raft";
 * const t: EntryType = "noop";
 * ```
 */
export type EntryType = "normal" | "noop" | "config";

/**
 * One log entry. Entries are immutable once created; the same object may be shared between the
 * log and outgoing messages.
 *
 * @example Usage
 * ```ts
 * import type { Entry } from "@prkdb/prkdb/raft";
 * const e: Entry = { index: 1, term: 1, type: "normal", data: new TextEncoder().encode("x") };
 * ```
 */
export interface Entry {
  /** Position in the log, starting at 1. */
  readonly index: number;
  /** The leader's term when the entry was created. */
  readonly term: number;
  /** What the entry carries. */
  readonly type: EntryType;
  /** The command, opaque to Raft (empty for `noop`). */
  readonly data: Uint8Array;
}

/** Fixed per-entry overhead counted by {@linkcode entrySize}: index, term and type. */
export const ENTRY_OVERHEAD_BYTES = 24;

/**
 * The size an entry counts for when batching messages and bounding memory.
 *
 * @param entry The entry to measure.
 * @returns Its payload length plus a fixed overhead.
 *
 * @example Usage
 * ```ts
 * import { entrySize } from "@prkdb/prkdb/raft";
 * entrySize({ index: 1, term: 1, type: "noop", data: new Uint8Array() }); // 24
 * ```
 */
export function entrySize(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}
