import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { RaftStatus } from "../raft/node.ts";
import { PrkDbMetrics } from "./prkdb_metrics.ts";
import { METRICS } from "./metric_definitions.ts";
import { parsePrometheus } from "../tests/cluster/prometheus.ts";

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
  membership: { voters: [1, 2, 3], learners: [] },
  membershipIndex: 0,
  quiescent: false,
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

/** A node that leads partition 0, with `follower` caught up and active. */
const leadingTo = (follower: number) => ({
  partitions: () => [],
  replication: () => [{
    partition: 0,
    followers: [{ follower, pending: 0, lagSeconds: 0, active: true }],
  }],
  loopUtilization: () => 0,
});

Deno.test("PrkDbMetrics: events, proposals and RPC results become counters and histograms", async () => {
  const m = new PrkDbMetrics(2, leadingTo(3), 60_000);
  try {
    m.events(0, [
      { type: "ElectionStarted", preVote: true, term: 2 },
      { type: "ElectionStarted", preVote: false, term: 2 },
      { type: "LeaderChanged", leaderId: 2, term: 2 },
      { type: "LeaderChanged", leaderId: 0, term: 3 }, // no leader known: not a leader change
    ]);
    m.proposal(0, "committed", 0.003);
    m.proposal(0, "timeout", 5);
    m.sent(3, "appendEntries", 40, 0.002);
    m.sent(3, "appendEntries", 0, 0.001); // a reply: not a batch
    assert(!m.peers().some((p) => p.lastSyncMs > 0), "a batch written to a stream proves nothing");
    m.rpc(3, "heartbeat", 0.001); // a ping answered
    m.rpc(3, "heartbeat", 0.001, "connection_error", new Error("connection refused"));
    m.rpc(3, "vote", undefined, "connection_error", new Error("stream broke")); // lost: no duration
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
    assertStringIncludes(text, 'prkdb_raft_leader_changes_total{node_id="2",partition="0"} 1');
    assertStringIncludes(text, 'prkdb_replication_batch_size_sum{node_id="2",follower="3"} 40');
    assertStringIncludes(
      text,
      'prkdb_replication_batch_size_count{node_id="2",follower="3"} 1',
      "a batch that carried no entries is not a sync",
    );
    assertStringIncludes(
      text,
      'prkdb_replication_consecutive_failures{node_id="2",follower="3"} 2',
    );
    assertStringIncludes(
      text,
      'prkdb_replication_sync_errors_total{node_id="2",follower="3",error_type="connection_error"} 2',
    );
    assertStringIncludes(text, 'prkdb_replication_follower_connected{node_id="2",follower="3"} 1');
    assertStringIncludes(text, 'prkdb_rpc_errors_total{node_id="2",peer="3",rpc="vote"} 1');
    assertStringIncludes(
      text,
      'prkdb_rpc_duration_seconds_count{node_id="2",peer="3",rpc="vote"} 0',
      "lost messages have no duration",
    );
    const [peer] = m.peers();
    assertEquals([peer.peer, peer.connected, peer.errorCount, peer.lastError], [
      3,
      true,
      2,
      "stream broke",
    ]);
    assert(peer.lastSyncMs > 0);
  } finally {
    await m.shutdown();
  }
});

Deno.test("PrkDbMetrics: gauges describe the present: a partition no longer led loses its lag, backlog and followers", async () => {
  let leads = true;
  const m = new PrkDbMetrics(1, {
    partitions: () => [{ partition: 0, raft: { ...status, role: leads ? "Leader" : "Follower" } }],
    replication: () =>
      leads
        ? [{
          partition: 0,
          followers: [{ follower: 2, pending: 7, lagSeconds: 30, active: true }],
        }]
        : [],
    loopUtilization: () => 0,
  });
  try {
    const names = async () => new Set(parsePrometheus(await m.scrape()).map((s) => s.name));
    const leading = await names();
    for (
      const name of [
        "prkdb_replication_lag_seconds",
        "prkdb_replication_changes_pending",
        "prkdb_replication_active_followers",
        "prkdb_replication_follower_connected",
      ]
    ) assert(leading.has(name), `${name} while leading`);
    leads = false;
    const following = await names();
    for (
      const name of [
        "prkdb_replication_lag_seconds",
        "prkdb_replication_changes_pending",
        "prkdb_replication_active_followers",
        "prkdb_replication_follower_connected",
        "prkdb_replication_consecutive_failures",
      ]
    ) assert(!following.has(name), `${name} is gone after losing leadership`);
    assert(following.has("prkdb_raft_is_leader"));
  } finally {
    await m.shutdown();
  }
});

