/**
 * The three ways to read, and the one place that parses them.
 *
 * @module
 */

/**
 * How a read is served.
 *
 * - `linearizable`: at the leader, confirmed by a ReadIndex heartbeat round (Raft
 *   dissertation, section 6.4). Never stale.
 * - `follower`: at any replica, which asks the leader for a read index and waits until it has
 *   applied it. Linearizable too, and it spreads reads over the replicas.
 * - `stale`: from the local replica's state, which may lag behind. Fastest; never blocks.
 *
 * @example Usage
 * ```ts
 * import type { ReadMode } from "@prkdb/prkdb/partition";
 * const mode: ReadMode = "follower";
 * ```
 */
export type ReadMode = "linearizable" | "follower" | "stale";

/** Every read mode, in order of strength. */
export const READ_MODES: readonly ReadMode[] = ["linearizable", "follower", "stale"];

/**
 * Parses a read mode, refusing anything else: an unknown mode is never read as another one.
 *
 * @param value The text, for example from a flag or a request.
 * @returns The read mode.
 * @throws {RangeError} Naming the modes that exist.
 *
 * @example Usage
 * ```ts
 * import { parseReadMode } from "@prkdb/prkdb/partition";
 * console.log(parseReadMode("stale")); // "stale"
 * ```
 */
export function parseReadMode(value: string): ReadMode {
  if ((READ_MODES as readonly string[]).includes(value)) return value as ReadMode;
  throw new RangeError(
    `Unknown read mode "${value}": use ${READ_MODES.map((m) => `"${m}"`).join(", ")}`,
  );
}
