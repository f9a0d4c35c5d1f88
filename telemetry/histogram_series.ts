/**
 * A node's histograms, kept as plain bucket counts per series and written as Prometheus text at
 * scrape time. Some histograms take an observation for every frame sent to a peer and every
 * write proposed; OpenTelemetry's histogram hashes an observation's labels each time, which
 * was the largest single item of telemetry in a node's profile under load. Here a series is
 * found by one string key and an observation is a bucket search and three additions.
 *
 * The text is what OpenTelemetry's Prometheus exporter writes for a histogram: the family's
 * `# HELP` and `# TYPE` lines, then per series its `_count`, its `_sum` and its cumulative
 * `_bucket` lines, the node's label first and `le` last.
 *
 * @module
 */
import { labelText, sampleValue } from "./exposition.ts";
import type { MetricDefinition } from "./metric_definitions.ts";

/** One series: its labels and what it has counted. */
interface Series {
  /** Its labels as written between braces, the constant ones first. */
  readonly labels: string;
  /** Observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram family: its definition and its series by label values. */
interface Family {
  readonly definition: MetricDefinition;
  readonly bounds: readonly number[];
  readonly series: Map<string, Series>;
}

/** A help text as the exposition format wants it: backslashes and line ends escaped. */
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/**
 * Bucket counts per series for the histograms of a catalogue.
 *
 * @example Usage
 * ```ts
 * import { HistogramSeries } from "./histogram_series.ts";
 * const histograms = new HistogramSeries(
 *   [{ name: "x_seconds", type: "histogram", labels: ["node_id"], help: "X.", buckets: [0.1, 1] }],
 *   { node_id: "1" },
 * );
 * histograms.observe("x_seconds", 0.5, {});
 * console.log(histograms.exposition().includes('x_seconds_bucket{node_id="1",le="1"} 1')); // true
 * ```
 */
export class HistogramSeries {
  readonly #families = new Map<string, Family>();
  readonly #constant: Readonly<Record<string, string>>;

  /**
   * @param definitions The catalogue; its histograms are the families kept here.
   * @param constant Labels every series carries first (the node).
   */
  constructor(
    definitions: readonly MetricDefinition[],
    constant: Readonly<Record<string, string>>,
  ) {
    for (const d of definitions) {
      if (d.type !== "histogram") continue;
      this.#families.set(d.name, { definition: d, bounds: d.buckets ?? [], series: new Map() });
    }
    this.#constant = constant;
  }

  /**
   * Counts one observation.
   *
   * @param name The histogram's catalogue name.
   * @param value The observed value.
   * @param labels Its labels after the constant ones, in the order to print them.
   * @throws {Error} When `name` is not a histogram of the catalogue.
   */
  observe(name: string, value: number, labels: Readonly<Record<string, string>>): void {
    const family = this.#families.get(name);
    if (!family) throw new Error(`Metric ${name} is not a histogram in the catalogue`);
    // As OpenTelemetry's histogram: a negative or NaN observation is dropped, not counted.
    if (!(value >= 0)) return;
    // The raw values find the series; escaping is done once, when a series is created.
    let key = "";
    for (const k in labels) key += `${k}\0${labels[k]}\0`;
    let series = family.series.get(key);
    if (!series) {
      series = {
        labels: labelText({ ...this.#constant, ...labels }),
        counts: new Float64Array(family.bounds.length + 1),
        sum: 0,
        count: 0,
      };
      family.series.set(key, series);
    }
    // A value on a boundary belongs to that boundary's bucket (`le` is "less or equal").
    const bounds = family.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    series.counts[i]++;
    series.sum += value;
    series.count++;
  }

  /**
   * Every family with at least one series, as Prometheus text, in catalogue order.
   *
   * @returns The text, one line per sample, each ending in a newline.
   */
  exposition(): string {
    const out: string[] = [];
    for (const { definition: d, bounds, series } of this.#families.values()) {
      if (series.size === 0) continue;
      out.push(`# HELP ${d.name} ${escapeHelp(d.help)}`, `# TYPE ${d.name} histogram`);
      for (const s of series.values()) {
        const braces = s.labels === "" ? "" : `{${s.labels}}`;
        const before = s.labels === "" ? "" : `${s.labels},`;
        out.push(
          `${d.name}_count${braces} ${s.count}`,
          `${d.name}_sum${braces} ${sampleValue(s.sum)}`,
        );
        let cumulative = 0;
        for (let i = 0; i <= bounds.length; i++) {
          cumulative += s.counts[i];
          const le = i < bounds.length ? String(bounds[i]) : "+Inf";
          out.push(`${d.name}_bucket{${before}le="${le}"} ${cumulative}`);
        }
      }
    }
    return out.length === 0 ? "" : out.join("\n") + "\n";
  }
}
