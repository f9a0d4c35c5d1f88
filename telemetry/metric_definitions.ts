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
  /**
   * The fixed values of labels other than node, partition and peer: counters and histograms
   * are exported at 0 for each of them from the start.
   */
  readonly values?: Readonly<Record<string, readonly string[]>>;
  /** For a gauge: when its series exist (a gauge describes the present, never a past state). */
  readonly present?: string;
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
const RPCS = ["vote", "appendEntries", "heartbeat", "installSnapshot", "readIndex"];
const LEADS =
  "Only for partitions this node leads now: the series disappears from the next scrape when it loses leadership.";
const FOLLOWS =
  "Cluster: for each follower of a partition this node leads now (gone when it leads none). Leader-follower: at the leader for each configured follower, at a follower for itself.";

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
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_raft_commit_index",
    type: "gauge",
    labels: P,
    help:
      "The highest log index this replica knows is committed. It should closely track prkdb_raft_last_log_index.",
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_raft_last_log_index",
    type: "gauge",
    labels: P,
    help: "The index of the last entry in this replica's log.",
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_raft_voted_for",
    type: "gauge",
    labels: P,
    help:
      "The node id this replica voted for in the current term, as a number (node ids are positive integers); 0 means it has not voted in this term.",
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_raft_role",
    type: "gauge",
    labels: P,
    help: "This replica's role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader.",
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_raft_is_leader",
    type: "gauge",
    labels: P,
    help: "1 when this replica leads its partition, else 0. Sum by node_id for leaders per node.",
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_raft_applied_index",
    type: "gauge",
    labels: P,
    help: "The highest log index applied to this replica's state machine.",
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_raft_elections_total",
    type: "counter",
    labels: P,
    help:
      "Elections this replica started (real ones, after a successful PreVote). PreVote rounds that fail are not counted: use prkdb_raft_leader_changes_total for churn.",
  },
  {
    name: "prkdb_raft_leader_changes_total",
    type: "counter",
    labels: P,
    help:
      "Times this replica learned of a new leader of its partition (a change to no known leader is not counted). Counts real leader changes: the churn signal.",
  },
  {
    name: "prkdb_raft_leadership_transfers_total",
    type: "counter",
    labels: ["node_id", "partition", "reason"],
    values: { reason: ["preferred", "writes"] },
    help:
      "Leadership transfers leader balancing started at this node, by reason: preferred (back to the partition's preferred replica, once caught up) or writes (to the node nearly all its recent writes came through).",
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
    values: { outcome: ["committed", "rejected", "lost", "timeout"] },
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
    values: { kind: ["taken", "installed", "sent"] },
    help:
      "Snapshots by kind: taken (local compaction), installed (received from the leader), sent (to a follower).",
  },
  {
    name: "prkdb_raft_loop_utilization",
    type: "gauge",
    labels: ["node_id"],
    help:
      "The share of time the node's Raft loop spent working since the last scrape (0 to 1). Near 1 means the node is saturated.",
    present: "Always (Raft cluster only).",
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
    values: { rpc: RPCS },
    buckets: SECONDS_BUCKETS,
    help:
      "Raft traffic to peers, by kind (vote, appendEntries, heartbeat, installSnapshot, readIndex): a liveness ping's round trip (heartbeat), or how long a batch waited for the peer's stream to take it.",
  },
  {
    name: "prkdb_rpc_errors_total",
    type: "counter",
    labels: ["node_id", "peer", "rpc"],
    values: { rpc: RPCS },
    help:
      "Raft messages to peers that were lost (the peer's stream broke or could not be opened), and liveness pings that went unanswered, by kind. Raft retries.",
  },
  {
    name: "prkdb_raft_messages_refused_total",
    type: "counter",
    labels: ["node_id", "reason"],
    values: { reason: ["foreign_cluster", "stranger", "impostor", "malformed", "rejected"] },
    help:
      "Incoming Raft messages refused: foreign_cluster, stranger, impostor (the batch names another node than the sender's certificate), malformed, or rejected (unknown partition or group).",
  },
  {
    name: "prkdb_requests_refused_total",
    type: "counter",
    labels: ["node_id", "reason"],
    values: {
      reason: [
        "unknown_certificate",
        "unauthenticated",
        "forbidden",
        "too_many_connections",
        "too_large",
        "timeout",
      ],
    },
    help:
      "Connections and requests refused before any service saw them: unknown_certificate, unauthenticated, forbidden, too_many_connections, too_large, or timeout.",
  },
  {
    name: "prkdb_http_requests_total",
    type: "counter",
    labels: ["node_id", "lane"],
    values: { lane: ["lean", "general"] },
    help:
      "HTTP requests served, by lane: lean (a plain unary call or a peer's Raft stream, read straight from the connection's bytes) or general (every other request, on a connection that sent one).",
  },
  // Client sessions, per replica of each partition.
  {
    name: "prkdb_kv_sessions",
    type: "gauge",
    labels: P,
    help:
      "Client sessions this replica's state machine holds. Grows with clients; sessions expire after their idle timeout.",
    present: "For each partition this node replicates (Raft cluster only).",
  },
  {
    name: "prkdb_kv_session_duplicates_total",
    type: "counter",
    labels: P,
    help:
      "Retried session writes answered with their first result instead of being applied again. Rises with timeouts and failovers.",
  },
  {
    name: "prkdb_kv_forwarded_writes_total",
    type: "counter",
    labels: ["node_id", "via"],
    values: { via: ["stream", "call"] },
    help:
      "Writes this node passed on to their partition's leader: on the peer stream to it (stream), or in a KvService/Forward call, to a leader of an earlier version or before its first ping answer (call).",
  },
  {
    name: "prkdb_kv_durable_notice_answers_total",
    type: "counter",
    labels: ["node_id"],
    help:
      "Puts this node passed on (without a session or condition) and answered itself, once the leader said their entry is durable there and this node's own copy was durable too: a majority of three, so committed, a round trip before the leader's answer. Reads admitted after the leader's notice wait for the entry.",
  },
  // Replication, from each Raft leader to each follower.
  {
    name: "prkdb_replication_lag_seconds",
    type: "gauge",
    labels: F,
    help:
      "How far behind in time the follower is: the age of the oldest entry the leader has that the follower does not; 0 when caught up. Leader-follower, at a follower: the same from the leader's answer, and while it cannot sync, at least the time since its last successful sync (it grows while the leader is down).",
    present: `${LEADS} Leader-follower: at a follower, for itself (its own lag).`,
  },
  {
    name: "prkdb_replication_changes_pending",
    type: "gauge",
    labels: F,
    help:
      "The true backlog: entries the leader has that the follower has not acknowledged (last log index minus match index).",
    present: `${LEADS} Leader-follower: at the leader per follower, at a follower for itself.`,
  },
  {
    name: "prkdb_replication_active_followers",
    type: "gauge",
    labels: P,
    help: "Followers of a partition this leader heard from within the last election timeout.",
    present: `${LEADS} Leader-follower: at the leader.`,
  },
  {
    name: "prkdb_replication_changes_applied_total",
    type: "counter",
    labels: P,
    help:
      "Changes (committed writes) this replica applied to its state machine. Leader-follower: changes a follower applied (no partition label).",
  },
  {
    name: "prkdb_replication_follower_connected",
    type: "gauge",
    labels: N,
    help:
      "1 when this node reached the follower recently, else 0. Cluster: it answered a liveness ping within two election timeouts and refused none of this node's Raft messages in that time. Leader-follower: at the leader, the follower polled within three poll intervals; at a follower, its last request reached the leader.",
    present: FOLLOWS,
  },
  {
    name: "prkdb_replication_sync_errors_total",
    type: "counter",
    labels: ["node_id", "follower", "error_type"],
    values: { error_type: ["connection_error", "sync_failed", "apply_failed", "history_mismatch"] },
    help:
      "Failed syncs by error_type: connection_error (unreachable, timed out), sync_failed (the peer refused the batch), apply_failed (could not persist or apply), history_mismatch (leader-follower: the follower's offset belongs to another leader history; it stops applying). Alert on prkdb_replication_consecutive_failures, not on this rate: retries back off.",
  },
  {
    name: "prkdb_replication_last_sync_timestamp_seconds",
    type: "gauge",
    labels: N,
    help:
      "Unix time of the last successful sync: cluster, the follower's last answer to a liveness ping; leader-follower, the follower's last successful poll.",
    present: `${FOLLOWS} Absent until the first successful sync.`,
  },
  {
    name: "prkdb_replication_consecutive_failures",
    type: "gauge",
    labels: N,
    present: FOLLOWS,
    help:
      "Syncs with the follower that failed in a row since the last success (0 after one). Sustained errors show here whatever the retry backoff.",
  },
  {
    name: "prkdb_replication_sync_duration_seconds",
    type: "histogram",
    labels: N,
    buckets: SECONDS_BUCKETS,
    help:
      "Duration of a sync that carried changes: cluster, how long a batch with entries for the follower waited for the follower's stream to take it (one batch carries every partition's); leader-follower, a follower's poll that returned changes, apply included. Replies, heartbeats and empty polls are not syncs.",
  },
  {
    name: "prkdb_replication_batch_size",
    type: "histogram",
    labels: N,
    buckets: COUNT_BUCKETS,
    help:
      "Changes per batch, never 0: cluster, entries per batch written to the follower's stream, across partitions; leader-follower, changes per non-empty batch the follower applied. Replies and empty polls are not batches.",
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
  const ZERO = "From the start, at 0 for each known label value.";
  const rows = (filter: (m: MetricDefinition) => boolean) =>
    METRICS.filter(filter).map((m) =>
      `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(", ")} | ${m.help} | ${
        m.present ?? ZERO
      } |`
    ).join("\n");
  return `# Metrics

<!-- Generated from telemetry/metric_definitions.ts by \`deno task docs:metrics\`. Do not edit by hand: a test compares them. -->

Every node serves these at \`/metrics\` in Prometheus text format: counters and histograms
through OpenTelemetry's Prometheus exporter, gauges read and written at each scrape. Node ids are
positive integers, so \`prkdb_raft_voted_for\` shows the id voted for as a number, with 0 for "no
vote this term".

## Labels

Each label means one thing:

| Label | Meaning |
| --- | --- |
| \`node_id\` | The node that reports the series. |
| \`partition\` | The Raft group (absent in leader-follower mode, which has one history). |
| \`follower\` | The node that receives the changes. At a cluster leader, a follower of a partition it leads; at a leader-follower leader, one of its followers; at a leader-follower follower, itself (it measures its own sync). Never a follower's leader. |
| \`peer\` | The other end of a Raft RPC, whatever the roles (replies included). |
| \`outcome\`, \`kind\`, \`rpc\`, \`reason\`, \`error_type\` | The fixed values listed with each metric. |

## Series that exist

- **Counters and histograms** exist from the start at 0 for every known label value: each
  partition, each peer, each value listed in the help text. So \`rate()\` and \`increase()\` read 0
  on a quiet node instead of nothing.
- **Gauges describe the present**: they are read at each scrape, and a series that is no longer
  true disappears from the next scrape rather than keeping its last value. The "Series" column
  says when each exists. Replication gauges are exported only where they mean something now: a
  node that loses leadership of a partition stops exporting that partition's lag, backlog and
  active followers at once.

## Raft

| Metric | Type | Labels | Meaning | Series |
| --- | --- | --- | --- | --- |
${rows((m) => !m.name.startsWith("prkdb_replication_"))}

## Replication

Each Raft leader measures these for each of its followers; the leader-follower
\`ReplicationManager\` measures the same names for its pull followers.

| Metric | Type | Labels | Meaning | Series |
| --- | --- | --- | --- | --- |
${rows((m) => m.name.startsWith("prkdb_replication_"))}

## Useful queries

\`\`\`promql
# Leaders per node (should be even)
sum by (node_id) (prkdb_raft_is_leader)
# Leader changes per partition in 10 minutes (churn)
max by (partition) (increase(prkdb_raft_leader_changes_total[10m]))
# Seconds since the last successful sync, by follower
time() - prkdb_replication_last_sync_timestamp_seconds
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
