/**
 * Reading Prometheus text in tests.
 *
 * @module
 */

/** One sample: metric name, labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (the subset the exporter writes). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) throw new Error(`Unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k] = v;
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Scrapes a node's /metrics. */
export async function scrape(url: string): Promise<Sample[]> {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`GET ${url}/metrics: ${r.status}`);
  return parsePrometheus(await r.text());
}

/** The value of the one sample matching a name and labels, or undefined. */
export function value(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}

/** Metric names referenced in PromQL text (histogram series folded to their metric). */
export function referencedMetrics(text: string): Set<string> {
  return new Set(
    [...text.matchAll(/\bprkdb_[a-z_]+/g)].map(([n]) => n.replace(/_(bucket|sum|count)$/, "")),
  );
}
