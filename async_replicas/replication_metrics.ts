/**
 * The `prkdb_replication_*` metrics of one leader-follower replica: counters and histograms
 * through OpenTelemetry, gauges written at each scrape from what the replica reports now.
 *
 * @module
 */
import type { Counter, Histogram } from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { completeExposition, type GaugeSample } from "../telemetry/exposition.ts";
import { createInstruments } from "../telemetry/instruments.ts";
import type { ReplicationErrorType } from "./replication_types.ts";

const REPLICATION = (m: { name: string }) => m.name.startsWith("prkdb_replication_");

/** Internal: the recorder a `ReplicationManager` reports to. */
export class ReplicationMetrics {
  readonly #node: string;
  readonly #exporter: PrometheusExporter;
  readonly #provider: MeterProvider;
  readonly #counters: ReadonlyMap<string, Counter>;
  readonly #histograms: ReadonlyMap<string, Histogram>;

  /** @param node The replica's id, as `node_id`. */
  constructor(node: string) {
    this.#node = node;
    this.#exporter = new PrometheusExporter({
      preventServerStart: true,
      withoutScopeInfo: true,
      withoutTargetInfo: true,
    });
    this.#provider = new MeterProvider({ readers: [this.#exporter] });
    const instruments = createInstruments(
      this.#provider.getMeter("prkdb-replication"),
      REPLICATION,
    );
    this.#counters = instruments.counters;
    this.#histograms = instruments.histograms;
  }

  /** Counts changes a follower applied. */
  applied(count: number): void {
    this.#counters.get("prkdb_replication_changes_applied_total")!.add(count, {
      node_id: this.#node,
    });
  }

  /** Records a non-empty batch a follower received and applied, and how long it took. */
  batch(changes: number, seconds: number): void {
    const a = { node_id: this.#node, follower: this.#node };
    this.#histograms.get("prkdb_replication_batch_size")!.record(changes, a);
    this.#histograms.get("prkdb_replication_sync_duration_seconds")!.record(seconds, a);
  }

  /** Counts a failed sync of this follower. */
  syncError(type: ReplicationErrorType): void {
    this.#counters.get("prkdb_replication_sync_errors_total")!.add(1, {
      node_id: this.#node,
      follower: this.#node,
      error_type: type,
    });
  }

  /**
   * The Prometheus text.
   *
   * @param gauges The gauges as true now.
   * @param followers The followers' ids (a follower: itself), for the series at 0.
   */
  async text(gauges: readonly GaugeSample[], followers: readonly string[]): Promise<string> {
    const { resourceMetrics } = await this.#exporter.collect();
    const exported = new PrometheusSerializer(undefined, false, undefined, true, true).serialize(
      resourceMetrics,
    );
    return completeExposition(exported, gauges, {
      node_id: [this.#node],
      partition: undefined,
      peer: undefined,
      follower: followers,
    }, REPLICATION);
  }

  /** Releases the meter provider. */
  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}
