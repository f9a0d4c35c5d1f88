/**
 * What a write tells its caller, derived from what applying its entry did.
 *
 * @module
 */
import type { Check, SessionRef } from "../partition/command.ts";
import { SessionExpiredError, StaleRequestError } from "../partition/errors.ts";
import type { ApplyResult } from "../partition/kv_state_machine.ts";
import { formatVersion } from "../partition/version.ts";
import type { DurableNotice } from "./durability.ts";

/**
 * Options of a write: its session, a condition, and cancellation.
 *
 * @example Usage
 * ```ts
 * import type { WriteOptions } from "@prkdb/prkdb/runtime";
 * const o: WriteOptions = { ifVersion: null }; // only if the key is absent
 * ```
 */
export interface WriteOptions {
  /** The write's session, so that a retry is applied at most once. */
  session?: SessionRef;
  /** Apply only if the key is at this version (`null`: only if absent). */
  ifVersion?: string | null;
  /** Aborts the wait (the write may still commit). */
  signal?: AbortSignal;
  /**
   * For a put passed on by a follower: tell that follower when the write's entry is durable on
   * this leader, so that it can answer its client once its own copy is durable too (see
   * `runtime/durability.ts`). Ignored for a write with a session or a condition, whose answer
   * depends on the state it meets.
   */
  durableNotice?: DurableNotice;
}

/**
 * What a write did. `ok` is false when its condition did not hold (nothing changed).
 *
 * @example Usage
 * ```ts
 * import type { WriteResult } from "@prkdb/prkdb/runtime";
 * const failed: WriteResult = { ok: false, found: false, failedCheck: 0, partition: 1, index: 9 };
 * ```
 */
export interface WriteResult {
  /** Whether the write was applied. */
  readonly ok: boolean;
  /** The version it wrote (when applied). */
  readonly version?: string;
  /** For a delete: whether the key existed. For an atomic write: whether the first key did. */
  readonly found: boolean;
  /** Which check failed, when `ok` is false. */
  readonly failedCheck?: number;
  /** The partition. */
  readonly partition: number;
  /** The log index of the entry. */
  readonly index: number;
}

/**
 * The check a write's `ifVersion` option stands for.
 *
 * @param key The written key.
 * @param options The write's options.
 * @returns No check, or one.
 *
 * @example Usage
 * ```ts
 * import { conditionsOf } from "@prkdb/prkdb/runtime";
 * console.log(conditionsOf(new Uint8Array([1]), { ifVersion: null }).length); // 1
 * ```
 */
export function conditionsOf(key: Uint8Array, options: WriteOptions): Check[] {
  return options.ifVersion === undefined ? [] : [{ key, version: options.ifVersion }];
}

/**
 * Turns an applied write into its result, or into the error its session verdict means.
 *
 * @param partition The partition.
 * @param index The entry's index.
 * @param result What applying the entry did.
 * @param session The write's session, if any.
 * @returns The result.
 * @throws {SessionExpiredError} When the session is unknown or expired (nothing applied).
 * @throws {StaleRequestError} When the write is a late duplicate (nothing applied).
 *
 * @example Usage
 * ```ts
 * import { writeResult } from "@prkdb/prkdb/runtime";
 * const r = writeResult(0, 5, {
 *   index: 5, op: "write", duplicate: false, changes: [],
 *   outcome: { kind: "ok", index: 5, found: [false] },
 * });
 * console.log(r.version); // "00000000000000000005"
 * ```
 */
export function writeResult(
  partition: number,
  index: number,
  result: ApplyResult,
  session?: SessionRef,
): WriteResult {
  if (result.op !== "write") throw new RangeError(`Entry ${index} is not a write`);
  const o = result.outcome;
  switch (o.kind) {
    case "ok":
      // A session duplicate is answered with its first application: that entry's index.
      return {
        ok: true,
        version: formatVersion(partition, o.index),
        found: o.found[0] ?? false,
        partition,
        index: o.index,
      };
    case "checkFailed":
      return { ok: false, found: false, failedCheck: o.check, partition, index };
    case "sessionExpired":
      throw new SessionExpiredError(partition, session?.id ?? 0);
    case "staleRequest":
      throw new StaleRequestError(partition, session?.id ?? 0, session?.seq ?? 0);
  }
}
