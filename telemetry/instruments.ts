/**
 * OpenTelemetry instruments made from the metric catalogue, so every exporter of PrkDB metrics
 * uses the same names, help texts and buckets.
 *
 * @module
 */
import type { Counter, Histogram, Meter } from "@opentelemetry/api";
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
}

/**
 * Creates the counters and histograms of the catalogue metrics that `include` selects. Gauges
 * are not OpenTelemetry instruments: they are written at each scrape (see `exposition.ts`), so a
 * series that is no longer true disappears instead of keeping its last value.
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
    }
  }
  return { counters, histograms };
}
