/**
 * Observability against running node processes: /metrics scraped over HTTP as Prometheus
 * would, while followers die and come back.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { waitFor } from "../support/wait.ts";
import { ProcessCluster } from "./processes.ts";
import { referencedMetrics, scrape, value } from "./prometheus.ts";

Deno.test("metrics: term and commit move; a dead follower shows as disconnected, behind and failing; back, its lag returns near 0", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1 });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()], { timeoutMs: 8000 });
    const leader = (await db.refresh()).partitions[0].leader;
    const leaderUrl = c.urls.get(leader)!;
    const p0 = { partition: "0" };
    const before = await scrape(leaderUrl);
    const commit0 = value(before, "prkdb_raft_commit_index", p0)!;
    const term0 = value(before, "prkdb_raft_current_term", p0)!;
    assertEquals(value(before, "prkdb_raft_voted_for", p0), leader, "a leader voted for itself");
    for (let i = 0; i < 10; i++) await db.put(`k${i}`, "v");
    const afterWrites = await scrape(leaderUrl);
    assert(
      value(afterWrites, "prkdb_raft_commit_index", p0)! >= commit0 + 10,
      "the commit index moved with the writes",
    );
    assert(value(afterWrites, "prkdb_replication_changes_applied_total", p0)! >= 10);
    assertEquals(value(afterWrites, "prkdb_kv_sessions", p0), 1, "the client's session is held");

    // A follower dies: the leader sees it disconnected, its backlog grow, errors counted, lag in time.
    const follower = [...c.urls.keys()].find((id) => id !== leader)!;
    const f = { partition: "0", follower: String(follower) };
    await c.kill(follower);
    for (let i = 0; i < 20; i++) await db.put(`during-${i}`, "v");
    const down = await waitFor(
      "the leader to report the follower down",
      async () => {
        const s = await scrape(leaderUrl);
        return value(s, "prkdb_replication_follower_connected", { follower: String(follower) }) ===
            0
          ? s
          : undefined;
      },
      10_000,
      100,
    );
    assert(
      value(down, "prkdb_replication_changes_pending", f)! >= 20,
      "the backlog is the entries it lacks",
    );
    assert(
      value(down, "prkdb_replication_lag_seconds", f)! > 0,
      "lag is measured in time, not always 0",
    );
    const errors = down.filter((s) =>
      s.name === "prkdb_replication_sync_errors_total" && s.labels.follower === String(follower)
    );
    assert(
      errors.some((s) => s.labels.error_type === "connection_error" && s.value > 0),
      "sync errors are counted",
    );
    const health = await fetch(`${leaderUrl}/health`).then((r) => r.json());
    assert(health.partitions[0].backlogEntries >= 20, "health shows the backlog in entries");
    assert(health.state.errorCount > 0 && health.state.lastError !== "", "state shows the errors");

    // It comes back: caught up, lag near 0 again.
    c.spawn(follower);
    await waitFor(
      "the follower to catch up",
      async () => {
        const s = await scrape(leaderUrl);
        return value(s, "prkdb_replication_changes_pending", f) === 0 &&
          value(s, "prkdb_replication_lag_seconds", f)! < 0.5 &&
          value(s, "prkdb_replication_follower_connected", { follower: String(follower) }) === 1;
      },
      15_000,
      100,
    );

    // Every metric the dashboard and the alert rules use is emitted by this cluster.
    const emitted = new Set<string>();
    for (const url of c.urls.values()) {
      for (const s of await scrape(url)) emitted.add(s.name.replace(/_(bucket|sum|count)$/, ""));
    }
    const dashboard = await Deno.readTextFile(
      new URL("../../docs/grafana-dashboard.json", import.meta.url),
    );
    const rules = await Deno.readTextFile(
      new URL("../../docs/prometheus-alerts.yml", import.meta.url),
    );
    const referenced = new Set([...referencedMetrics(dashboard), ...referencedMetrics(rules)]);
    assert(referenced.size >= 12, `only ${referenced.size} metrics referenced`);
    const missing = [...referenced].filter((name) => !emitted.has(name));
    assertEquals(
      missing,
      [],
      "metrics referenced by the dashboard or alert rules but never emitted",
    );

    // The leader dies: the survivors elect, and their term moves.
    await c.kill(leader);
    const other = [...c.urls.keys()].find((id) => id !== leader)!;
    await waitFor(
      "a new term on the survivors",
      async () => value(await scrape(c.urls.get(other)!), "prkdb_raft_current_term", p0)! > term0,
      10_000,
      100,
    );
  } finally {
    await c.stop();
  }
});
