/**
 * Health and state of a node and of each of its partitions: healthy, lag seconds, last sync,
 * error and backlog in entries; last change id, changes applied, last sync time, connected,
 * error count and last error.
 *
 * @module
 */
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import type { PrkDbMetrics } from "../telemetry/prkdb_metrics.ts";

/** One partition's health on this node. */
export interface PartitionHealthJson {
  /** The partition. */
  partition: number;
  /** This replica's Raft role. */
  role: string;
  /** The leader it knows, 0 for none. */
  leader: number;
  /** The current term. */
  term: number;
  /** The highest index known committed. */
  commitIndex: number;
  /** The highest index applied here. */
  lastApplied: number;
  /** Whether the partition can serve: a leader is known, and a leader reaches a quorum. */
  healthy: boolean;
  /** Why it is not healthy. */
  reason?: string;
  /** At a leader: the largest follower lag; at a follower: time since it last reached its leader. */
  lagSeconds: number;
  /** ISO time of the last successful sync with a peer of this partition; empty if never. */
  lastSync: string;
  /** At a leader: the largest follower backlog in entries; at a follower: committed but not yet applied. */
  backlogEntries: number;
}

/** A node's health. */
export interface NodeHealthJson {
  /** Whether every partition on this node is healthy. */
  healthy: boolean;
  /** The node. */
  node: number;
  /** Why not, partition by partition. */
  reason?: string;
  /** Each partition it replicates. */
  partitions: PartitionHealthJson[];
}

/** A node's replication state. */
export interface NodeStateJson {
  /** The last applied change, as "partition:index". */
  lastChangeId: string;
  /** Changes applied since start. */
  changesApplied: number;
  /** ISO time of the last successful sync with any peer. */
  lastSyncTime: string;
  /** Whether every peer is reachable. */
  connected: boolean;
  /** Failed syncs since start. */
  errorCount: number;
  /** The last sync failure, empty if none. */
  lastError: string;
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : "");

/** Counts applied changes and remembers the last one, for the state document. */
export class AppliedCounter {
  total = 0;
  last = "";

  record(partition: number, count: number, index: number): void {
    this.total += count;
    this.last = `${partition}:${index}`;
  }
}

/**
 * Computes a node's health. A partition is healthy when it has a leader, and, at the leader,
 * when a majority of its voters is reachable. A node whose storage failed (a full disk, an I/O
 * error) is unhealthy whatever its partitions say, with the failure as the reason.
 */
export function nodeHealth(host: MultiRaftHost, metrics: PrkDbMetrics): NodeHealthJson {
  const peers = new Map(metrics.peers().map((p) => [p.peer, p]));
  const replication = new Map(host.replication().map((r) => [r.partition, r.followers]));
  const now = Date.now();
  // A replica removed from its group by a membership change serves nothing: it is left out.
  const member = (
    s: { raft: { membership: { voters: readonly number[]; learners: readonly number[] } } },
  ) =>
    s.raft.membership.voters.includes(host.nodeId) ||
    s.raft.membership.learners.includes(host.nodeId);
  const partitions = host.status().filter(member).map(
    ({ partition, replicas, raft, fatal }): PartitionHealthJson => {
      const followers = replication.get(partition);
      const others = replicas.filter((id) => id !== host.nodeId);
      const lastSyncMs = Math.max(0, ...others.map((id) => peers.get(id)?.lastSyncMs ?? 0));
      let reason: string | undefined;
      let lagSeconds = 0;
      let backlogEntries = raft.commitIndex - raft.lastApplied;
      if (raft.leaderId === 0) reason = "no leader is known";
      if (fatal) reason = `stopped: an entry could not be applied (${fatal})`;
      else if (followers) {
        lagSeconds = Math.max(0, ...followers.map((f) => f.lagSeconds));
        backlogEntries = Math.max(0, ...followers.map((f) => f.pending));
        // A majority of the voters, as Raft counts it (learners do not count).
        const voters = raft.membership.voters;
        const reachable = (voters.includes(host.nodeId) ? 1 : 0) +
          followers.filter((f) => voters.includes(f.follower) && peers.get(f.follower)?.connected)
            .length;
        if (reachable < Math.floor(voters.length / 2) + 1) {
          reason = `leader reaches only ${reachable} of ${voters.length} voters`;
        }
      } else if (raft.leaderId !== 0) {
        const leader = peers.get(raft.leaderId);
        lagSeconds = leader?.connected
          ? 0
          : leader && leader.lastSyncMs > 0
          ? (now - leader.lastSyncMs) / 1000
          : 0;
      }
      return {
        partition,
        role: raft.role,
        leader: raft.leaderId,
        term: raft.term,
        commitIndex: raft.commitIndex,
        lastApplied: raft.lastApplied,
        healthy: reason === undefined,
        ...(reason ? { reason } : {}),
        lagSeconds,
        lastSync: iso(lastSyncMs),
        backlogEntries,
      };
    },
  );
  const unhealthy = partitions.filter((p) => !p.healthy);
  const failure = host.failure;
  if (failure) {
    // It cannot write, so it can neither acknowledge nor vote: whatever its roles say.
    return {
      healthy: false,
      node: host.nodeId,
      reason: `storage failed, the node refuses every write: ${failure.message}`,
      partitions,
    };
  }
  return {
    healthy: unhealthy.length === 0,
    node: host.nodeId,
    ...(unhealthy.length > 0
      ? { reason: unhealthy.map((p) => `partition ${p.partition}: ${p.reason}`).join("; ") }
      : {}),
    partitions,
  };
}

/** Computes a node's replication state. */
export function nodeState(metrics: PrkDbMetrics, applied: AppliedCounter): NodeStateJson {
  const peers = metrics.peers();
  const lastError =
    peers.filter((p) => p.lastError).map((p) => `node ${p.peer}: ${p.lastError}`).at(-1) ?? "";
  return {
    lastChangeId: applied.last,
    changesApplied: applied.total,
    lastSyncTime: iso(Math.max(0, ...peers.map((p) => p.lastSyncMs))),
    connected: peers.length > 0 && peers.every((p) => p.connected),
    errorCount: peers.reduce((n, p) => n + p.errorCount, 0),
    lastError,
  };
}
