/**
 * What partitions cost: a 3-node cluster of real processes (file storage, 100 ms ticks) with
 * 10, 100 and 1,000 partitions, one after the other. For each it prints, per node: idle CPU (in %
 * of a core, over an idle window), RSS, and messages sent per second while idle; then write
 * throughput at 64 clients, the time a killed node takes from restart to serving again, and the
 * size and time of one `/metrics` scrape.
 *
 * ```sh
 * deno task bench:scale                       # PARTITIONS=10,100,1000 IDLE_SECONDS=30 SECONDS=5
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { delay } from "@std/async";
import { ProcessCluster } from "../cluster/processes.ts";
import { scriptArgs } from "../support/script_args.ts";
import { waitFor } from "../support/wait.ts";
import { closedLoop } from "./closed_loop.ts";
import { FileStorage } from "../../storage/file_storage.ts";
import { cpuSeconds } from "./process_stats.ts";

scriptArgs(
  "Usage: deno task bench:scale\n\n" +
    "Idle CPU, RSS, idle messages, write throughput, restart time and /metrics size of a 3-node\n" +
    "cluster with 10, 100 and 1000 partitions.\n" +
    "Environment: PARTITIONS (default 10,100,1000), IDLE_SECONDS (default 30), SECONDS (write\n" +
    "load per run, default 5), LOG_ENTRIES (one partition's log for the recovery row, default\n" +
    "1000000; 0 skips it).",
);

const PARTITIONS = (Deno.env.get("PARTITIONS") ?? "10,100,1000").split(",").filter(Boolean).map(
  Number,
);
const IDLE_SECONDS = Number(Deno.env.get("IDLE_SECONDS") ?? 30);
const SECONDS = Number(Deno.env.get("SECONDS") ?? 5);
const CLIENTS = 64;
/** Entries in one partition's log for the recovery row; 0 to skip it. */
const LOG_ENTRIES = Number(Deno.env.get("LOG_ENTRIES") ?? 1_000_000);
const VALUE = btoa("v".repeat(128));

/** Resident memory of a process, in MB. */
function rssMb(pid: number): number {
  const line = Deno.readTextFileSync(`/proc/${pid}/status`).split("\n").find((l) =>
    l.startsWith("VmRSS:")
  )!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** Raft messages a node has sent since it started (its status document's counter). */
async function messagesSent(url: string): Promise<number> {
  const doc = await (await fetch(`${url}/status.json?scope=node`)).json();
  return doc.totals.messagesSent;
}

/** Calls a node has made to its peers (Raft batches and liveness pings), from its metrics. */
async function rpcCalls(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("prkdb_rpc_duration_seconds_count{")) sum += Number(line.split(" ").at(-1));
  }
  return sum;
}

