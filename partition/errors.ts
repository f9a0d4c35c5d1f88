/**
 * Errors a node's key-value operations fail with. Each says whether retrying can help.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";

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
