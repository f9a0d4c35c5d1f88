import { assert, assertEquals } from "@std/assert";
import { METRICS, metricsMarkdown } from "./metric_definitions.ts";

/** Markdown tables are re-aligned and paragraphs re-wrapped by `deno fmt`: compare the words. */
const normalize = (text: string) => text.replace(/-{3,}/g, "---").replace(/\s+/g, " ").trim();

Deno.test("docs/metrics.md is generated from the catalogue (run `deno task docs:metrics`)", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/metrics.md", import.meta.url));
  assertEquals(
    normalize(doc),
    normalize(metricsMarkdown()),
    "docs/metrics.md is stale: run `deno task docs:metrics`",
  );
});

Deno.test("metric names follow Prometheus conventions and every documented name is there", () => {
  const names = METRICS.map((m) => m.name);
  assertEquals(new Set(names).size, names.length, "a metric is defined twice");
  for (const m of METRICS) {
    assert(/^prkdb_[a-z_]+$/.test(m.name), `${m.name}: not snake_case under prkdb_`);
    if (m.type === "counter") {
      assert(m.name.endsWith("_total"), `${m.name}: counters end in _total`);
    }
    if (m.name.endsWith("_seconds") && m.type === "histogram") {
      assert(m.buckets?.includes(1), `${m.name}: seconds buckets`);
    }
    assert(m.labels.includes("node_id"), `${m.name}: every metric carries node_id`);
    assert(m.help.length > 20, `${m.name}: say what it means`);
  }
  for (
    const documented of [
      "prkdb_raft_current_term",
      "prkdb_raft_commit_index",
      "prkdb_raft_last_log_index",
      "prkdb_raft_voted_for",
      "prkdb_replication_lag_seconds",
      "prkdb_replication_changes_applied_total",
      "prkdb_replication_follower_connected",
      "prkdb_replication_sync_errors_total",
      "prkdb_replication_last_sync_timestamp_seconds",
      "prkdb_replication_sync_duration_seconds",
      "prkdb_replication_batch_size",
      "prkdb_replication_changes_pending",
      "prkdb_replication_active_followers",
    ]
  ) assert(names.includes(documented), `${documented} is missing`);
});
