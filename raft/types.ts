/**
 * Identifiers and small value types shared by the whole Raft core.
 *
 * @module
 */
import type { Membership } from "./membership.ts";

/**
 * A node's identifier: a positive integer, unique in the cluster. `0` ({@linkcode NONE}) means
 * "no node", as in "voted for nobody" or "no known leader".
 *
 * @example Usage
 * ```ts
 * import { NONE, type NodeId } from "@prkdb/prkdb/raft";
 * const votedFor: NodeId = NONE;
 * ```
 */
export type NodeId = number;

/**
 * The absent node id (`0`).
 *
 * @example Usage
 * ```ts
 * import { NONE } from "@prkdb/prkdb/raft";
 * console.log(NONE); // 0
 * ```
 */
export const NONE: NodeId = 0;

/**
 * The state Raft must persist before it answers any message (Raft section 5, figure 2):
 * the latest term seen, the candidate voted for in that term, and the commit index (kept so a
 * restarted node does not need a leader to re-apply what it already knew was committed).
 *
 * @example Usage
 * ```ts
 * import type { HardState } from "@prkdb/prkdb/raft";
 * const fresh: HardState = { term: 0, votedFor: 0, commitIndex: 0 };
 * ```
 */
export interface HardState {
  /** The latest term this node has seen. */
  readonly term: number;
  /** The node voted for in `term`, or `0` for nobody. */
  readonly votedFor: NodeId;
  /** The highest log index known to be committed. */
  readonly commitIndex: number;
}

/**
 * The names of the roles a node can be in. `PreCandidate` is a candidate in the PreVote phase
 * (Raft thesis section 9.6): it asks whether it could win before it disturbs anyone's term.
 *
 * @example Usage
 * ```ts
 * import type { RoleName } from "@prkdb/prkdb/raft";
 * const role: RoleName = "Leader";
 * ```
 */
export type RoleName = "Follower" | "PreCandidate" | "Candidate" | "Leader";

/**
 * A request for a linearizable read that became safe to serve: once the state machine has
 * applied `index`, reading it reflects every write acknowledged before the read began.
 *
 * @example Usage
 * ```ts
 * import type { ReadState } from "@prkdb/prkdb/raft";
 * const rs: ReadState = { context: 7, index: 42 };
 * ```
 */
export interface ReadState {
  /** The caller's identifier for the read, as passed to `readIndex`. */
  readonly context: number;
  /** The commit index the state machine must reach before the read is served. */
  readonly index: number;
}

/**
 * Where a snapshot ends: the last log index (and its term) it covers.
 *
 * @example Usage
 * ```ts
 * import type { SnapshotMeta } from "@prkdb/prkdb/raft";
 * const meta: SnapshotMeta = { index: 1000, term: 4 };
 * ```
 */
export interface SnapshotMeta {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** The term of that entry. */
  readonly term: number;
  /**
   * The group's membership as of `index` (thesis section 4.1: the configuration travels with
   * the snapshot, since the entries that changed it are gone). Absent in snapshots taken before
   * the group ever changed membership: the configured voters apply.
   */
  readonly membership?: Membership;
}

/**
 * A state machine snapshot: everything applied through `meta.index`, as opaque bytes. It
 * replaces the log prefix it covers (Raft section 7).
 *
 * @example Usage
 * ```ts
 * import type { Snapshot } from "@prkdb/prkdb/raft";
 * const s: Snapshot = { meta: { index: 10, term: 2 }, data: new Uint8Array([1, 2]) };
 * ```
 */
export interface Snapshot {
  /** Which prefix of the log it replaces. */
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state. */
  readonly data: Uint8Array;
}
