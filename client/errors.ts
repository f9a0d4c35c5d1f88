/**
 * The one error type a client call fails with, and how a failed RPC becomes one.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_KIND_HEADER, type ErrorKind } from "../rpc/error_kinds.ts";

export type { ErrorKind };

/**
 * A failed call. `code` is the Connect code (`invalid_argument`, `unavailable`,
 * `deadline_exceeded`, `failed_precondition`, ...); `retryable` says whether trying again
 * later can help; `kind` names failures that need telling apart (an expired session, a write
 * whose outcome is unknown, an atomic write across partitions).
 *
 * @example Usage
 * ```ts
 * import { PrkDbError } from "@prkdb/prkdb/client";
 * const e = new PrkDbError("key is empty", "invalid_argument", false);
 * console.log(e.retryable); // false
 * ```
 */
export class PrkDbError extends Error {
  /** The Connect code. */
  readonly code: string;
  /** Whether retrying later can help. */
  readonly retryable: boolean;
  /** What kind of failure it is, when the code alone does not say. */
  readonly kind: ErrorKind | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param code The Connect code.
   * @param retryable Whether a retry may succeed.
   * @param kind What kind of failure it is, when the code alone does not say.
   */
  constructor(message: string, code: string, retryable: boolean, kind?: ErrorKind) {
    super(message);
    this.name = "PrkDbError";
    this.code = code;
    this.retryable = retryable;
    this.kind = kind;
  }
}

const RETRYABLE = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Aborted,
  Code.ResourceExhausted,
]);
const KINDS = new Set<string>([
  "session_expired",
  "stale_request",
  "outcome_unknown",
  "cross_partition",
  "compacted",
]);

/**
 * Turns whatever a call threw into a {@linkcode PrkDbError} with the right `retryable`.
 *
 * @param error What the call threw.
 * @param url The node it went to.
 * @param attemptTimedOutAfter Set when the attempt hit its own deadline, in milliseconds.
 * @returns The error.
 */
export function classify(
  error: unknown,
  url: string,
  attemptTimedOutAfter: number | undefined,
): PrkDbError {
  if (attemptTimedOutAfter !== undefined) {
    return new PrkDbError(
      `${url} did not answer within ${attemptTimedOutAfter} ms`,
      "deadline_exceeded",
      true,
    );
  }
  const e = ConnectError.from(error);
  // A refused or reset connection surfaces as "unknown": the node is down, try another.
  const network = e.code === Code.Unknown &&
    (e.cause instanceof TypeError || /fetch failed|connection/i.test(e.rawMessage));
  if (network) return new PrkDbError(`${url} is unreachable: ${e.rawMessage}`, "unavailable", true);
  const code = Code[e.code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
  const header = e.metadata.get(ERROR_KIND_HEADER) ?? "";
  const kind = KINDS.has(header) ? header as ErrorKind : undefined;
  return new PrkDbError(e.rawMessage, code, RETRYABLE.has(e.code), kind);
}
