/**
 * The status document: what every node of a cluster is doing, as one JSON document served at
 * `GET /status.json` (open like `/health`: it carries no keys or values). The cluster view at
 * `/ui` draws it, and a command-line `status` can print it.
 *
 * Shape (version 1; fields are only ever added, a change of meaning gets a new version):
 *
 * ```text
 * ClusterStatusJson
 *   version: 1
 *   cluster: string                 cluster name
 *   servedBy: number                node that built the document
 *   time: string                    ISO time it was built
 *   partitions: number              partitions in the cluster
 *   demoActions: boolean            whether the serving node offers the demo actions
 *   nodeActions: boolean            whether it can also pause, kill and restart nodes
 *   nodes: NodeEntryJson[]          every member, by id
 *     id, url, reachable, error?    error when the node did not answer
 *     status?: NodeStatusJson       what the node said about itself
 *       node, time, healthy, reason?
 *       totals / rates: { messagesSent, messagesReceived, proposals }  (rates per second)
 *       rateWindowSeconds
 *       replicas: ReplicaStatusJson[]  one per partition the node replicates
 *         partition, replicas, voters, learners, role, term, leader, commitIndex, lastApplied,
 *         lastLogIndex, logLength, snapshotIndex, healthy, reason?, lagSeconds, backlogEntries
 *       events: ActivityEvent[]     recent elections, leader changes, transfers (oldest first)
 * ```
 *
 * The serving node builds its own part and asks every other member for theirs
 * (`/status.json?scope=node`) with a short deadline, so one request gives the whole cluster
 * and a browser needs no cross-origin access to the other nodes.
 *
 * @module
 */
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import type { PrkDbMetrics } from "../telemetry/prkdb_metrics.ts";
import type { ActivityCounts, ActivityEvent, ActivityRecorder } from "./activity.ts";
import { nodeHealth } from "./health.ts";

/** The document's version: a consumer should refuse one it does not know. */
export const STATUS_VERSION = 1;

/** One replica of a partition, as the node holding it sees it. */
export interface ReplicaStatusJson {
  /** The partition. */
  partition: number;
  /** The partition's replicas, preferred leader first. */
  replicas: number[];
  /** The partition group's voters, as this replica's log has them. */
  voters: number[];
  /** Its learners (replicas catching up before they vote). */
  learners: number[];
  /** This replica's role: `Follower`, `PreCandidate`, `Candidate` or `Leader`. */
  role: string;
  /** Its current term. */
  term: number;
  /** The leader it knows, 0 for none. */
  leader: number;
  /** The highest index it knows committed. */
  commitIndex: number;
  /** The highest index it applied. */
  lastApplied: number;
  /** The index of its last log entry. */
  lastLogIndex: number;
  /** Entries held in its log after the snapshot. */
  logLength: number;
  /** The last index covered by its snapshot (0 for none). */
  snapshotIndex: number;
  /** Whether the partition can serve from here (see `/health`). */
  healthy: boolean;
  /** Why not. */
  reason?: string;
  /** At a leader: the largest follower lag; at a follower: time since it reached its leader. */
  lagSeconds: number;
  /** At a leader: the largest follower backlog in entries; at a follower: committed, not applied. */
  backlogEntries: number;
}

/** What one node says about itself. */
export interface NodeStatusJson {
  /** The node. */
  node: number;
  /** ISO time the node built it. */
  time: string;
  /** Whether every replica on it is healthy and its storage works. */
  healthy: boolean;
  /** Why not. */
  reason?: string;
  /** Counts since the node started. */
  totals: ActivityCounts;
  /** Per-second rates over the last `rateWindowSeconds`. */
  rates: ActivityCounts;
  /** The window of `rates`, in seconds. */
  rateWindowSeconds: number;
  /** Its replicas, by partition. */
  replicas: ReplicaStatusJson[];
  /** Recent elections, leader changes and transfers, oldest first. */
  events: ActivityEvent[];
}

/** One member in the cluster document. */
export interface NodeEntryJson {
  /** The node. */
  id: number;
  /** Its base URL. */
  url: string;
  /** Whether it answered. */
  reachable: boolean;
  /** Why it did not. */
  error?: string;
  /** What it said. */
  status?: NodeStatusJson;
}

/** The whole cluster's status document (see the module documentation for its shape). */
export interface ClusterStatusJson {
  /** {@linkcode STATUS_VERSION}. */
  version: number;
  /** The cluster's name. */
  cluster: string;
  /** The node that built the document. */
  servedBy: number;
  /** ISO time it was built. */
  time: string;
  /** Partitions in the cluster. */
  partitions: number;
  /** Whether the serving node offers the demo actions (`serve --demo-actions`). */
  demoActions: boolean;
  /** Whether it can also pause, kill and restart nodes (a demo cluster's launcher runs them). */
  nodeActions: boolean;
  /** Every member, by id. */
  nodes: NodeEntryJson[];
}

/**
 * What this node says about itself.
 *
 * @param host The node's host.
 * @param metrics Its metrics (for health).
 * @param activity Its activity.
 * @returns The node's part of the status document.
 */
