/**
 * Events the core emits for telemetry. The core never imports a metrics library: it reports
 * what happened, and `telemetry/` turns events (plus {@linkcode RaftStatus} snapshots) into
 * metrics.
 *
 * @module
 */
import type { NodeId, RoleName } from "./types.ts";

/**
 * Something noteworthy that happened inside the core, in the order it happened.
 *
 * @example Usage
 * ```ts
 * import type { RaftEvent } from "@prkdb/prkdb/raft";
 * function log(e: RaftEvent): string {
 *   return e.type === "RoleChanged" ? `${e.from} -> ${e.to} at term ${e.term}` : e.type;
 * }
 * ```
 */
export type RaftEvent =
  /** The node changed role. */
  | {
    readonly type: "RoleChanged";
    readonly from: RoleName;
    readonly to: RoleName;
    readonly term: number;
  }
  /** The node learned of a new leader (or lost it: `leaderId` 0). */
  | { readonly type: "LeaderChanged"; readonly leaderId: NodeId; readonly term: number }
  /** The node started a PreVote round or an election. */
  | { readonly type: "ElectionStarted"; readonly preVote: boolean; readonly term: number }
  /** A leader stepped down because it had not heard from a quorum (CheckQuorum). */
  | { readonly type: "QuorumLost"; readonly term: number }
  /** A follower rejected an AppendEntries (log inconsistency being repaired). */
  | { readonly type: "AppendRejected"; readonly follower: NodeId; readonly rejectedIndex: number }
  /** A ReadIndex heartbeat round was confirmed by a quorum, releasing `reads` reads. */
  | { readonly type: "ReadIndexConfirmed"; readonly round: number; readonly reads: number }
  /** A follower installed a snapshot from the leader. */
  | { readonly type: "SnapshotInstalled"; readonly index: number; readonly bytes: number }
  /** A leader finished sending a snapshot to a follower. */
  | { readonly type: "SnapshotSent"; readonly follower: NodeId; readonly index: number }
  /** Leadership transfer began, finished (`outcome`), or was abandoned. */
  | {
    readonly type: "LeadershipTransfer";
    readonly to: NodeId;
    readonly outcome: "started" | "timeout-now-sent" | "aborted";
  }
  /**
   * The membership in force changed: a `config` entry was appended (at `index`), cut away
   * with a conflicting suffix, or installed with a snapshot (`index` is then the latest config
   * entry left, `0` for none).
   */
  | {
    readonly type: "MembershipChanged";
    readonly voters: readonly NodeId[];
    readonly learners: readonly NodeId[];
    readonly index: number;
  }
  /** A leader removed from the group stepped down once its removal committed. */
  | { readonly type: "RemovedFromGroup"; readonly term: number };
