/**
 * The OpenTelemetry adapter: turns what a node does (core events, host observations, RPC
 * results) and what it is (status snapshots, read at scrape time) into the metrics of
 * {@linkcode METRICS}, served as Prometheus text. Counters go through OpenTelemetry's Prometheus
 * exporter; histograms, which take an observation for every frame and every write, are counted
 * by {@linkcode HistogramSeries} and written in the same format.
 *
 * @module
 */
import type { Attributes, Counter } from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import type { RaftEvent } from "../raft/events.ts";
import type { RaftStatus } from "../raft/node.ts";
import type { NodeId, RoleName } from "../raft/types.ts";
import { createInstruments } from "./instruments.ts";
import { HistogramSeries } from "./histogram_series.ts";
import { METRICS } from "./metric_definitions.ts";
import { completeExposition, type GaugeSample } from "./exposition.ts";

const ROLE_NUMBER: Record<RoleName, number> = {
  Follower: 0,
  PreCandidate: 1,
  Candidate: 2,
  Leader: 3,
};

/**
 * What the metrics read at each scrape.
 *
 * @example Usage
 * ```ts
 * import type { MetricsSource } from "@prkdb/prkdb/telemetry";
 * const empty: MetricsSource = { partitions: () => [], replication: () => [], loopUtilization: () => 0 };
 * ```
 */
export interface MetricsSource {
  /** Each replica's Raft status. */
  partitions(): readonly {
    partition: number;
    raft: RaftStatus;
    sessions?: number;
    /** The partition's replicas (this node included): their ids label peer series from the start. */
    replicas?: readonly NodeId[];
  }[];
  /** For each partition this node leads: each follower's backlog, time lag and activity. */
  replication(): readonly {
    partition: number;
    followers: readonly {
      follower: NodeId;
      pending: number;
      lagSeconds: number;
      active: boolean;
    }[];
  }[];
  /** The loop's busy share since the last call. */
  loopUtilization(): number;
}

/**
 * How a peer is doing, from this node's RPCs to it.
 *
 * @example Usage
 * ```ts
 * import type { PeerSync } from "@prkdb/prkdb/telemetry";
 * ```
 */
export interface PeerSync {
  /** The peer. */
  readonly peer: NodeId;
  /**
   * Whether the peer answered within two election timeouts and refused none of this node's
   * Raft traffic in that time: a peer that answers pings but refuses the messages themselves is
   * not connected in any sense that matters.
   */
  readonly connected: boolean;
  /** Whether it refused Raft traffic (answered it with an error) within two election timeouts. */
  readonly refusing: boolean;
  /** When the last RPC succeeded (ms since the epoch), 0 if never. */
  readonly lastSyncMs: number;
  /** Failed RPCs so far. */
  readonly errorCount: number;
  /** Failed RPCs in a row since the last success. */
  readonly consecutiveFailures: number;
  /** The last failure's message. */
  readonly lastError: string | undefined;
}

/** The error types of `prkdb_replication_sync_errors_total`. */
export type SyncErrorType = "connection_error" | "sync_failed" | "apply_failed";

/**
 * A node's metrics.
 *
 * @example Record and scrape
 * ```ts
 * import { PrkDbMetrics } from "@prkdb/prkdb/telemetry";
 * const metrics = new PrkDbMetrics(1, { partitions: () => [], replication: () => [], loopUtilization: () => 0 });
 * metrics.proposal(0, "committed", 0.004);
 * const text = await metrics.scrape();
 * console.log(text.includes("prkdb_raft_proposals_total")); // true
 * await metrics.shutdown();
 * ```
 */
export class PrkDbMetrics {
  readonly #node: string;
  readonly #exporter: PrometheusExporter;
  readonly #provider: MeterProvider;
  readonly #counters: ReadonlyMap<string, Counter>;
  /** Counts not yet handed to their counters, by metric name and label values. */
  readonly #sums = new Map<string, { counter: Counter; attrs: Attributes; value: number }>();
  /** Histograms, counted here and written out at each scrape (see histogram_series.ts). */
  readonly #histograms: HistogramSeries;
  readonly #peers = new Map<
    NodeId,
    {
      lastSyncMs: number;
      /** When the peer last answered Raft traffic with an error (ms since the epoch). */
      refusedMs: number;
      errorCount: number;
      failures: number;
      lastError?: string;
    }
  >();
  readonly #connectedWindowMs: number;
  #source: MetricsSource | undefined;

