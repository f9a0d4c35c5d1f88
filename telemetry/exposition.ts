/**
 * The Prometheus text a node serves, completed at scrape time: gauges written from what is true
 * now (a series nobody reports is gone, not frozen at its last value), and every counter and
 * histogram with known label values present from the start at 0, so `rate()` reads 0 instead
 * of nothing.
 *
 * OpenTelemetry's cumulative Prometheus exporter keeps a gauge series after its callback stops
 * reporting it, and creates a counter's series only at its first event: this module is why
 * neither shows on `/metrics`.
 *
 * @module
 */
import { type MetricDefinition, METRICS } from "./metric_definitions.ts";

/** One gauge reading: catalogue name, labels (in order), value. */
export interface GaugeSample {
  /** The catalogue name. */
  readonly name: string;
  /** Its labels, in the order to print them. */
  readonly labels: Readonly<Record<string, string>>;
  /** Its value now. */
  readonly value: number;
}

/**
 * The known values of each label, to create counters and histograms at 0. A label mapped to
 * `undefined` is not used by this exporter (left off the series); one mapped to `[]` has no
 * known value yet (no series until an event).
 */
export type LabelValues = Readonly<Record<string, readonly string[] | undefined>>;

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * Labels as the exposition writes them between braces: `name="value"` pairs in order, values
 * escaped. Internal: shared with the histograms (`histogram_series.ts`).
 *
 * @param labels The labels.
 * @returns The text, empty for no labels.
 */
export function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",");
}

const render = (labels: Readonly<Record<string, string>>) => {
  const text = labelText(labels);
  return text === "" ? "" : `{${text}}`;
};
const key = (labels: Readonly<Record<string, string>>) =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
/**
 * A sample's value as the exposition writes it (`NaN`, `+Inf`, `-Inf` spelled out). Internal:
 * shared with the histograms.
 *
 * @param v The value.
 * @returns Its text.
 */
export function sampleValue(v: number): string {
  return Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v);
}

/** The label sets of a metric from known values (the cartesian product). */
function labelSets(m: MetricDefinition, known: LabelValues): Record<string, string>[] {
  let sets: Record<string, string>[] = [{}];
  for (const label of m.labels) {
    const values = label in known ? known[label] : m.values?.[label];
    if (values === undefined) continue;
    sets = sets.flatMap((s) => values.map((v) => ({ ...s, [label]: v })));
  }
  return sets;
}

/** Parses the exporter's text into families by metric name, keeping their lines. */
function families(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const head = /^# (?:HELP|TYPE) (\S+)/.exec(line);
    if (head) current = head[1];
    else if (line.startsWith("#")) continue;
    const lines = out.get(current) ?? [];
    lines.push(line);
    out.set(current, lines);
  }
  return out;
}

/** The label keys of a family's series (histograms by their `_count` series). */
function present(lines: readonly string[], m: MetricDefinition): Set<string> {
  const series = m.type === "histogram" ? `${m.name}_count` : m.name;
  const out = new Set<string>();
  for (const line of lines) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!match || match[1] !== series) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (match[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k] = v;
    }
    out.add(key(labels));
  }
  return out;
}

function zeroSeries(m: MetricDefinition, labels: Record<string, string>): string[] {
  if (m.type === "counter") return [`${m.name}${render(labels)} 0`];
  return [
    ...[...(m.buckets ?? []).map(String), "+Inf"].map((le) =>
      `${m.name}_bucket${render({ ...labels, le })} 0`
    ),
    `${m.name}_sum${render(labels)} 0`,
    `${m.name}_count${render(labels)} 0`,
  ];
}

/**
 * Completes an exposition: the exporter's counters and histograms, every known series missing
 * from them at 0, and the gauges as read now. Families come in catalogue order.
 *
 * @param exported The exporter's text (counters and histograms).
 * @param gauges Every gauge series that is true now.
 * @param known The known label values.
 * @param include Which catalogue metrics this exporter serves.
 * @returns The Prometheus text.
 *
 * @example Usage
 * ```ts
 * import { completeExposition } from "@prkdb/prkdb/telemetry";
 * const text = completeExposition("", [], { node_id: ["1"], partition: ["0"] });
 * console.log(text.includes('prkdb_raft_elections_total{node_id="1",partition="0"} 0')); // true
 * ```
 */
export function completeExposition(
  exported: string,
  gauges: readonly GaugeSample[],
  known: LabelValues,
  include: (m: MetricDefinition) => boolean = () => true,
): string {
  const have = families(exported);
  const out: string[] = [];
  for (const m of METRICS.filter(include)) {
    const head = [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`];
    if (m.type === "gauge") {
      const samples = gauges.filter((g) => g.name === m.name);
      out.push(
        ...head,
        ...samples.map((g) => `${m.name}${render(g.labels)} ${sampleValue(g.value)}`),
      );
      continue;
    }
    const lines = have.get(m.name) ?? head;
    const seen = present(lines, m);
    const missing = labelSets(m, known).filter((labels) => !seen.has(key(labels)));
    out.push(...lines, ...missing.flatMap((labels) => zeroSeries(m, labels)));
  }
  return out.join("\n") + "\n";
}
