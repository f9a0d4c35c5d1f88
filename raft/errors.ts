/**
 * Typed errors thrown by the Raft core. Each says what went wrong and what the caller can do.
 *
 * @module
 */
import type { NodeId } from "./types.ts";

/**
 * Base class of every error the Raft core throws.
 *
 * @example Usage
 * ```ts
 * import { RaftError } from "@prkdb/prkdb/raft";
 * try { throw new RaftError("Example"); } catch (e) { console.log(e instanceof RaftError); }
 * ```
 */
export class RaftError extends Error {
  /**
   * Creates an error with a sentence-case message.
   *
   * @param message What went wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Thrown when a proposal, read or transfer is made at a node that is not the leader. Carries the
 * leader the node knows of (`0` when it knows none) so the caller can retry there.
 *
 * @example Usage
 * ```ts
 * import { NotLeaderError } from "@prkdb/prkdb/raft";
 * const e = new NotLeaderError(2, 3);
 * console.log(e.leaderId); // 3
 * ```
 */
export class NotLeaderError extends RaftError {
  /** The leader this node knows of, or `0`. */
  readonly leaderId: NodeId;

  /**
   * Creates the error.
   *
   * @param nodeId The node that refused.
   * @param leaderId The leader it knows of, or `0`.
   */
  constructor(nodeId: NodeId, leaderId: NodeId) {
    super(
      leaderId === 0
        ? `Node ${nodeId} is not the leader: no leader is known yet, retry later`
        : `Node ${nodeId} is not the leader: retry at node ${leaderId}`,
    );
    this.leaderId = leaderId;
  }
}

/**
 * Thrown when the leader refuses a proposal it would otherwise accept, for example during a
 * leadership transfer or when too many bytes are uncommitted. Retryable.
 *
 * @example Usage
 * ```ts
 * import { ProposalDroppedError } from "@prkdb/prkdb/raft";
 * new ProposalDroppedError("leadership transfer to node 2 in progress");
 * ```
 */
export class ProposalDroppedError extends RaftError {
  /**
   * Creates the error.
   *
   * @param reason Why the proposal was dropped.
   */
  constructor(reason: string) {
    super(`Proposal dropped: ${reason}`);
  }
}

/**
 * Thrown when code asks for a role transition Raft does not allow, such as a follower becoming
 * leader without an election. It always means a bug in the caller.
 *
 * @example Usage
 * ```ts
 * import { IllegalTransitionError } from "@prkdb/prkdb/raft";
 * new IllegalTransitionError("Follower", "Leader");
 * ```
 */
export class IllegalTransitionError extends RaftError {
  /**
   * Creates the error.
   *
   * @param from The current role.
   * @param to The role that was asked for.
   */
  constructor(from: string, to: string) {
    super(`Illegal role transition: ${from} cannot become ${to}`);
  }
}

/**
 * Thrown when a message is malformed, addressed to another node, or sent by a node that is not
 * a member of the group. The message is not applied; nothing is lost.
 *
 * @example Usage
 * ```ts
 * import { InvalidMessageError } from "@prkdb/prkdb/raft";
 * new InvalidMessageError("sender 9 is not a member of the group");
 * ```
 */
export class InvalidMessageError extends RaftError {
  /**
   * Creates the error.
   *
   * @param detail What is wrong with the message.
   */
  constructor(detail: string) {
    super(`Invalid message: ${detail}`);
  }
}

/**
 * Thrown when a {@linkcode RaftConfig} value is out of range.
 *
 * @example Usage
 * ```ts
 * import { ConfigError } from "@prkdb/prkdb/raft";
 * new ConfigError("electionTick must be greater than heartbeatTick");
 * ```
 */
export class ConfigError extends RaftError {
  /**
   * Creates the error.
   *
   * @param detail Which setting is wrong and why.
   */
  constructor(detail: string) {
    super(`Invalid Raft configuration: ${detail}`);
  }
}

/**
 * Thrown when a membership change cannot be made: the node is already a member, is not a
 * learner, or the change would leave the group without voters. Nothing was appended. Changes
 * that merely have to wait (another change in flight, no entry committed in this term yet, a
 * learner still catching up) throw {@linkcode ProposalDroppedError} instead: retrying helps.
 *
 * @example Usage
 * ```ts
 * import { MembershipChangeError } from "@prkdb/prkdb/raft";
 * new MembershipChangeError("node 4 is already a member");
 * ```
 */
export class MembershipChangeError extends RaftError {
  /**
   * Creates the error.
   *
   * @param detail Why the change is refused.
   */
  constructor(detail: string) {
    super(`Membership change refused: ${detail}`);
  }
}
