/**
 * OpenTelemetry instruments made from the metric catalogue, so every exporter of PrkDB metrics
 * uses the same names, help texts and buckets.
 *
 * @module
 */
import type { Counter, Histogram, Meter, ObservableGauge } from "@opentelemetry/api";
import { type MetricDefinition, METRICS } from "./metric_definitions.ts";

/**
 * The instruments of some catalogue metrics, by name.
 *
 * Internal: used by the metrics exporters of the cluster and of leader-follower replication.
 */
export interface Instruments {
  /** Counters by name. */
  readonly counters: ReadonlyMap<string, Counter>;
  /** Histograms by name (with the catalogue's buckets). */
  readonly histograms: ReadonlyMap<string, Histogram>;
  /** Observable gauges by name. */
  readonly gauges: ReadonlyMap<string, ObservableGauge>;
}

/**
 * Creates the instruments of the catalogue metrics that `include` selects.
 *
 * @param meter The meter to create them with.
 * @param include Which metrics (default: all).
 * @returns The instruments.
 */
export function createInstruments(
  meter: Meter,
  include: (m: MetricDefinition) => boolean = () => true,
): Instruments {
  const counters = new Map<string, Counter>();
  const histograms = new Map<string, Histogram>();
  const gauges = new Map<string, ObservableGauge>();
  for (const m of METRICS.filter(include)) {
    if (m.type === "counter") {
      counters.set(m.name, meter.createCounter(m.name, { description: m.help }));
    } else if (m.type === "histogram") {
      histograms.set(
        m.name,
        meter.createHistogram(m.name, {
          description: m.help,
          advice: { explicitBucketBoundaries: [...(m.buckets ?? [])] },
        }),
      );
    } else gauges.set(m.name, meter.createObservableGauge(m.name, { description: m.help }));
  }
  return { counters, histograms, gauges };
}