export function buildNodeStatus(
  host: MultiRaftHost,
  metrics: PrkDbMetrics,
  activity: ActivityRecorder,
): NodeStatusJson {
  const health = nodeHealth(host, metrics);
  const byPartition = new Map(health.partitions.map((p) => [p.partition, p]));
  // Replicas removed from their group by a membership change serve nothing: left out.
  const serving = host.status().filter(({ partition }) => host.isReplica(partition));
  const replicas = serving.map(({ partition, replicas, raft }): ReplicaStatusJson => {
    const h = byPartition.get(partition);
    return {
      partition,
      replicas: [...replicas],
      voters: [...raft.membership.voters],
      learners: [...raft.membership.learners],
      role: raft.role,
      term: raft.term,
      leader: raft.leaderId,
      commitIndex: raft.commitIndex,
      lastApplied: raft.lastApplied,
      lastLogIndex: raft.lastLogIndex,
      logLength: Math.max(0, raft.lastLogIndex - raft.firstIndex + 1),
      snapshotIndex: raft.firstIndex - 1,
      healthy: h?.healthy ?? false,
      ...(h?.reason ? { reason: h.reason } : {}),
      lagSeconds: h?.lagSeconds ?? 0,
      backlogEntries: h?.backlogEntries ?? 0,
    };
  }).sort((a, b) => a.partition - b.partition);
  return {
    node: host.nodeId,
    time: new Date().toISOString(),
    healthy: health.healthy,
    ...(health.reason ? { reason: health.reason } : {}),
    totals: activity.totals(),
    rates: activity.rates(),
    rateWindowSeconds: activity.windowSeconds,
    replicas,
    events: activity.recent(),
  };
}

/** Options for {@linkcode buildClusterStatus}. */
export interface ClusterStatusOptions {
  /** The cluster's name. */
  cluster: string;
  /** This node's id. */
  self: number;
  /** Partitions in the cluster. */
  partitions: number;
  /** Every member's base URL, this node included. */
  nodes: ReadonlyMap<number, string>;
  /** This node's own status. */
  local: NodeStatusJson;
  /** How to reach the others (mutual TLS when configured). Default `fetch`. */
  fetch?: typeof fetch;
  /** Whether this node offers the demo actions. Default false. */
  demoActions?: boolean;
  /** Whether it can also pause, kill and restart nodes. Default false. */
  nodeActions?: boolean;
  /** How long to wait for each other node. Default 1000 ms. */
  timeoutMs?: number;
}

/**
 * Builds the whole cluster's document: this node's status, and every other member's, asked
 * for in parallel with a deadline (a node that does not answer in time is `reachable: false`).
 *
 * @param options Who is in the cluster and how to reach them.
 * @returns The document.
 *
 * @example Usage
 * ```ts
 * import { buildClusterStatus } from "@prkdb/prkdb/server";
 * const doc = await buildClusterStatus({
 *   cluster: "prkdb",
 *   self: 1,
 *   partitions: 0,
 *   nodes: new Map([[1, "http://127.0.0.1:8081"]]),
 *   local: {
 *     node: 1, time: "", healthy: true, rateWindowSeconds: 5, replicas: [], events: [],
 *     totals: { messagesSent: 0, messagesReceived: 0, proposals: 0 },
 *     rates: { messagesSent: 0, messagesReceived: 0, proposals: 0 },
 *   },
 * });
 * console.log(doc.nodes[0].reachable); // true
 * ```
 */
export async function buildClusterStatus(
  options: ClusterStatusOptions,
): Promise<ClusterStatusJson> {
  const get = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 1000;
  const ids = [...options.nodes.keys()].sort((a, b) => a - b);
  const nodes = await Promise.all(ids.map(async (id): Promise<NodeEntryJson> => {
    const url = options.nodes.get(id)!;
    if (id === options.self) return { id, url, reachable: true, status: options.local };
    try {
      const response = await get(`${url}/status.json?scope=node`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return { id, url, reachable: false, error: `HTTP ${response.status}` };
      }
      return { id, url, reachable: true, status: await response.json() as NodeStatusJson };
    } catch (error) {
      return { id, url, reachable: false, error: (error as Error).message };
    }
  }));
  return {
    version: STATUS_VERSION,
    cluster: options.cluster,
    servedBy: options.self,
    time: new Date().toISOString(),
    partitions: options.partitions,
    demoActions: options.demoActions ?? false,
    nodeActions: options.nodeActions ?? false,
    nodes,
  };
}

/**
 * Shares one build of a document among the requests that arrive within `maxAgeMs`, so many
 * open views (or a flood of requests to this open endpoint) do not multiply the calls to peers.
 *
 * @param build Builds a fresh document.
 * @param maxAgeMs How long one build is reused. Default 250 ms.
 * @param now The clock, in milliseconds.
 * @returns A function giving the shared document.
 *
 * @example Usage
 * ```ts
 * import { sharedBuild } from "@prkdb/prkdb/server";
 * let builds = 0;
 * const get = sharedBuild(() => Promise.resolve(++builds));
 * await Promise.all([get(), get()]);
 * console.log(builds); // 1
 * ```
 */
export function sharedBuild<T>(
  build: () => Promise<T>,
  maxAgeMs = 250,
  now: () => number = Date.now,
): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const t = now();
    if (!last || t - last.at >= maxAgeMs) last = { at: t, value: build() };
    return last.value;
  };
}
