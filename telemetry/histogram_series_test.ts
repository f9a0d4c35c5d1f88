import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { SeededRandom } from "../raft/mod.ts";
import { createInstruments } from "./instruments.ts";
import { HistogramSeries } from "./histogram_series.ts";
import { METRICS } from "./metric_definitions.ts";
import { PrkDbMetrics } from "./prkdb_metrics.ts";

/** The series lines of a family in a Prometheus text (its comments left out), sorted. */
function samples(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(`${name}_`)).sort();
}

Deno.test("HistogramSeries writes what OpenTelemetry's Prometheus exporter writes for the same observations", async () => {
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    withoutTargetInfo: true,
  });
  const provider = new MeterProvider({ readers: [exporter] });
  const { histograms } = createInstruments(provider.getMeter("t"), (m) => m.type === "histogram");
  const mine = new HistogramSeries(METRICS, { node_id: "3" });
  const rng = new SeededRandom(5);
  const families = METRICS.filter((m) => m.type === "histogram");
  for (let i = 0; i < 5000; i++) {
    const m = families[rng.nextInt(families.length)];
    const labels: Record<string, string> = {};
    for (const label of m.labels) {
      if (label !== "node_id") {
        labels[label] = `v${rng.nextInt(3)}\\"\n`.slice(0, 1 + rng.nextInt(5));
      }
    }
    // Values on the boundaries, between them, past the last and at 0.
    const bounds = m.buckets ?? [];
    const value = rng.nextInt(3) === 0
      ? bounds[rng.nextInt(bounds.length)] ?? 0
      : rng.nextInt(4) === 0
      ? 0
      : (rng.nextInt(1_000_000) / 1000) * (bounds.at(-1) ?? 1) / 500;
    histograms.get(m.name)!.record(value, { node_id: "3", ...labels });
    mine.observe(m.name, value, labels);
  }
  const { resourceMetrics } = await exporter.collect();
  const theirs = new PrometheusSerializer(undefined, false, undefined, true, true)
    .serialize(resourceMetrics);
  const text = mine.exposition();
  for (const m of families) {
    assertEquals(samples(text, m.name), samples(theirs, m.name), m.name);
    assertEquals(text.includes(`# TYPE ${m.name} histogram`), theirs.includes(`# TYPE ${m.name}`));
  }
  await provider.shutdown();
});

Deno.test("HistogramSeries writes nothing for a family without observations, and refuses a name outside the catalogue", () => {
  const h = new HistogramSeries(METRICS, { node_id: "1" });
  assertEquals(h.exposition(), "");
  assertThrows(() => h.observe("prkdb_no_such_seconds", 1, {}), Error, "not a histogram");
  h.observe("prkdb_storage_write_duration_seconds", 0.003, {});
  const lines = h.exposition().split("\n");
  assertEquals(lines.slice(1, 4), [
    "# TYPE prkdb_storage_write_duration_seconds histogram",
    'prkdb_storage_write_duration_seconds_count{node_id="1"} 1',
    'prkdb_storage_write_duration_seconds_sum{node_id="1"} 0.003',
  ]);
});

Deno.test("a node's scrape keeps every histogram family's help, even before any counter counted", async () => {
  const metrics = new PrkDbMetrics(1);
  metrics.storageWrite(0.002);
  metrics.storageWrite(-1); // dropped, as OpenTelemetry drops it
  const text = await metrics.scrape();
  await metrics.shutdown();
  const lines = text.split("\n");
  const type = lines.indexOf("# TYPE prkdb_storage_write_duration_seconds histogram");
  assertStringIncludes(lines[type - 1], "# HELP prkdb_storage_write_duration_seconds ");
  assertStringIncludes(text, 'prkdb_storage_write_duration_seconds_count{node_id="1"} 1\n');
  assertStringIncludes(text, 'prkdb_storage_write_duration_seconds_sum{node_id="1"} 0.002\n');
});