Deno.test("PrkDbMetrics: a fresh node exports every catalogue family; counters and histograms at 0 for known labels", async () => {
  const m = new PrkDbMetrics(1, {
    partitions: () => [{ partition: 0, raft: status, sessions: 0, replicas: [1, 2, 3] }],
    replication: () => [{
      partition: 0,
      followers: [2, 3].map((follower) => ({ follower, pending: 0, lagSeconds: 0, active: true })),
    }],
    loopUtilization: () => 0,
  });
  try {
    const text = await m.scrape();
    const samples = parsePrometheus(text);
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map(([, n]) => n));
    assertEquals(METRICS.map((d) => d.name).filter((n) => !families.has(n)), [], "families");
    // Every counter and histogram has samples (at 0), so rate() reads 0 rather than nothing.
    const names = new Set(samples.map((s) => s.name.replace(/_(bucket|sum|count)$/, "")));
    const empty = METRICS.filter((d) => d.type !== "gauge" && !names.has(d.name));
    assertEquals(empty.map((d) => d.name), [], "counters and histograms without samples");
    for (
      const line of [
        'prkdb_raft_proposals_total{node_id="1",partition="0",outcome="committed"} 0',
        'prkdb_raft_proposal_duration_seconds_count{node_id="1",partition="0"} 0',
        'prkdb_replication_sync_errors_total{node_id="1",follower="3",error_type="connection_error"} 0',
        'prkdb_rpc_errors_total{node_id="1",peer="2",rpc="appendEntries"} 0',
        'prkdb_raft_quorum_lost_total{node_id="1",partition="0"} 0',
        'prkdb_raft_messages_refused_total{node_id="1",reason="stranger"} 0',
        'prkdb_raft_snapshots_total{node_id="1",partition="0",kind="installed"} 0',
        'prkdb_replication_changes_applied_total{node_id="1",partition="0"} 0',
      ]
    ) assertStringIncludes(text, line);
    // Once an event happens, the exporter's series replaces the zero one (no duplicates).
    m.proposal(0, "committed", 0.01);
    const after = parsePrometheus(await m.scrape()).filter((s) =>
      s.name === "prkdb_raft_proposals_total" && s.labels.outcome === "committed"
    );
    assertEquals(after.map((s) => s.value), [1]);
  } finally {
    await m.shutdown();
  }
});

Deno.test("PrkDbMetrics: a peer that answers pings but refuses the Raft messages is not connected, and says why", async () => {
  const m = new PrkDbMetrics(1, leadingTo(2), 60_000);
  try {
    const peer = (id: number) => m.peers().find((p) => p.peer === id)!;
    m.rpc(2, "heartbeat", 0.001); // a ping answered
    assert(peer(2).connected);
    m.rpc(2, "appendEntries", undefined, "sync_failed", new Error("the batch is too large"), true);
    m.rpc(2, "heartbeat", 0.001); // pings still answered
    assertEquals(peer(2).connected, false);
    assertEquals(peer(2).refusing, true);
    assertEquals(peer(2).lastError, "the batch is too large");
    const connected = parsePrometheus(await m.scrape()).filter((s) =>
      s.name === "prkdb_replication_follower_connected" && s.labels.follower === "2"
    );
    assertEquals(connected.map((s) => s.value), [0]);

    // Lost on the way is not a refusal: the next answered ping shows the peer connected.
    m.rpc(3, "heartbeat", 0.001);
    m.rpc(3, "appendEntries", undefined, "connection_error", new Error("connection reset"));
    m.rpc(3, "heartbeat", 0.001);
    assertEquals(peer(3).connected, true);
    assertEquals(peer(3).refusing, false);

    // Nor is an earlier version saying it has no stream (it is then sent unary calls).
    m.rpc(4, "heartbeat", 0.001);
    m.rpc(4, "appendEntries", undefined, "sync_failed", new Error("unimplemented"), false);
    assertEquals(peer(4).connected, true);
  } finally {
    await m.shutdown();
  }
});
