/**
 * The demo cluster's supervision: it starts each node process, reports a node that dies while
 * the others keep running, reports partitions failing over, and takes commands typed on its
 * console (`restart 2`, `stop 2`, `kill 2`, `pause 2`, `resume 2`, `status`, `help`).
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command-line program: printing is its job
import { join } from "@std/path";
import { delay } from "@std/async";
import { type NodeAction, runNodeAction } from "./demo_control.ts";

/** A node's `/health`, as much of it as the console reads. */
export interface ConsoleHealth {
  healthy: boolean;
  node: number;
  partitions: { partition: number; leader: number; role: string; term: number }[];
}

/** Appends a child's output to its log file (both streams share one file). */
async function copyTo(stream: ReadableStream<Uint8Array>, log: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) await log.write(chunk);
  } catch { /* the log was closed on shutdown */ }
}

/**
 * Whether a port on 127.0.0.1 can be listened on now.
 *
 * @param port The port.
 * @returns `true` when free.
 */
export function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

/** Starts, watches and restarts the node processes of a demo cluster. */
export class NodeSupervisor {
  readonly #dir: string;
  readonly #argsFor: (id: number) => string[];
  readonly #children = new Map<number, Deno.ChildProcess>();
  readonly #logs = new Map<number, Deno.FsFile>();
  readonly #asked = new WeakSet<Deno.ChildProcess>();
  readonly #paused = new Set<number>();
  #stopping = false;

  /**
   * @param dir Where the node logs go.
   * @param argsFor The `deno` arguments that run node `id`.
   */
  constructor(dir: string, argsFor: (id: number) => string[]) {
    this.#dir = dir;
    this.#argsFor = argsFor;
  }

