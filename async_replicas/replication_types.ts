/**
 * The shapes of leader-follower replication: nodes, timing, configuration, health and state.
 *
 * @module
 */

/**
 * A node of a replication group.
 *
 * @example Usage
 * ```ts
 * import type { ReplicaNode } from "@prkdb/prkdb/async-replicas";
 * const leader: ReplicaNode = { id: "leader-1", address: "127.0.0.1:8080" };
 * ```
 */
export interface ReplicaNode {
  /** A unique name. */
  readonly id: string;
  /** `host:port` where its replication service listens (leaders) or that identifies it. */
  readonly address: string;
}

/**
 * Polling and retry timing, in milliseconds.
 *
 * @example Usage
 * ```ts
 * import type { ReplicationTiming } from "@prkdb/prkdb/async-replicas";
 * const fast: Partial<ReplicationTiming> = { followerPollInterval: 100, backoffBase: 50 };
 * ```
 */
export interface ReplicationTiming {
  /** Time between polls when caught up. Default 1000. */
  followerPollInterval: number;
  /** First retry delay after an error; doubles each time. Default 2000. */
  backoffBase: number;
  /** Longest retry delay. Default 60000. */
  backoffMax: number;
  /** Timeout of one request to the leader. Default 5000. */
  requestTimeout: number;
}

/**
 * How a follower replicates from its leader.
 *
 * @example A follower
 * ```ts
 * import type { ReplicationConfig } from "@prkdb/prkdb/async-replicas";
 * const config: ReplicationConfig = {
 *   selfNode: { id: "follower-1", address: "127.0.0.1:8081" },
 *   leaderAddress: "127.0.0.1:8080",
 *   followers: [],
 * };
 * ```
 */
export interface ReplicationConfig {
  /** This node. */
  readonly selfNode: ReplicaNode;
  /** The leader's `host:port`; absent on the leader itself. */
  readonly leaderAddress?: string;
  /** The followers (on the leader). */
  readonly followers: readonly ReplicaNode[];
  /** Timing; defaults as in {@linkcode ReplicationTiming}. */
  readonly timing?: Partial<ReplicationTiming>;
  /** Changes per request. Default 100. */
  readonly batchSize?: number;
}

/**
 * A follower's replication health.
 *
 * @example Usage
 * ```ts
 * import type { ReplicationHealth } from "@prkdb/prkdb/async-replicas";
 * ```
 */
export interface ReplicationHealth {
  /** Whether replication works: a follower synced recently; a leader's followers all poll. */
  readonly healthy: boolean;
  /** How far behind in time: the age of the oldest change not yet applied (a leader: its worst follower's). */
  readonly lagSeconds: number;
  /** The last successful sync, if any. */
  readonly lastSync: Date | undefined;
  /** What is wrong, when not healthy. */
  readonly error: string | undefined;
  /** Changes saved but not yet drained to every follower (a follower: not yet applied here). */
  readonly outboxDrift: number;
}

/**
 * A follower's replication state.
 *
 * @example Usage
 * ```ts
 * import type { ReplicationState } from "@prkdb/prkdb/async-replicas";
 * ```
 */
export interface ReplicationState {
  /** The offset of the last change applied (follower) or recorded (leader), as a string. */
  readonly lastChangeId: string | undefined;
  /** Changes applied since start. */
  readonly changesApplied: number;
  /** Unix time (ms) of the last successful sync, 0 if none. */
  readonly lastSyncTs: number;
  /** Whether the last request reached the leader (a follower) or every follower polls (a leader). */
  readonly connected: boolean;
  /** Errors since start. */
  readonly errorCount: number;
  /** The last error. */
  readonly lastError: string | undefined;
}

/**
 * Why a sync failed: the leader was unreachable, refused the request, the apply failed, or the
 * follower's offset belongs to another history than the leader's outbox (a leader re-created
 * from scratch): then the follower applies nothing more from that leader and reports it.
 */
export type ReplicationErrorType =
  | "sync_failed"
  | "apply_failed"
  | "connection_error"
  | "history_mismatch";
