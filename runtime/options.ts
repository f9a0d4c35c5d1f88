/**
 * What a Multi-Raft host is configured with, and what it reports.
 *
 * @module
 */
import type { RaftConfig } from "../raft/config.ts";
import type { RaftEvent } from "../raft/events.ts";
import type { NodeId } from "../raft/types.ts";
import type { CompactionPolicy } from "../partition/compaction.ts";
import type { RaftTransport } from "../partition/transport.ts";
import type { RaftStorage } from "../storage/raft_storage.ts";
import type { Clock } from "./clock.ts";
import type { HandOffReason } from "./leader_balance.ts";

/**
 * Options for {@linkcode MultiRaftHost.start}.
 *
 * @example Usage
 * ```ts
 * import type { HostOptions } from "@prkdb/prkdb/runtime";
 * const tuning: Partial<HostOptions> = { tickMs: 50, requestTimeoutMs: 2000 };
 * ```
 */
export interface HostOptions {
  /** This node's id. */
  nodeId: NodeId;
  /**
   * The members the cluster was first started with, this node included unless it joined later:
   * partition groups start on a placement over them.
   */
  members: readonly NodeId[];
  /**
   * Let idle partitions go quiet (see `RaftConfig.quiesce`): no heartbeats and no election
   * timers for a partition with nothing to do, and one liveness ping per node pair instead.
   * Default `true`.
   */
  quiesce?: boolean;
  /**
   * The cluster's members now, when nodes can join after the first start; default `members`.
   * Partition groups still start from the placement over `members`.
   */
  clusterMembers?: () => readonly NodeId[];
  /** How many partitions the cluster has. Default 8. */
  partitions?: number;
  /** Replicas per partition. Default 3. */
  replicationFactor?: number;
  /** Durable storage for this node's partitions. */
  storage: RaftStorage;
  /** Sends messages to peers. */
  transport: RaftTransport;
  /** Milliseconds per Raft tick. Default 100. */
  tickMs?: number;
  /** Ticks before a follower campaigns (randomized up to twice this). Default 10. */
  electionTick?: number;
  /** Further Raft settings (batch sizes, in-flight windows, PreVote, CheckQuorum). */
  raft?: Partial<Omit<RaftConfig, "id" | "voters" | "random">>;
  /** Mixed into each partition's random seed (elections), for reproducible simulations. */
  seed?: number;
  /** When to compact a partition's log. */
  compaction?: CompactionPolicy;
  /**
   * How much change history each partition keeps for watchers after its log is compacted:
   * entries (default 4096) and bytes of keys and values (default 16 MiB).
   */
  watchHistory?: { entries?: number; bytes?: number };
  /** How long a request may wait for commit or a read index. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** Move leadership to each partition's preferred replica when it is caught up. Default on. */
  balanceLeaders?: boolean;
  /**
   * With `balanceLeaders`: a partition whose recent writes nearly all came through one node is
   * led by that node instead of its preferred replica (see `leader_balance.ts`). Default on.
   */
  followWrites?: boolean;
  /**
   * The clock and timers. Default: the system clock. Give a {@linkcode ManualClock} to drive
   * time by hand.
   */
  clock?: Clock;
  /**
   * `timers` (default): the host ticks on its own and runs a round whenever work arrives.
   * `manual`: nothing happens until the caller calls {@linkcode MultiRaftHost.tick} and
   * {@linkcode MultiRaftHost.flush}, for deterministic simulations.
   */
  drive?: "timers" | "manual";
  /** Receives what the host does, for telemetry. */
  observer?: HostObserver;
}

/**
 * How a client write ended, for metrics: committed (applied, with any outcome), rejected
 * (refused before it was proposed), lost (proposed, then a leader change or a snapshot
 * decided it), or timeout.
 *
 * @example Usage
 * ```ts
 * import type { ProposalOutcome } from "@prkdb/prkdb/runtime";
 * const o: ProposalOutcome = "committed";
 * ```
 */
export type ProposalOutcome = "committed" | "rejected" | "lost" | "timeout";

/**
 * Receives what a host does, for metrics: the core's events, proposal outcomes and latency,
 * storage write durations, applied changes and snapshots.
 *
 * @example Usage
 * ```ts
 * import type { HostObserver } from "@prkdb/prkdb/runtime";
 * const quiet: HostObserver = {};
 * ```
 */
export interface HostObserver {
  /** The Raft events a partition's core emitted in one round. */
  events?(partition: number, events: readonly RaftEvent[]): void;
  /** A leader's traffic made this node start a replica it did not host (it joins as a learner). */
  replicaAdded?(partition: number): void;
  /** A client write finished. */
  proposal?(partition: number, outcome: ProposalOutcome, seconds: number): void;
  /** One durable storage write (a whole round) took this long. */
  storageWrite?(seconds: number): void;
  /** A partition applied this many changes (client writes), up to `index`. */
  applied?(partition: number, count: number, index: number): void;
  /** A partition took a snapshot of its state machine at `index`. */
  snapshotTaken?(partition: number, index: number, data: Uint8Array): void;
  /** A session's duplicate write was answered from the session table, not applied again. */
  duplicate?(partition: number): void;
  /** Leader balancing started a leadership transfer of a partition this node led. */
  handedOff?(partition: number, to: NodeId, reason: HandOffReason): void;
}
