/**
 * Every metric PrkDB exports, defined once: its name, type, labels and meaning. The
 * OpenTelemetry instruments are created from this list, and `docs/metrics.md` is generated from
 * it (a test fails when the two differ).
 *
 * @module
 */

/**
 * One metric.
 *
 * @example Usage
 * ```ts
 * import type { MetricDefinition } from "@prkdb/prkdb/telemetry";
 * const m: MetricDefinition = { name: "prkdb_raft_current_term", type: "gauge", labels: ["node_id", "partition"], help: "The latest term this replica has seen." };
 * ```
 */
export interface MetricDefinition {
  /** The exact Prometheus name. */
  readonly name: string;
  /** The instrument type. */
  readonly type: "gauge" | "counter" | "histogram";
  /** Its labels. */
  readonly labels: readonly string[];
  /** What it means, in one or two sentences. */
  readonly help: string;
  /** Histogram bucket boundaries. */
  readonly buckets?: readonly number[];
}

/** Seconds-shaped buckets, 0.5 ms to 10 s. */
export const SECONDS_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];
/** Count-shaped buckets for batch sizes. */
export const COUNT_BUCKETS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

const P = ["node_id", "partition"] as const;
const F = ["node_id", "partition", "follower"] as const;
const N = ["node_id", "follower"] as const;

/**
 * The metric catalogue.
 *
 * @example Usage
 * ```ts
 * import { METRICS } from "@prkdb/prkdb/telemetry";
 * console.log(METRICS.some((m) => m.name === "prkdb_raft_commit_index")); // true
 * ```
 */
export const METRICS: readonly MetricDefinition[] = [
  // Raft, per replica of each partition.
  {
    name: "prkdb_raft_current_term",
    type: "gauge",
    labels: P,
    help:
      "The latest term this replica has seen. Frequent increases mean elections, and so instability.",
  },
  {
    name: "prkdb_raft_commit_index",
    type: "gauge",
    labels: P,
    help:
      "The highest log index this replica knows is committed. It should closely track prkdb_raft_last_log_index.",
  },
  {
    name: "prkdb_raft_last_log_index",
    type: "gauge",
    labels: P,
    help: "The index of the last entry in this replica's log.",
  },
  {
    name: "prkdb_raft_voted_for",
    type: "gauge",
    labels: P,
    help:
      "The node id this replica voted for in the current term, as a number (node ids are positive integers); 0 means it has not voted in this term.",
  },
  {
    name: "prkdb_raft_role",
    type: "gauge",
    labels: P,
    help: "This replica's role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader.",
  },
  {
    name: "prkdb_raft_is_leader",
    type: "gauge",
    labels: P,
    help: "1 when this replica leads its partition, else 0. Sum by node_id for leaders per node.",
  },
  {
    name: "prkdb_raft_applied_index",
    type: "gauge",
    labels: P,
    help: "The highest log index applied to this replica's state machine.",
  },
  {
    name: "prkdb_raft_elections_total",
    type: "counter",
    labels: P,
    help: "Elections this replica started (real ones, after a successful PreVote).",
  },
  {
    name: "prkdb_raft_leader_changes_total",
    type: "counter",
    labels: P,
    help: "Times this replica saw its partition's leader change (including to unknown).",
  },
  {
    name: "prkdb_raft_quorum_lost_total",
    type: "counter",
    labels: P,
    help: "Times this replica stepped down as leader because no quorum answered (CheckQuorum).",
  },
  {
    name: "prkdb_raft_proposals_total",
    type: "counter",
    labels: ["node_id", "partition", "outcome"],
    help:
      "Client writes proposed at this node, by outcome: committed, rejected (not leader, bad input), lost (leader changed) or timeout.",
  },
  {
    name: "prkdb_raft_proposal_duration_seconds",
    type: "histogram",
    labels: ["node_id", "partition"],
    buckets: SECONDS_BUCKETS,
    help: "Time from proposal to commit and apply, for committed writes.",
  },
  {
    name: "prkdb_raft_snapshots_total",
    type: "counter",
    labels: ["node_id", "partition", "kind"],
    help:
      "Snapshots by kind: taken (local compaction), installed (received from the leader), sent (to a follower).",
  },
  {
    name: "prkdb_raft_loop_utilization",
    type: "gauge",
    labels: ["node_id"],
    help:
      "The share of time the node's Raft loop spent working since the last scrape (0 to 1). Near 1 means the node is saturated.",
  },
  {
    name: "prkdb_storage_write_duration_seconds",
    type: "histogram",
    labels: ["node_id"],
    buckets: SECONDS_BUCKETS,
    help: "Time for one durable storage write (a whole round of all partitions: write plus fsync).",
  },
  {
    name: "prkdb_rpc_duration_seconds",
    type: "histogram",
    labels: ["node_id", "peer", "rpc"],
    buckets: SECONDS_BUCKETS,
    help:
      "Duration of Raft RPCs to peers, by RPC (vote, appendEntries, heartbeat, installSnapshot, readIndex).",
  },
  {
    name: "prkdb_rpc_errors_total",
    type: "counter",
    labels: ["node_id", "peer", "rpc"],
    help: "Raft RPCs to peers that failed (the messages were lost; Raft retries).",
  },
  {
    name: "prkdb_raft_messages_refused_total",
    type: "counter",
    labels: ["node_id", "reason"],
    help:
      "Incoming Raft messages refused: foreign_cluster, stranger, impostor (the batch names another node than the sender's certificate), malformed, or rejected (unknown partition or group).",
  },
  {
    name: "prkdb_requests_refused_total",
    type: "counter",
    labels: ["node_id", "reason"],
    help:
      "Connections and requests refused before any service saw them: unknown_certificate, unauthenticated, forbidden, too_many_connections, too_large, or timeout.",
  },
  // Client sessions, per replica of each partition.
  {
    name: "prkdb_kv_sessions",
    type: "gauge",
    labels: P,
    help:
      "Client sessions this replica's state machine holds. Grows with clients; sessions expire after their idle timeout.",
  },
  {
    name: "prkdb_kv_session_duplicates_total",
    type: "counter",
    labels: P,
    help:
      "Retried session writes answered with their first result instead of being applied again. Rises with timeouts and failovers.",
  },
  // Replication, from each Raft leader to each follower.
  {
    name: "prkdb_replication_lag_seconds",
    type: "gauge",
    labels: F,
    help:
      "How far behind in time the follower is: the age of the oldest entry the leader has that the follower does not. 0 when caught up.",
  },
  {
    name: "prkdb_replication_changes_pending",
    type: "gauge",
    labels: F,
    help:
      "The true backlog: entries the leader has that the follower has not acknowledged (last log index minus match index).",
  },
  {
    name: "prkdb_replication_active_followers",
    type: "gauge",
    labels: P,
    help: "Followers of a partition this leader heard from within the last election timeout.",
  },
  {
    name: "prkdb_replication_changes_applied_total",
    type: "counter",
    labels: P,
    help: "Changes (committed writes) this replica applied to its state machine.",
  },
  {
    name: "prkdb_replication_follower_connected",
    type: "gauge",
    labels: N,
    help:
      "1 when this node's last Raft RPC to the follower succeeded within two election timeouts, else 0.",
  },
  {
    name: "prkdb_replication_sync_errors_total",
    type: "counter",
    labels: ["node_id", "follower", "error_type"],
    help:
      "Failed syncs with a follower by error_type: connection_error (unreachable, timed out), sync_failed (the peer refused the batch), apply_failed (this node could not persist or apply).",
  },
  {
    name: "prkdb_replication_last_sync_timestamp_seconds",
    type: "gauge",
    labels: N,
    help: "Unix time of the last successful Raft RPC to the follower.",
  },
  {
    name: "prkdb_replication_sync_duration_seconds",
    type: "histogram",
    labels: N,
    buckets: SECONDS_BUCKETS,
    help:
      "Duration of AppendEntries calls to the follower (one call carries every partition's entries).",
  },
  {
    name: "prkdb_replication_batch_size",
    type: "histogram",
    labels: N,
    buckets: COUNT_BUCKETS,
    help: "Entries per AppendEntries call to the follower, across partitions.",
  },
];