  /** Node `id`'s log file. */
  logOf(id: number): string {
    return join(this.#dir, `node-${id}.log`);
  }

  /** Whether node `id`'s process runs. */
  running(id: number): boolean {
    return this.#children.has(id);
  }

  /** Whether node `id` is paused (SIGSTOP). */
  paused(id: number): boolean {
    return this.#paused.has(id);
  }

  /** Node `id`'s process id, if it runs. */
  pid(id: number): number | undefined {
    return this.#children.get(id)?.pid;
  }

  /** Starts node `id` (again), appending to its log; reports when it exits unasked. */
  async start(id: number): Promise<void> {
    if (this.#children.has(id)) throw new Error(`node ${id} is already running`);
    let log = this.#logs.get(id);
    if (!log) {
      log = await Deno.open(this.logOf(id), { create: true, append: true });
      this.#logs.set(id, log);
    }
    const child = new Deno.Command(Deno.execPath(), {
      args: this.#argsFor(id),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    copyTo(child.stdout, log);
    copyTo(child.stderr, log);
    this.#children.set(id, child);
    child.status.then((s) => {
      if (this.#children.get(id) === child) {
        this.#children.delete(id);
        this.#paused.delete(id);
      }
      if (this.#stopping || this.#asked.has(child)) return;
      console.log(
        `\n!! Node ${id} exited (${s.signal ? `signal ${s.signal}` : `code ${s.code}`}); see ${
          this.logOf(id)
        }.\n   The other nodes keep running; its partitions fail over to their other replicas.\n` +
          `   Type 'restart ${id}' to start it again.`,
      );
    });
  }

  /**
   * Pauses node `id` with SIGSTOP, as a long GC pause or a hung machine would: it neither
   * answers nor ticks until resumed, and wakes up believing what it believed before.
   */
  pause(id: number): void {
    this.#child(id).kill("SIGSTOP");
    this.#paused.add(id);
  }

  /** Resumes a paused node with SIGCONT. */
  resume(id: number): void {
    this.#child(id).kill("SIGCONT");
    this.#paused.delete(id);
  }

  /** Kills node `id` with SIGKILL, as a crash would; the death is reported like any other. */
  async kill(id: number): Promise<void> {
    const child = this.#child(id);
    child.kill("SIGKILL");
    await child.status;
  }

  #child(id: number): Deno.ChildProcess {
    const child = this.#children.get(id);
    if (!child) throw new Error(`node ${id} is not running`);
    return child;
  }

  /** Stops node `id` with SIGTERM and waits for it to exit. */
  async stop(id: number): Promise<void> {
    const child = this.#children.get(id);
    if (!child) return;
    this.#children.delete(id);
    this.#asked.add(child);
    try {
      child.kill("SIGCONT");
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.status;
  }

  /** Stops every node it started and closes the logs. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    const children = [...this.#children.values()];
    this.#children.clear();
    for (const child of children) {
      try {
        child.kill("SIGCONT"); // a paused node must run to handle SIGTERM
        child.kill("SIGTERM");
      } catch { /* already exited */ }
    }
    await Promise.all(children.map((c) => c.status));
    for (const log of this.#logs.values()) log.close();
    this.#logs.clear();
  }
}

/**
 * Reads each node's `/health`; a node counts only when it is one the supervisor runs and it
 * says it is that node (not some other program on the port).
 */
export async function ownHealth(
  urls: string[],
  supervisor: NodeSupervisor,
  get: typeof fetch,
): Promise<(ConsoleHealth | undefined)[]> {
  return await Promise.all(urls.map(async (url, i) => {
    if (!supervisor.running(i + 1)) return undefined;
    try {
      const r = await get(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      const h: ConsoleHealth = await r.json();
      return h.node === i + 1 ? h : undefined;
    } catch {
      return undefined;
    }
  }));
}

/**
 * Prints leadership changes as they happen (a failover, a balance, an operator's move), until
 * `signal` aborts.
 */
export async function reportLeaders(
  urls: string[],
  supervisor: NodeSupervisor,
  get: typeof fetch,
  signal: AbortSignal,
): Promise<void> {
  let known = new Map<number, number>();
  let first = true;
  while (!signal.aborted) {
    const views = await ownHealth(urls, supervisor, get);
    const leaders = new Map<number, { leader: number; term: number }>();
    for (const v of views) {
      for (const p of v?.partitions ?? []) {
        const seen = leaders.get(p.partition);
        if (p.leader && (!seen || p.term > seen.term)) leaders.set(p.partition, p);
      }
    }
    const now = new Map([...leaders].map(([p, l]) => [p, l.leader]));
    if (!first) {
      for (const [p, leader] of [...now].sort(([a], [b]) => a - b)) {
        const before = known.get(p);
        if (before !== leader) {
          console.log(
            `   partition ${p}: ${
              before ? `leader moved from node ${before} to node ${leader}` : `node ${leader} leads`
            } (term ${leaders.get(p)!.term})`,
          );
        }
      }
      for (const p of known.keys()) {
        if (!now.has(p)) console.log(`   partition ${p}: no leader right now (electing)`);
      }
    }
    first = false;
    known = now;
    await delay(500, { signal }).catch(() => {});
  }
}

const CONSOLE_HELP = `Console commands:
  status        Which nodes run, and their pids.
  stop <n>      Stop node n (SIGTERM); its partitions fail over.
  restart <n>   Start node n again (stopping it first if it runs).
  kill <n>      Kill node n (SIGKILL), as a crash would.
  pause <n>     Pause node n (SIGSTOP), as a hung machine would; resume <n> wakes it.
  add-node      Start one more node (it joins the cluster) and move replicas onto it.
  help          This list.   Ctrl-C stops every node.`;

/**
 * Reads console commands from stdin until it closes.
 *
 * @param ids The nodes' ids now (nodes may be added).
 * @param supervisor The nodes.
 * @param extra More commands without arguments, by name.
 */
export async function readConsole(
  ids: () => readonly number[],
  supervisor: NodeSupervisor,
  extra: Record<string, () => Promise<void>> = {},
): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buffer = "";
  for await (const chunk of lines) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line && extra[line]) await extra[line]();
      else if (line) await command(line, ids(), supervisor);
    }
  }
}

async function command(
  line: string,
  ids: readonly number[],
  supervisor: NodeSupervisor,
): Promise<void> {
  const [verb, arg] = line.split(/\s+/);
  const id = Number(arg);
  const valid = ids.includes(id);
  if (verb === "help") return void console.log(CONSOLE_HELP);
  if (verb === "status") {
    for (const n of ids) {
      console.log(
        `  node ${n}: ${
          supervisor.running(n)
            ? `${supervisor.paused(n) ? "paused" : "running"}, pid ${supervisor.pid(n)}`
            : "stopped"
        }`,
      );
    }
    return;
  }
  if (verb === "stop" && valid) {
    await supervisor.stop(id);
    return void console.log(`Node ${id} stopped.`);
  }
  if (["restart", "kill", "pause", "resume"].includes(verb) && valid) {
    try {
      console.log(await runNodeAction(supervisor, id, verb as NodeAction));
    } catch (error) {
      console.log((error as Error).message);
    }
    return;
  }
  console.log(`Unknown command "${line}" (nodes are ${ids.join(", ")}).\n${CONSOLE_HELP}`);
}
