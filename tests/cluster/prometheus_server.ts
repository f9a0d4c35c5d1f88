/**
 * A real Prometheus server for tests: the shipped alert rules with 3s `for:` durations, one
 * second scrape and evaluation intervals, a free port, a temporary data directory, stopped by
 * its process id. Tests skip when the `prometheus` binary is not installed.
 *
 * @module
 */
import { join } from "@std/path";
import { waitFor } from "../support/wait.ts";

/** The path of a program on PATH, or undefined. */
export function onPath(program: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const path = join(dir, program);
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

/** Whether the tests can run a real Prometheus (and promtool). */
export const PROMETHEUS: string | undefined = onPath("prometheus");
export const PROMTOOL: string | undefined = onPath("promtool");

/** The reason to put in a skipped test's name. */
export const SKIP_REASON = PROMETHEUS && PROMTOOL
  ? ""
  : " (skipped: the prometheus and promtool binaries are not installed; apt-get install prometheus)";

const RULES = new URL("../../docs/prometheus-alerts.yml", import.meta.url);

/**
 * The shipped rules with every `for:` shortened to 3s (three evaluations: one slow scrape on a
 * loaded machine does not make an alert fire): the expressions are unchanged.
 */
export async function testRules(): Promise<string> {
  const shipped = await Deno.readTextFile(RULES);
  const copy = shipped.replace(/^(\s+)for: \S+$/gm, "$1for: 3s");
  const exprs = (text: string) => [...text.matchAll(/expr: (.*)$/gm)].map(([, e]) => e);
  if (JSON.stringify(exprs(copy)) !== JSON.stringify(exprs(shipped))) {
    throw new Error("The test rules must keep the shipped expressions");
  }
  return copy;
}

/** Runs promtool; throws with its output unless it exits 0. */
export async function promtool(args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(PROMTOOL!, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`promtool ${args.join(" ")} failed:\n${text}`);
  return text;
}

/** One alert as the API reports it. */
export interface Alert {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: "pending" | "firing";
}

/** A Prometheus process scraping `targets` (host:port) with the test rules. */
export class PrometheusServer {
  readonly url: string;
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;

  private constructor(url: string, child: Deno.ChildProcess, dir: string) {
    this.url = url;
    this.#child = child;
    this.#dir = dir;
  }

  /** Starts it and waits until it is ready and every target is up. */
  static async start(targets: readonly string[]): Promise<PrometheusServer> {
    const dir = await Deno.makeTempDir({ prefix: "prkdb-prometheus-" });
    await Deno.writeTextFile(join(dir, "rules.yml"), await testRules());
    await Deno.writeTextFile(
      join(dir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "rule_files: [rules.yml]",
        "scrape_configs:",
        "  - job_name: prkdb",
        `    static_configs: [{ targets: [${targets.map((t) => `"${t}"`).join(", ")}] }]`,
        "",
      ].join("\n"),
    );
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const child = new Deno.Command(PROMETHEUS!, {
      args: [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      cwd: dir,
      stdout: "null",
      stderr: "null",
    }).spawn();
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, dir);
    try {
      await waitFor(
        "Prometheus to be ready",
        async () => {
          const r = await fetch(`${server.url}/-/ready`, { signal: AbortSignal.timeout(1000) });
          await r.body?.cancel();
          return r.ok;
        },
        20_000,
        100,
      );
      await server.waitTargetsUp(targets.length);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** Waits until `count` targets have been scraped successfully. */
  async waitTargetsUp(count: number): Promise<void> {
    await waitFor(
      `${count} targets up`,
      async () => {
        const up = await this.query("sum(up)");
        return up === count;
      },
      20_000,
      200,
    );
  }

  /** An instant query's single value, or undefined when it has none. */
  async query(promql: string): Promise<number | undefined> {
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
      signal: AbortSignal.timeout(2000),
    });
    const body = await r.json();
    const result = body.data?.result ?? [];
    return result.length > 0 ? Number(result[0].value[1]) : undefined;
  }

  /** The active (pending or firing) alerts. */
  async alerts(): Promise<Alert[]> {
    const r = await fetch(`${this.url}/api/v1/alerts`, { signal: AbortSignal.timeout(2000) });
    return (await r.json()).data.alerts;
  }

  /** Waits until the rules have been evaluated `rounds` more times. */
  async evaluations(rounds: number): Promise<void> {
    const iterations = async () => {
      const text = await (await fetch(`${this.url}/metrics`)).text();
      const m = /^prometheus_rule_group_iterations_total\{rule_group="[^"]*;raft"\} (\S+)/m.exec(
        text,
      );
      return m ? Number(m[1]) : 0;
    };
    const start = await iterations();
    await waitFor(
      `${rounds} rule evaluations`,
      async () => (await iterations()) >= start + rounds,
      rounds * 2000 + 5000,
      200,
    );
  }

  /** Waits until alert `name` with `labels` is pending or firing. */
  async waitAlert(name: string, labels: Record<string, string> = {}, timeoutMs = 30_000) {
    return await waitFor(
      `alert ${name} ${JSON.stringify(labels)}`,
      async () =>
        (await this.alerts()).find((a) =>
          a.labels.alertname === name &&
          Object.entries(labels).every(([k, v]) => a.labels[k] === v)
        ),
      timeoutMs,
      250,
    );
  }

  /** Stops the process it started (by its id) and removes its data. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* exited */ }
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
