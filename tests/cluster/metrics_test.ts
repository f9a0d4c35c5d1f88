/**
 * Observability against running node processes: /metrics scraped over HTTP as Prometheus
 * would, while followers die and come back.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { waitFor } from "../support/wait.ts";
import { ProcessCluster } from "./processes.ts";
import { settledLeader } from "./settled_leader.ts";
import { parsePrometheus, referencedMetrics, type Sample, scrape, value } from "./prometheus.ts";
import { METRICS } from "../../telemetry/metric_definitions.ts";

Deno.test("metrics: term and commit move; a dead follower shows as disconnected, behind and failing; back, its lag returns near 0", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1 });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()], { timeoutMs: 8000 });
    // Settled, so balancing does not move leadership while a follower is down.
    const leader = await settledLeader(db);
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
        // Leadership may have moved meanwhile (balancing): read whoever leads now.
        const now = (await db.refresh()).partitions[0].leader;
        if (!now || now === follower) return false;
        const s = await scrape(c.urls.get(now)!);
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

Deno.test("metrics: every catalogue family from the first scrape; a node that loses leadership stops exporting the partition's lag and backlog", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1 });
  try {
    // A fresh cluster: every family is there, and every counter and histogram has samples.
    for (const url of c.urls.values()) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map(([, n]) => n));
      assertEquals(METRICS.filter((m) => !families.has(m.name)).map((m) => m.name), []);
      const names = new Set(
        parsePrometheus(text).map((s) => s.name.replace(/_(bucket|sum|count)$/, "")),
      );
      assertEquals(
        METRICS.filter((m) => m.type !== "gauge" && !names.has(m.name)).map((m) => m.name),
        [],
        "counters and histograms at 0 from the start",
      );
    }
    const leader = await waitFor("a leader", async () => {
      for (const id of c.urls.keys()) {
        const h = await c.health(id);
        if (h?.partitions[0]?.role === "Leader") return id;
      }
      return undefined;
    });
    const leaderUrl = c.urls.get(leader)!;
    const led = (s: Sample[]) =>
      s.filter((x) =>
        [
          "prkdb_replication_lag_seconds",
          "prkdb_replication_changes_pending",
          "prkdb_replication_active_followers",
        ].includes(x.name) && x.labels.partition === "0"
      );
    assertEquals(led(await scrape(leaderUrl)).length, 5, "lag and backlog of 2 followers, active");

    // The leader is paused until another takes over, then resumes as a follower.
    c.signal(leader, "SIGSTOP");
    await waitFor(
      "a new leader",
      async () => {
        for (const id of c.urls.keys()) {
          if (id === leader) continue;
          const h = await c.health(id);
          if (h?.partitions[0]?.role === "Leader") return id;
        }
        return undefined;
      },
      15_000,
      50,
    );
    c.signal(leader, "SIGCONT");
    // Once it follows another leader, a scrape that shows it not leading shows none of the
    // partition's lag, backlog or active followers. (Leader balancing may hand the partition
    // back to it later, so each check reads one scrape.)
    await waitFor(
      "the old leader to follow another",
      async () => {
        const p = (await c.health(leader))?.partitions[0];
        return p && p.role === "Follower" && p.leader !== 0 && p.leader !== leader;
      },
      15_000,
      50,
    );
    const old = await waitFor(
      "a scrape of the old leader while it does not lead",
      async () => {
        const s = await scrape(leaderUrl);
        return value(s, "prkdb_raft_is_leader", { partition: "0" }) === 0 ? s : undefined;
      },
      15_000,
      50,
    );
    assertEquals(led(old), [], "no lag, backlog or active followers for a partition it lost");
    assertEquals(
      old.filter((s) => s.name === "prkdb_replication_follower_connected"),
      [],
      "it leads nothing: no follower series",
    );
    // Whoever leads now reports them.
    await waitFor(
      "the leader's lag and backlog series",
      async () => {
        for (const url of c.urls.values()) {
          const s = await scrape(url);
          if (value(s, "prkdb_raft_is_leader", { partition: "0" }) === 1) {
            return led(s).length === 5;
          }
        }
        return false;
      },
      15_000,
      100,
    );
  } finally {
    await c.stop();
  }
});
