/**
 * Errors a node's key-value operations fail with. Each says whether retrying can help.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import { formatVersion } from "./version.ts";

/**
 * Base class: `retryable` says whether the same request may succeed later.
 *
 * @example Usage
 * ```ts
 * import { PartitionError } from "@prkdb/prkdb/partition";
 * console.log(new PartitionError("Example", true).retryable); // true
 * ```
 */
export class PartitionError extends Error {
  /** Whether the same request may succeed if retried. */
  readonly retryable: boolean;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param retryable Whether a retry may succeed.
   */
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = new.target.name;
    this.retryable = retryable;
  }
}

/**
 * This node cannot serve the request here: it is not the partition's leader (or not one of its
 * replicas). `leaderId` names the leader it knows, `0` when none.
 *
 * @example Usage
 * ```ts
 * import { WrongNodeError } from "@prkdb/prkdb/partition";
 * const e = new WrongNodeError(3, 2, "is not the leader");
 * console.log(e.leaderId); // 2
 * ```
 */
export class WrongNodeError extends PartitionError {
  /** The partition. */
  readonly partition: number;
  /** The leader this node knows of, or `0`. */
  readonly leaderId: NodeId;

  /**
   * Creates the error.
   *
   * @param partition The partition.
   * @param leaderId The known leader, or `0`.
   * @param why Why this node cannot serve it.
   */
  constructor(partition: number, leaderId: NodeId, why: string) {
    super(
      `Partition ${partition}: this node ${why}${
        leaderId ? `; its leader is node ${leaderId}` : "; no leader is known yet"
      }`,
      true,
    );
    this.partition = partition;
    this.leaderId = leaderId;
  }
}

/**
 * The partition cannot serve now: no leader, no quorum, a leadership change, or a stopped node.
 * Retryable.
 *
 * @example Usage
 * ```ts
 * import { UnavailableError } from "@prkdb/prkdb/partition";
 * new UnavailableError("Partition 3 has no leader yet");
 * ```
 */
export class UnavailableError extends PartitionError {
  /**
   * Creates the error.
   *
   * @param message What is unavailable.
   */
  constructor(message: string) {
    super(message, true);
  }
}

/**
 * The leader refused to propose a write, so nothing of it is in any log: a leadership transfer
 * is under way, or too much is uncommitted. Retrying is always safe; a node serving a client
 * retries for it within the request's deadline, so a planned leader change looks like a slow
 * answer rather than an error.
 *
 * @example Usage
 * ```ts
 * import { WriteRefusedError } from "@prkdb/prkdb/partition";
 * const e = new WriteRefusedError("Partition 3: leadership transfer to node 1 in progress");
 * console.log(e.retryable); // true
 * ```
 */
export class WriteRefusedError extends UnavailableError {}

/**
 * The request's deadline passed before it finished. A write may or may not have been applied.
 *
 * @example Usage
 * ```ts
 * import { TimeoutError } from "@prkdb/prkdb/partition";
 * new TimeoutError("Put to partition 1 did not commit within 5000 ms");
 * ```
 */
export class TimeoutError extends PartitionError {
  /**
   * Creates the error.
   *
   * @param message What timed out.
   */
  constructor(message: string) {
    super(message, true);
  }
}

/**
 * A write was proposed but its fate is unknown: it may or may not have been applied (a leader
 * change or a snapshot swallowed it before this node learned the outcome, or the node stopped).
 * Retrying within a client session is safe: the state machine applies it at most once.
 *
 * @example Usage
 * ```ts
 * import { OutcomeUnknownError } from "@prkdb/prkdb/partition";
 * console.log(new OutcomeUnknownError("Partition 1: leadership changed").retryable); // true
 * ```
 */
export class OutcomeUnknownError extends PartitionError {
  /**
   * Creates the error.
   *
   * @param message What happened.
   */
  constructor(message: string) {
    super(`${message}; the write may or may not have been applied`, true);
  }
}

/**
 * The write's client session is unknown or expired, so the partition cannot tell a retry
 * from a new write: nothing was applied. Open a new session and send new writes with it.
 *
 * @example Usage
 * ```ts
 * import { SessionExpiredError } from "@prkdb/prkdb/partition";
 * new SessionExpiredError(3, 17);
 * ```
 */
export class SessionExpiredError extends PartitionError {
  /**
   * Creates the error.
   *
   * @param partition The partition.
   * @param session The session id.
   */
  constructor(partition: number, session: number) {
    super(
      `Partition ${partition}: session ${session} is unknown or expired; open a new session`,
      false,
    );
  }
}

/**
 * A write of a session arrived after the client had already confirmed receiving every result
 * up to a later sequence number: it is a late duplicate, and was not applied.
 *
 * @example Usage
 * ```ts
 * import { StaleRequestError } from "@prkdb/prkdb/partition";
 * new StaleRequestError(3, 17, 4);
 * ```
 */
export class StaleRequestError extends PartitionError {
  /**
   * Creates the error.
   *
   * @param partition The partition.
   * @param session The session id.
   * @param seq The write's sequence number.
   */
  constructor(partition: number, session: number, seq: number) {
    super(
      `Partition ${partition}: write ${seq} of session ${session} is older than what the session remembers; this copy was not applied, and whether an earlier copy was is no longer known`,
      false,
    );
  }
}

/**
 * An atomic write named keys of more than one partition. Each partition is its own Raft log,
 * so one write is atomic only within one partition. Nothing was applied.
 *
 * @example Usage
 * ```ts
 * import { CrossPartitionError } from "@prkdb/prkdb/partition";
 * console.log(new CrossPartitionError([1, 4]).partitions); // [1, 4]
 * ```
 */
export class CrossPartitionError extends PartitionError {
  /** The partitions the keys fall into. */
  readonly partitions: readonly number[];

  /**
   * Creates the error.
   *
   * @param partitions The partitions the keys fall into.
   */
  constructor(partitions: readonly number[]) {
    super(
      `An atomic write must stay in one partition, but its keys fall into partitions ${
        partitions.join(", ")
      }. Give related keys the same hash tag, for example "{user:42}:profile" and ` +
        `"{user:42}:orders": only the text between the first "{" and the next "}" is hashed.`,
      false,
    );
    this.partitions = partitions;
  }
}

/**
 * A watch asked for changes the partition no longer keeps: its log was compacted past them.
 * Read the current state again (a list gives the position to watch from), then watch from
 * there.
 *
 * @example Usage
 * ```ts
 * import { CompactedError } from "@prkdb/prkdb/partition";
 * console.log(new CompactedError(2, 41).oldestVersion); // "00020000000000000029"
 * ```
 */
export class CompactedError extends PartitionError {
  /** The oldest version of the partition whose changes are still available. */
  readonly oldestVersion: string;

  /**
   * Creates the error.
   *
   * @param partition The partition.
   * @param oldest The oldest index whose changes are still available.
   */
  constructor(partition: number, oldest: number) {
    const oldestVersion = formatVersion(partition, oldest);
    super(
      `Partition ${partition}: changes before version ${oldestVersion} were compacted away; ` +
        "list again and watch from the position the list returns",
      false,
    );
    this.oldestVersion = oldestVersion;
  }
}