  /**
   * Creates the metrics of a node.
   *
   * @param nodeId The node, as the `node_id` label.
   * @param source What to read at scrape time; or give it later with {@linkcode watch}, once
   *   it exists (a node's host is built after its metrics, which it reports to).
   * @param connectedWindowMs How recent a successful RPC makes a peer "connected". Default 2000.
   */
  constructor(nodeId: NodeId, source?: MetricsSource, connectedWindowMs = 2000) {
    this.#node = String(nodeId);
    this.#connectedWindowMs = connectedWindowMs;
    this.#exporter = new PrometheusExporter({
      preventServerStart: true,
      withoutScopeInfo: true,
      withoutTargetInfo: true,
    });
    this.#provider = new MeterProvider({ readers: [this.#exporter] });
    const meter = this.#provider.getMeter("prkdb");
    const instruments = createInstruments(meter, (m) => m.type === "counter");
    this.#counters = instruments.counters;
    this.#histograms = new HistogramSeries(METRICS, { node_id: this.#node });
    this.#source = source;
  }

  /**
   * Reads the gauges from `source` at every scrape from now on.
   *
   * @param source The node's partitions, replication progress and loop utilization.
   */
  watch(source: MetricsSource): void {
    this.#source = source;
  }

  /** Every gauge series true now: what this node replicates, leads and reaches. */
  #gauges(source: MetricsSource, partitions: ReturnType<MetricsSource["partitions"]>) {
    const out: GaugeSample[] = [];
    const gauge = (name: string, value: number, attrs: Record<string, string>) =>
      out.push({ name, value, labels: { node_id: this.#node, ...attrs } });
    for (const { partition, raft, sessions } of partitions) {
      const a = { partition: String(partition) };
      gauge("prkdb_raft_current_term", raft.term, a);
      gauge("prkdb_raft_commit_index", raft.commitIndex, a);
      gauge("prkdb_raft_last_log_index", raft.lastLogIndex, a);
      gauge("prkdb_raft_voted_for", raft.votedFor, a);
      gauge("prkdb_raft_role", ROLE_NUMBER[raft.role], a);
      gauge("prkdb_raft_is_leader", raft.role === "Leader" ? 1 : 0, a);
      gauge("prkdb_raft_applied_index", raft.lastApplied, a);
      if (sessions !== undefined) gauge("prkdb_kv_sessions", sessions, a);
    }
    // Only partitions this node leads now: a former leader's lag and backlog are not exported.
    const followersNow = new Set<NodeId>();
    for (const { partition, followers } of source.replication()) {
      gauge("prkdb_replication_active_followers", followers.filter((f) => f.active).length, {
        partition: String(partition),
      });
      for (const f of followers) {
        followersNow.add(f.follower);
        const a = { partition: String(partition), follower: String(f.follower) };
        gauge("prkdb_replication_lag_seconds", f.lagSeconds, a);
        gauge("prkdb_replication_changes_pending", f.pending, a);
      }
    }
    const peers = new Map(this.peers().map((p) => [p.peer, p]));
    for (const follower of [...followersNow].sort((a, b) => a - b)) {
      const p = peers.get(follower);
      const a = { follower: String(follower) };
      gauge("prkdb_replication_follower_connected", p?.connected ? 1 : 0, a);
      if (p && p.lastSyncMs > 0) {
        gauge("prkdb_replication_last_sync_timestamp_seconds", p.lastSyncMs / 1000, a);
      }
      gauge("prkdb_replication_consecutive_failures", p?.consecutiveFailures ?? 0, a);
    }
    gauge("prkdb_raft_loop_utilization", source.loopUtilization(), {});
    return out;
  }

  /**
   * Counts into a plain sum per series; {@linkcode scrape} hands the sums to the counters. Some
   * counters move on every write, and a counter's own `add` hashes its labels each time.
   */
  #add(name: string, value: number, attrs: Record<string, string>): void {
    let key = name;
    for (const k in attrs) key += `\0${k}=${attrs[k]}`;
    const sum = this.#sums.get(key);
    if (sum) {
      sum.value += value;
      return;
    }
    const counter = this.#counters.get(name);
    if (!counter) throw new Error(`Metric ${name} is not a counter in the catalogue`);
    this.#sums.set(key, { counter, attrs: { node_id: this.#node, ...attrs }, value });
  }

  /** Hands the sums counted since the last scrape to the counters. */
  #flushSums(): void {
    for (const sum of this.#sums.values()) {
      if (sum.value === 0) continue;
      sum.counter.add(sum.value, sum.attrs);
      sum.value = 0;
    }
  }

  /**
   * Counts the core's events of one partition.
   *
   * @param partition The partition.
   * @param events Its events from one round.
   */
  events(partition: number, events: readonly RaftEvent[]): void {
    const a = { partition: String(partition) };
    for (const e of events) {
      if (e.type === "ElectionStarted" && !e.preVote) this.#add("prkdb_raft_elections_total", 1, a);
      else if (e.type === "LeaderChanged" && e.leaderId !== 0) {
        this.#add("prkdb_raft_leader_changes_total", 1, a);
      } else if (e.type === "QuorumLost") this.#add("prkdb_raft_quorum_lost_total", 1, a);
      else if (e.type === "SnapshotInstalled") {
        this.#add("prkdb_raft_snapshots_total", 1, { ...a, kind: "installed" });
      } else if (e.type === "SnapshotSent") {
        this.#add("prkdb_raft_snapshots_total", 1, { ...a, kind: "sent" });
      }
    }
  }

  /**
   * Records a finished client write.
   *
   * @param partition The partition.
   * @param outcome How it ended.
   * @param seconds How long it took.
   */
  proposal(partition: number, outcome: string, seconds: number): void {
    const a = { partition: String(partition) };
    this.#add("prkdb_raft_proposals_total", 1, { ...a, outcome });
    if (outcome === "committed") {
      this.#histograms.observe("prkdb_raft_proposal_duration_seconds", seconds, a);
    }
  }

  /**
   * Records one durable storage write.
   *
   * @param seconds Its duration.
   */
  storageWrite(seconds: number): void {
    this.#histograms.observe("prkdb_storage_write_duration_seconds", seconds, {});
  }

  /**
   * Counts applied changes.
   *
   * @param partition The partition.
   * @param count How many.
   */
  applied(partition: number, count: number): void {
    this.#add("prkdb_replication_changes_applied_total", count, { partition: String(partition) });
  }

  /**
   * Counts a session write answered from the session table instead of applied again.
   *
   * @param partition The partition.
   */
  duplicate(partition: number): void {
    this.#add("prkdb_kv_session_duplicates_total", 1, { partition: String(partition) });
  }

  /**
   * Counts a leadership transfer leader balancing started.
   *
   * @param partition The partition this node led.
   * @param reason Back to its preferred replica, or to the node its writes come through.
   */
  handedOff(partition: number, reason: "preferred" | "writes"): void {
    this.#add("prkdb_raft_leadership_transfers_total", 1, {
      partition: String(partition),
      reason,
    });
  }

  /**
   * Counts writes passed on to their partition's leader.
   *
   * @param via On the peer stream, or in a `Forward` call.
   * @param count How many.
   */
  forwarded(via: "stream" | "call", count: number): void {
    this.#add("prkdb_kv_forwarded_writes_total", count, { via });
  }

  /** Counts a put passed on that this node answered on its leader's durable notice. */
  durableNoticeAnswer(): void {
    this.#add("prkdb_kv_durable_notice_answers_total", 1, {});
  }

  /**
   * Counts a snapshot taken by compaction.
   *
   * @param partition The partition.
   */
  snapshotTaken(partition: number): void {
    this.#add("prkdb_raft_snapshots_total", 1, { partition: String(partition), kind: "taken" });
  }

  /**
   * Counts refused incoming Raft messages.
   *
   * @param reason Why they were refused.
   * @param count How many.
   */
  refused(reason: string, count: number): void {
    this.#add("prkdb_raft_messages_refused_total", count, { reason });
  }

  /**
   * Counts a connection or request refused before any service saw it.
   *
   * @param reason Why: unknown_certificate, unauthenticated, forbidden, too_many_connections,
   *   too_large or timeout.
   */
  requestRefused(reason: string): void {
    this.#add("prkdb_requests_refused_total", 1, { reason });
  }

  /**
   * Counts an HTTP request served.
   *
   * @param lane Where: `lean` (a plain unary call or a peer's stream, read from its bytes) or
   *   `general`.
   */
  requestServed(lane: string): void {
    this.#add("prkdb_http_requests_total", 1, { lane });
  }

  /**
   * Records a Raft call to a peer that completed or failed: a liveness ping's answer, or
   * messages lost because the peer's stream broke. Only an answer proves the peer connected.
   *
   * @param peer The peer.
   * @param rpc The kind of message.
   * @param seconds Its duration; undefined for lost messages, which had none.
   * @param errorType Set when it failed.
   * @param error The failure.
   * @param refusal Whether the peer answered with the failure: it refused the messages, rather
   *   than not being reached (the node decides, see `server/node.ts`).
   */
  rpc(
    peer: NodeId,
    rpc: string,
    seconds: number | undefined,
    errorType?: SyncErrorType,
    error?: unknown,
    refusal = false,
  ): void {
    const a = { peer: String(peer), rpc };
    if (seconds !== undefined) this.#histograms.observe("prkdb_rpc_duration_seconds", seconds, a);
    const state = this.#peer(peer);
    if (errorType) {
      this.#add("prkdb_rpc_errors_total", 1, a);
      this.syncError(peer, errorType, error);
      if (refusal) state.refusedMs = Date.now();
      return;
    }
    state.lastSyncMs = Date.now();
    state.failures = 0;
  }

  /**
   * Records a batch of Raft messages handed to a peer's stream. It says nothing about whether
   * the peer is up (the connection may be breaking): pings decide that.
   *
   * @param peer The peer.
   * @param rpc The kind of message.
   * @param entries Entries the batch carried (AppendEntries).
   * @param seconds How long the batch waited for the stream to take it.
   */
  sent(peer: NodeId, rpc: string, entries: number, seconds: number): void {
    this.#histograms.observe("prkdb_rpc_duration_seconds", seconds, { peer: String(peer), rpc });
    // A sync is a batch that carried changes: replies and probes carry none.
    if (rpc === "appendEntries" && entries > 0) {
      this.#histograms.observe("prkdb_replication_sync_duration_seconds", seconds, {
        follower: String(peer),
      });
      this.#histograms.observe("prkdb_replication_batch_size", entries, { follower: String(peer) });
    }
  }

  /**
   * Counts a failed sync with a follower.
   *
   * @param peer The follower.
   * @param errorType What kind of failure.
   * @param error The failure.
   */
  syncError(peer: NodeId, errorType: SyncErrorType, error?: unknown): void {
    const state = this.#peer(peer);
    state.errorCount++;
    state.failures++;
    state.lastError = error instanceof Error
      ? error.message
      : error === undefined
      ? errorType
      : String(error);
    this.#add("prkdb_replication_sync_errors_total", 1, {
      follower: String(peer),
      error_type: errorType,
    });
  }

  #peer(peer: NodeId) {
    let state = this.#peers.get(peer);
    if (!state) {
      this.#peers.set(peer, state = { lastSyncMs: 0, refusedMs: 0, errorCount: 0, failures: 0 });
    }
    return state;
  }

  /**
   * How each peer this node has sent to is doing.
   *
   * @returns One entry per peer.
   */
  peers(): PeerSync[] {
    const now = Date.now();
    const recent = (ms: number) => ms > 0 && now - ms < this.#connectedWindowMs;
    return [...this.#peers].map(([peer, s]) => ({
      peer,
      connected: recent(s.lastSyncMs) && !recent(s.refusedMs),
      refusing: recent(s.refusedMs),
      lastSyncMs: s.lastSyncMs,
      errorCount: s.errorCount,
      consecutiveFailures: s.failures,
      lastError: s.lastError,
    }));
  }

  /**
   * Collects every metric as Prometheus text.
   *
   * @returns The exposition.
   */
  async scrape(): Promise<string> {
    this.#flushSums();
    const { resourceMetrics } = await this.#exporter.collect();
    const exported = new PrometheusSerializer(undefined, false, undefined, true, true).serialize(
      resourceMetrics,
    ) + "\n" + this.#histograms.exposition();
    const source = this.#source;
    const partitions = source?.partitions() ?? [];
    const peers = new Set<NodeId>(this.#peers.keys());
    for (const p of partitions) for (const id of p.replicas ?? []) peers.add(id);
    peers.delete(Number(this.#node));
    const peerIds = [...peers].sort((a, b) => a - b).map(String);
    return completeExposition(exported, source ? this.#gauges(source, partitions) : [], {
      node_id: [this.#node],
      partition: partitions.map((p) => String(p.partition)),
      peer: peerIds,
      follower: peerIds,
    });
  }

  /** Releases the meter provider. */
  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}
