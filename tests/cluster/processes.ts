/**
 * Real PrkDB node processes on loopback for end-to-end tests: started with the CLI, stopped,
 * killed, paused and resumed by process id (only the processes a test started).
 *
 * @module
 */
import { join } from "@std/path";
import type { NodeHealthJson } from "../../server/health.ts";
import { waitFor } from "../support/wait.ts";
import { tlsHttp } from "../../rpc/tls.ts";

const cli = new URL("../../cli.ts", import.meta.url).pathname;

/** A free loopback port (the OS picks one; a tiny race with other programs is possible). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export type ClusterHealth = NodeHealthJson;

/** A local cluster of node processes. */
export class ProcessCluster {
  readonly urls = new Map<number, string>();
  readonly #children = new Map<number, Deno.ChildProcess>();
  readonly #dir: string;
  readonly #peers: string;
  readonly #args: string[];
  readonly tickMs: number;
  /** Certificates directory when the cluster runs with mutual TLS. */
  readonly certs: string | undefined;
  readonly #http: { fetch: typeof fetch; close(): void } | undefined;
  readonly #stderr = new Map<number, string[]>();
  readonly #drains = new Map<number, Promise<void>>();
  readonly #joined = new Set<number>();

  private constructor(
    dir: string,
    ports: number[],
    args: string[],
    tickMs: number,
    certs?: { dir: string; ca: string },
  ) {
    this.#dir = dir;
    this.tickMs = tickMs;
    this.certs = certs?.dir;
    this.#http = certs ? tlsHttp({ current: { ca: certs.ca } }) : undefined;
    const scheme = certs ? "https" : "http";
    ports.forEach((port, i) => this.urls.set(i + 1, `${scheme}://127.0.0.1:${port}`));
    this.#peers = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(",");
    this.#args = args;
  }

