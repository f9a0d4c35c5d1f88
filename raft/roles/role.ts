/**
 * The contract every role class fulfils. The core applies the rules all roles share, then hands
 * the message to the current role.
 *
 * @module
 */
import type { Message } from "../message.ts";
import type { Raft } from "../raft.ts";
import type { RoleName } from "../types.ts";

/** A Raft role: Follower, Candidate (or PreCandidate), or Leader. */
export interface Role {
  /** The role's name, as shown in status and metrics. */
  readonly name: RoleName;
  /** Advances the role's logical clock by one tick. */
  tick(raft: Raft): void;
  /** Handles a message of the current term that the shared rules did not consume. */
  step(raft: Raft, message: Message): void;
  /**
   * Whether this node believes a leader is alive (thesis section 4.2.3), so it ignores vote
   * requests. Only meaningful with CheckQuorum on.
   */
  inLease(raft: Raft): boolean;
  /** Cleans up when the node leaves this role (for example, fails pending reads). */
  leave(raft: Raft): void;
}
