/**
 * The batch of work the core hands to its runtime.
 *
 * @module
 */
import type { Entry } from "./entry.ts";
import type { RaftEvent } from "./events.ts";
import type { Message } from "./message.ts";
import type { HardState, ReadState, Snapshot } from "./types.ts";

/**
 * Everything the runtime must do, in this order (the numbered contract):
 *
 * 1. **Persist**, durably and in this order: `hardState`, then `snapshot` (which replaces the log
 *    prefix it covers), then drop entries from `truncateFrom` on, then `entries` (which may start
 *    below the end of the stored log: storage replaces everything from `entries[0].index` on).
 *    These map one-to-one onto a storage `PartitionWrite`.
 * 2. **Send** `messages`. Only after step 1: a vote or an acknowledgement is a promise about
 *    what is on disk (Raft section 5, figure 2: "respond to RPCs only after updating stable
 *    storage").
 * 3. **Apply**: first, if `snapshot` covers more than the state machine has applied, restore
 *    the state machine from it; then apply `committedEntries`, in order.
 * 4. **Serve** each of `readStates` once the state machine has applied its index; fail each
 *    read in `droppedReads`.
 * 5. **Record** `events` (metrics, logs).
 * 6. Call `advance(ready)`.
 *
 * @example Usage
 * ```ts
 * import type { Ready } from "@prkdb/prkdb/raft";
 * function nothingToDo(rd: Ready): boolean {
 *   return rd.entries.length === 0 && rd.messages.length === 0 && rd.committedEntries.length === 0;
 * }
 * ```
 */
export interface Ready {
  /** The hard state to persist, when it changed. */
  readonly hardState: HardState | undefined;
  /** A snapshot to persist (local compaction, or one installed from the leader). */
  readonly snapshot: Snapshot | undefined;
  /** Drop stored entries from this index on (a snapshot from the leader replaced the log). */
  readonly truncateFrom: number | undefined;
  /** Entries to persist before sending. */
  readonly entries: readonly Entry[];
  /** Messages to send after persisting. */
  readonly messages: readonly Message[];
  /** Entries to apply to the state machine. */
  readonly committedEntries: readonly Entry[];
  /** Linearizable reads that became safe to serve. */
  readonly readStates: readonly ReadState[];
  /** Contexts of local reads that can no longer be served (leadership was lost). */
  readonly droppedReads: readonly number[];
  /** What happened, for telemetry. */
  readonly events: readonly RaftEvent[];
}
