import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { RaftStatus } from "../raft/node.ts";
import { PrkDbMetrics } from "./prkdb_metrics.ts";

const status: RaftStatus = {
  id: 1,
  role: "Leader",
  term: 4,
  votedFor: 1,
  leaderId: 1,
  commitIndex: 9,
  lastApplied: 9,
  lastLogIndex: 12,
  lastLogTerm: 4,
  firstIndex: 1,
  logBytes: 0,
  followers: [],
};

Deno.test("PrkDbMetrics: gauges come from the source at scrape time, with node_id and partition", async () => {
  const m = new PrkDbMetrics(1, {
    partitions: () => [{ partition: 3, raft: status }],
    replication: () => [{
      partition: 3,
      followers: [{ follower: 2, pending: 3, lagSeconds: 1.5, active: true }],
    }],
    loopUtilization: () => 0.25,
  });
  try {
    const text = await m.scrape();
    for (
      const line of [
        'prkdb_raft_current_term{node_id="1",partition="3"} 4',
        'prkdb_raft_voted_for{node_id="1",partition="3"} 1',
        'prkdb_raft_role{node_id="1",partition="3"} 3',
        'prkdb_raft_last_log_index{node_id="1",partition="3"} 12',
        'prkdb_replication_lag_seconds{node_id="1",partition="3",follower="2"} 1.5',
        'prkdb_replication_changes_pending{node_id="1",partition="3",follower="2"} 3',
        'prkdb_replication_active_followers{node_id="1",partition="3"} 1',
        'prkdb_raft_loop_utilization{node_id="1"} 0.25',
      ]
    ) assertStringIncludes(text, line);
  } finally {
    await m.shutdown();
  }
});

Deno.test("PrkDbMetrics: events, proposals and RPC results become counters and histograms", async () => {
  const m = new PrkDbMetrics(2, {
    partitions: () => [],
    replication: () => [],
    loopUtilization: () => 0,
  }, 60_000);
  try {
    m.events(0, [
      { type: "ElectionStarted", preVote: true, term: 2 },
      { type: "ElectionStarted", preVote: false, term: 2 },
      { type: "LeaderChanged", leaderId: 2, term: 2 },
    ]);
    m.proposal(0, "committed", 0.003);
    m.proposal(0, "timeout", 5);
    m.rpc(3, "appendEntries", 40, 0.002);
    m.rpc(3, "heartbeat", 0, 0.001, "connection_error", new Error("connection refused"));
    const text = await m.scrape();
    assertStringIncludes(
      text,
      'prkdb_raft_elections_total{node_id="2",partition="0"} 1',
      "PreVote rounds are not elections",
    );
    assertStringIncludes(
      text,
      'prkdb_raft_proposals_total{node_id="2",partition="0",outcome="timeout"} 1',
    );
    assertStringIncludes(text, 'prkdb_replication_batch_size_sum{node_id="2",follower="3"} 40');
    assertStringIncludes(
      text,
      'prkdb_replication_sync_errors_total{node_id="2",follower="3",error_type="connection_error"} 1',
    );
    assertStringIncludes(text, 'prkdb_replication_follower_connected{node_id="2",follower="3"} 1');
    const [peer] = m.peers();
    assertEquals([peer.peer, peer.connected, peer.errorCount, peer.lastError], [
      3,
      true,
      1,
      "connection refused",
    ]);
    assert(peer.lastSyncMs > 0);
  } finally {
    await m.shutdown();
  }
});