/**
 * Renders the catalogue as the Markdown of `docs/metrics.md`.
 *
 * @returns The document.
 *
 * @example Usage
 * ```ts
 * import { metricsMarkdown } from "@prkdb/prkdb/telemetry";
 * console.log(metricsMarkdown().startsWith("# Metrics")); // true
 * ```
 */
export function metricsMarkdown(): string {
  const rows = (filter: (m: MetricDefinition) => boolean) =>
    METRICS.filter(filter).map((m) =>
      `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(", ")} | ${m.help} |`
    ).join("\n");
  return `# Metrics

<!-- Generated from telemetry/metric_definitions.ts by \`deno task docs:metrics\`. Do not edit by hand: a test compares them. -->

Every node serves these at \`/metrics\` in Prometheus text format, through OpenTelemetry's
Prometheus exporter. Labels: \`node_id\` is the reporting node; \`partition\` the Raft group;
\`follower\` and \`peer\` another node. Node ids are positive integers, so \`prkdb_raft_voted_for\`
shows the id voted for as a number, with 0 for "no vote this term".

## Raft

| Metric | Type | Labels | Meaning |
| --- | --- | --- | --- |
${rows((m) => !m.name.startsWith("prkdb_replication_"))}

## Replication

Each Raft leader measures these for each of its followers; the leader-follower
\`ReplicationManager\` measures the same names for its pull followers.

| Metric | Type | Labels | Meaning |
| --- | --- | --- | --- |
${rows((m) => m.name.startsWith("prkdb_replication_"))}

## Useful queries

\`\`\`promql
# Leaders per node (should be even)
sum by (node_id) (prkdb_raft_is_leader)
# Elections per minute (churn)
sum(rate(prkdb_raft_elections_total[5m])) * 60
# Replication lag by follower
max by (follower) (prkdb_replication_lag_seconds)
# Commit throughput
sum(rate(prkdb_replication_changes_applied_total[1m]))
# Write latency, 99th percentile
histogram_quantile(0.99, sum by (le) (rate(prkdb_raft_proposal_duration_seconds_bucket[5m])))
\`\`\`

Dashboards and alerts: [grafana-dashboard.json](grafana-dashboard.json),
[prometheus-alerts.yml](prometheus-alerts.yml).
`;
}
