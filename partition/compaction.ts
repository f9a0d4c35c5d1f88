/**
 * When to compact a partition's log into a snapshot.
 *
 * @module
 */
import type { RaftStatus } from "../raft/node.ts";

/**
 * Compact once either limit is passed by what is applied since the last snapshot.
 *
 * @example Usage
 * ```ts
 * import type { CompactionPolicy } from "@prkdb/prkdb/partition";
 * const policy: CompactionPolicy = { entries: 10_000, bytes: 64 << 20 };
 * ```
 */
export interface CompactionPolicy {
  /** Entries applied past the snapshot. Default 10,000. */
  entries?: number;
  /** Bytes held by the log past the snapshot. Default 64 MiB. */
  bytes?: number;
}

/**
 * Whether a partition should snapshot its state machine and compact now.
 *
 * @param status The partition's Raft status.
 * @param policy The limits.
 * @returns `true` when an applied entry can be compacted and a limit is passed.
 *
 * @example Usage
 * ```ts
 * import { shouldCompact } from "@prkdb/prkdb/partition";
 * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
 * console.log(shouldCompact(node.status(), { entries: 100 })); // false
 * ```
 */
export function shouldCompact(
  status: Pick<RaftStatus, "lastApplied" | "firstIndex" | "logBytes">,
  policy: CompactionPolicy = {},
): boolean {
  const applied = status.lastApplied - status.firstIndex + 1;
  if (applied <= 0) return false;
  return applied >= (policy.entries ?? 10_000) || status.logBytes >= (policy.bytes ?? 64 << 20);
}
