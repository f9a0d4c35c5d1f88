/**
 * Reads at a replica in the three modes: a linearizable read waits for a ReadIndex round
 * confirmed by a quorum (at the leader); a follower read asks the leader for the read index
 * and waits to apply it; a stale read answers from local state at once. Once cleared, a read
 * can fetch one key, several, or a range in key order.
 *
 * Expiry is judged at the later of the log's time and this node's clock, so a read never
 * returns a key whose time has passed, even before the leader removed it through the log.
 *
 * @module
 */
import { WrongNodeError } from "../partition/errors.ts";
import type { ReadMode } from "../partition/read_mode.ts";
import { readIndexAndWait, type RequestContext } from "./client_requests.ts";
import type { Replica } from "./replica.ts";

/**
 * Waits until `replica` may answer a read in `mode`, then returns the time to judge expiry by.
 *
 * @param ctx The host's clock, deadline and scheduler.
 * @param replica The partition's replica on this node.
 * @param mode The read mode.
 * @param context A number unique on this node, naming the read.
 * @param signal Aborts the wait.
 * @returns The time to judge expiry by.
 * @throws {WrongNodeError} For a linearizable read at a replica that is not the leader.
 *
 * @example Usage
 * ```ts ignore
 * const now = await clearRead(ctx, replica, "follower", 9);
 * const value = replica.sm.read(key, now);
 * ```
 */
export async function clearRead(
  ctx: RequestContext,
  replica: Replica,
  mode: ReadMode,
  context: number,
  signal?: AbortSignal,
): Promise<number> {
  if (mode !== "stale") {
    if (mode === "linearizable" && !replica.node.isLeader) {
      throw new WrongNodeError(replica.partition, replica.node.leaderId, "is not the leader");
    }
    await readIndexAndWait(ctx, replica, context, signal);
  }
  return Math.max(replica.sm.now, Math.floor(ctx.clock.now()));
}

/**
 * A range of keys: `[start, end)` in byte order; no `end` means to the end of the key space.
 *
 * @example Usage
 * ```ts
 * import type { KeyRange } from "@prkdb/prkdb/runtime";
 * const r: KeyRange = { start: new TextEncoder().encode("users/") };
 * ```
 */
export interface KeyRange {
  /** The first key that may be included. */
  readonly start: Uint8Array;
  /** The first key past the range. */
  readonly end?: Uint8Array;
}

/**
 * The range a prefix covers: every key that starts with it.
 *
 * @param prefix The prefix (empty for every key).
 * @returns The range.
 *
 * @example Usage
 * ```ts
 * import { prefixRange } from "@prkdb/prkdb/runtime";
 * const r = prefixRange(new Uint8Array([1, 255]));
 * console.log(r.end); // Uint8Array(1) [ 2 ]
 * ```
 */
export function prefixRange(prefix: Uint8Array): KeyRange {
  // The end is the prefix with its last byte that is not 0xff incremented, and cut after it.
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]++;
      return { start: prefix, end };
    }
  }
  return { start: prefix };
}