  /** Starts `nodes` processes and waits until every partition has a leader. */
  static async start(
    nodes: number,
    options: {
      partitions?: number;
      compactEntries?: number;
      tickMs?: number;
      /** Run with mutual TLS using this directory made by `certs init`. */
      certs?: string;
      /** More `serve` flags. */
      extraArgs?: string[];
      /** How long every partition may take to elect a leader. Default 30 s. */
      healthyTimeoutMs?: number;
      /** Runs before any node starts, with `--peers` and each node's data dir (to fill them). */
      prepare?: (peers: string, dataDir: (id: number) => string) => Promise<void>;
    } = {},
  ): Promise<ProcessCluster> {
    // freePort's port can be taken by another program before a node binds it: start again on
    // other ports then (the node says so and exits), a few times.
    for (let attempt = 1;; attempt++) {
      const c = await ProcessCluster.#start(nodes, options);
      const taken = () =>
        [...c.urls.keys()].some((id) => /address already in use/i.test(c.stderr(id)));
      try {
        if (await c.#untilHealthy(options.healthyTimeoutMs, taken)) return c;
        if (attempt >= 3) throw new Error(`three starts found a port taken: ${c.stderr(1)}`);
      } catch (error) {
        await c.stop();
        throw error;
      }
      await c.stop();
    }
  }

  static async #start(
    nodes: number,
    options: Parameters<typeof ProcessCluster.start>[1] & object,
  ): Promise<ProcessCluster> {
    const dir = await Deno.makeTempDir({ prefix: "prkdb-e2e-" });
    const ports = Array.from({ length: nodes }, freePort);
    const tickMs = options.tickMs ?? 50;
    const security = options.certs
      ? [
        "--tls-dir",
        options.certs,
        "--tokens",
        join(options.certs, "tokens.txt"),
        "--tls-reload-ms",
        "0",
      ]
      : ["--insecure"];
    const ca = options.certs ? await Deno.readTextFile(join(options.certs, "ca.pem")) : "";
    const c = new ProcessCluster(
      dir,
      ports,
      [
        ...security,
        ...(options.extraArgs ?? []),
        "--partitions",
        String(options.partitions ?? 4),
        "--tick-ms",
        String(tickMs),
        "--compact-entries",
        String(options.compactEntries ?? 10_000),
      ],
      tickMs,
      options.certs ? { dir: options.certs, ca } : undefined,
    );
    await options.prepare?.(c.#peers, (id) => join(dir, `n${id}`));
    for (let id = 1; id <= nodes; id++) c.spawn(id);
    return c;
  }

  /** The longest election timeout (2 x 10 ticks). */
  get electionTimeoutMs(): number {
    return 20 * this.tickMs;
  }

  /**
   * Starts a new node that joins the running cluster through node `via` (`serve --join`), on a
   * free port, and waits until it answers.
   */
  async join(id: number, via = 1): Promise<void> {
    const port = freePort();
    const scheme = this.certs ? "https" : "http";
    this.urls.set(id, `${scheme}://127.0.0.1:${port}`);
    this.spawn(id, ["--join", this.urls.get(via)!, "--listen", `127.0.0.1:${port}`]);
    await waitFor(`node ${id} to answer`, async () => (await this.health(id)) !== undefined);
  }

  /** Node `id`'s data directory. */
  dataDir(id: number): string {
    return join(this.#dir, `n${id}`);
  }

  /** Restarts a node that joined (see {@linkcode join}) with `--join` again, on its old address. */
  rejoin(id: number, via = 1): void {
    const { host } = new URL(this.urls.get(id)!);
    this.spawn(id, ["--join", this.urls.get(via)!, "--listen", host]);
  }

  /** Starts (or restarts) node `id` on its data directory. */
  spawn(id: number, members = ["--peers", this.#peers]): void {
    // A node that joined later finds its members in its data dir's address book.
    const joined = this.#joined.has(id) || members[0] === "--join";
    if (members[0] === "--join") this.#joined.add(id);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        cli,
        "serve",
        "--id",
        String(id),
        ...(joined && members[0] !== "--join" ? [] : members),
        "--data-dir",
        join(this.#dir, `n${id}`),
        ...this.#args,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#children.set(id, child);
    const lines: string[] = [];
    this.#stderr.set(id, lines);
    this.#drains.set(
      id,
      (async () => {
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
          lines.push(chunk);
        }
      })().catch(() => {}),
    );
  }

  /** Node `id`'s process id. */
  pid(id: number): number {
    return this.#children.get(id)!.pid;
  }

  /** What node `id` wrote to stderr so far. */
  stderr(id: number): string {
    return (this.#stderr.get(id) ?? []).join("");
  }

  /** A `fetch` that trusts the cluster CA (and presents no certificate) when TLS is on. */
  get fetch(): typeof fetch {
    return this.#http?.fetch ?? fetch;
  }

  /** Sends a signal to node `id`'s process. */
  signal(id: number, signal: Deno.Signal): void {
    this.#children.get(id)!.kill(signal);
  }

  /** Kills node `id` with SIGKILL and waits for it to be gone. */
  async kill(id: number): Promise<void> {
    const child = this.#children.get(id)!;
    child.kill("SIGKILL");
    await child.status;
    await this.#drains.get(id);
    this.#children.delete(id);
  }

  /** A node's `/health` document, or undefined if it does not answer. */
  async health(id: number): Promise<ClusterHealth | undefined> {
    try {
      const r = await this.fetch(`${this.urls.get(id)}/health`, {
        signal: AbortSignal.timeout(500),
      });
      return await r.json();
    } catch {
      return undefined;
    }
  }

  /** Waits until every running node reports every partition led. */
  async waitHealthy(timeoutMs?: number): Promise<void> {
    await this.#untilHealthy(timeoutMs, () => false);
  }

  /** Like {@linkcode waitHealthy}, but stops early when `giveUp` says so: whether it got there. */
  async #untilHealthy(timeoutMs = 30_000, giveUp: () => boolean): Promise<boolean> {
    const outcome = await waitFor(
      "every partition to have a leader on every node",
      async () => {
        if (giveUp()) return "gave up";
        for (const id of this.#children.keys()) if (!(await this.health(id))?.healthy) return false;
        return "healthy";
      },
      timeoutMs,
      50,
    );
    return outcome === "healthy";
  }

  /** Stops every node it started (SIGTERM, then waits) and removes the data. */
  async stop(): Promise<void> {
    for (const [id, child] of this.#children) {
      try {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      await this.#drains.get(id);
      this.#children.delete(id);
    }
    this.#http?.close();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** Calls a KvService method with Connect JSON, as curl would. */
export async function callJson(
  url: string,
  method: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${url}/prkdb.v1.KvService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, json: await r.json() };
}

export const b64 = (s: string): string => btoa(s);
