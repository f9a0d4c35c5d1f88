/**
 * How a node tells a client which kind of failure it met, beyond the Connect code: a response
 * header, so the client can react (open a new session, retry under the same session) without
 * parsing messages.
 *
 * @module
 */
import {
  CompactedError,
  CrossPartitionError,
  OutcomeUnknownError,
  SessionExpiredError,
  StaleRequestError,
} from "../partition/errors.ts";

/** The response header that names the kind of failure. */
export const ERROR_KIND_HEADER = "prkdb-error";

/**
 * The kinds of failure a client may need to tell apart.
 *
 * - `session_expired`: the session is unknown or expired; nothing was applied.
 * - `stale_request`: a late duplicate of a session's write; nothing was applied.
 * - `outcome_unknown`: the write may or may not have been applied.
 * - `cross_partition`: an atomic write's keys fall into more than one partition.
 * - `compacted`: a watch asked for changes older than the partition keeps.
 */
export type ErrorKind =
  | "session_expired"
  | "stale_request"
  | "outcome_unknown"
  | "cross_partition"
  | "compacted";

/**
 * The kind of a host error, if it is one a client must tell apart.
 *
 * @param error What the host threw.
 * @returns Its kind, or `undefined`.
 */
export function errorKind(error: unknown): ErrorKind | undefined {
  if (error instanceof SessionExpiredError) return "session_expired";
  if (error instanceof StaleRequestError) return "stale_request";
  if (error instanceof OutcomeUnknownError) return "outcome_unknown";
  if (error instanceof CrossPartitionError) return "cross_partition";
  if (error instanceof CompactedError) return "compacted";
  return undefined;
}