async function put(url: string, key: string): Promise<void> {
  const r = await fetch(`${url}/prkdb.v1.KvService/Put`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: btoa(key), value: VALUE }),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${r.status} ${text.slice(0, 200)}`);
}

interface Row {
  partitions: number;
  startSeconds: number;
  idleCpuPercent: number[];
  rssMb: number[];
  idleMessagesPerSecond: number[];
  idleCallsPerSecond: number[];
  putsPerSecond: number;
  restartSeconds: number;
  metricsKb: number;
  metricsMs: number;
}

async function measure(partitions: number): Promise<Row> {
  console.log(`\n${partitions} partitions: starting 3 nodes ...`);
  const started = performance.now();
  const c = await ProcessCluster.start(3, {
    partitions,
    tickMs: 100,
    healthyTimeoutMs: 600_000,
  });
  const startSeconds = (performance.now() - started) / 1000;
  try {
    const urls = [1, 2, 3].map((id) => c.urls.get(id)!);
    const pids = [1, 2, 3].map((id) => c.pid(id));
    // Let leader balancing and first snapshots settle before the idle window.
    await delay(5_000);
    console.log(`  up in ${startSeconds.toFixed(1)} s; idle for ${IDLE_SECONDS} s ...`);
    const cpu0 = pids.map(cpuSeconds);
    const msg0 = await Promise.all(urls.map(messagesSent));
    const rpc0 = await Promise.all(urls.map(rpcCalls));
    await delay(IDLE_SECONDS * 1000);
    const idleCpuPercent = pids.map((p, i) => (100 * (cpuSeconds(p) - cpu0[i])) / IDLE_SECONDS);
    const msg1 = await Promise.all(urls.map(messagesSent));
    const idleMessagesPerSecond = msg1.map((m, i) => (m - msg0[i]) / IDLE_SECONDS);
    const rpc1 = await Promise.all(urls.map(rpcCalls));
    const idleCallsPerSecond = rpc1.map((r, i) => (r - rpc0[i]) / IDLE_SECONDS);
    const rss = pids.map(rssMb);

    const t = performance.now();
    const scrape = await (await fetch(`${urls[0]}/metrics`)).text();
    const metricsMs = performance.now() - t;

    console.log(`  writing at ${CLIENTS} clients for ${SECONDS} s ...`);
    const load = await closedLoop(
      CLIENTS,
      SECONDS,
      (client, i) => put(urls[client % 3], `key-${(client * 7919 + i) % 10_000}`),
    );

    console.log("  killing node 3 and restarting it ...");
    await c.kill(3);
    const restarted = performance.now();
    c.spawn(3);
    await waitFor(
      "node 3 to serve again",
      async () => (await c.health(3))?.healthy === true,
      600_000,
      50,
    );
    const restartSeconds = (performance.now() - restarted) / 1000;
    return {
      partitions,
      startSeconds,
      idleCpuPercent,
      rssMb: rss,
      idleMessagesPerSecond,
      idleCallsPerSecond,
      putsPerSecond: load.opsPerSecond,
      restartSeconds,
      metricsKb: new TextEncoder().encode(scrape).length / 1024,
      metricsMs,
    };
  } finally {
    await c.stop();
  }
}

/**
 * How long a node takes to recover one partition with `entries` log entries (no snapshot) from
 * file storage: the write-ahead log scan a restart does before the node can serve.
 */
async function recovery(entries: number): Promise<{ seconds: number; mb: number }> {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-recovery-" });
  try {
    const storage = await FileStorage.open(dir, { onWarning: () => {} });
    const data = new TextEncoder().encode("v".repeat(100));
    const batch = 10_000;
    for (let first = 1; first <= entries; first += batch) {
      const n = Math.min(batch, entries - first + 1);
      await storage.write([{
        partition: 0,
        entries: Array.from({ length: n }, (_, i) => ({
          index: first + i,
          term: 1,
          type: "normal" as const,
          data,
        })),
      }]);
    }
    await storage.close();
    let bytes = 0;
    const walk = async (d: string): Promise<void> => {
      for await (const e of Deno.readDir(d)) {
        if (e.isDirectory) await walk(`${d}/${e.name}`);
        else if (e.isFile) bytes += (await Deno.stat(`${d}/${e.name}`)).size;
      }
    };
    await walk(dir);
    const t = performance.now();
    const reopened = await FileStorage.open(dir, { onWarning: () => {} });
    const state = await reopened.load(0);
    const seconds = (performance.now() - t) / 1000;
    if (state.entries.length !== entries) throw new Error(`recovered ${state.entries.length}`);
    await reopened.close();
    return { seconds, mb: bytes / (1 << 20) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const rows: Row[] = [];
for (const p of PARTITIONS) rows.push(await measure(p));
const f = (xs: number[], digits = 1) => xs.map((x) => x.toFixed(digits)).join(" / ");
console.log(
  "\n| partitions | idle CPU % of a core (per node) | RSS MB (per node) | idle Raft messages/s " +
    "(per node) | idle calls/s to peers (per node) | puts/s at 64 clients | restart to serving " +
    "| /metrics size, scrape time |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const cells = [
    String(r.partitions),
    f(r.idleCpuPercent),
    f(r.rssMb, 0),
    f(r.idleMessagesPerSecond, 0),
    f(r.idleCallsPerSecond),
    r.putsPerSecond.toFixed(0),
    `${r.restartSeconds.toFixed(1)} s`,
    `${r.metricsKb.toFixed(0)} KB, ${r.metricsMs.toFixed(0)} ms`,
  ];
  console.log(`| ${cells.join(" | ")} |`);
}
if (LOG_ENTRIES > 0) {
  console.log(`\nWriting ${LOG_ENTRIES} entries to one partition's log, then recovering it ...`);
  const r = await recovery(LOG_ENTRIES);
  console.log(
    `Recovery of one partition with ${LOG_ENTRIES} entries (${r.mb.toFixed(0)} MB of log, no ` +
      `snapshot): ${r.seconds.toFixed(1)} s`,
  );
}
Deno.exit(0);
