/**
 * Cluster benchmark: a real 3-node cluster (node processes on loopback, file storage), 64
 * concurrent clients. Measures durable writes, then linearizable reads, for a few seconds each.
 *
 * ```sh
 * deno task bench:cluster        # CLIENTS=64 SECONDS=5 PARTITIONS=8 to change the load
 * TLS=1 deno task bench:cluster  # the same with mutual TLS between nodes and client certificates
 * LIST_KEYS=100000 WATCHERS=100 deno task bench:cluster   # list and watch sizes
 * ```
 *
 * Then it lists LIST_KEYS keys (keys per second), and fans writes out to WATCHERS watchers:
 * events per second delivered in all, and the time from a put's acknowledgement to its event
 * at a watcher (p50, p99).
 *
 * ```sh
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { PrkDbClient } from "../../client/mod.ts";
import { ProcessCluster } from "../cluster/processes.ts";
import { closedLoop } from "./closed_loop.ts";
import { initCertificates } from "../../server/certs.ts";
import { scriptArgs } from "../support/script_args.ts";

scriptArgs(`Usage: deno task bench:cluster

Starts a 3-node cluster of node processes on loopback (file storage) and measures durable writes,
then linearizable reads, from concurrent clients. Set in the environment:
  CLIENTS=64      concurrent clients
  SECONDS=5       seconds per phase
  PARTITIONS=8    partitions
  TLS=1           mutual TLS between nodes and client certificates
`);

const CLIENTS = Number(Deno.env.get("CLIENTS") ?? 64);
const SECONDS = Number(Deno.env.get("SECONDS") ?? 5);
const PARTITIONS = Number(Deno.env.get("PARTITIONS") ?? 8);
const TLS = Deno.env.get("TLS") === "1";
const LIST_KEYS = Number(Deno.env.get("LIST_KEYS") ?? 100_000);
const WATCHERS = Number(Deno.env.get("WATCHERS") ?? 100);

/** Writes LIST_KEYS keys (in atomic batches of one hash tag), then lists them all. */
async function listing(clients: PrkDbClient[], value: string): Promise<void> {
  const batches = Math.ceil(LIST_KEYS / 100);
  let next = 0;
  await Promise.all(clients.map(async (db) => {
    for (let b = next++; b < batches; b = next++) {
      const op = db.atomic();
      for (let i = 0; i < 100 && b * 100 + i < LIST_KEYS; i++) {
        op.set(`{l${b}}/${String(b * 100 + i).padStart(7, "0")}`, value);
      }
      await op.commit();
    }
  }));
  for (const readMode of ["linearizable", "stale"] as const) {
    const started = performance.now();
    let n = 0;
    for await (const _ of clients[0].list({ prefix: "{l" }, { batchSize: 1000, readMode })) n++;
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `list ${readMode.padEnd(17)} ${
        Math.round(n / seconds).toLocaleString("en-US").padStart(8)
      } keys/s  (${n} keys)`,
    );
  }
}

/** WATCHERS watchers on one prefix; writers put for SECONDS; events delivered and lag. */
async function watching(
  clients: PrkDbClient[],
  urls: string[],
  tls: { ca: string; cert: string; key: string } | undefined,
): Promise<void> {
  const ac = new AbortController();
  const acked = new Map<string, number>();
  const lags: number[] = [];
  let delivered = 0;
  const watchers = await Promise.all(
    Array.from({ length: WATCHERS }, () => PrkDbClient.connect(urls, { tls })),
  );
  const streams = watchers.map((db) => db.watch({ prefix: "watched/" }, { signal: ac.signal }));
  const running = streams.map(async (stream) => {
    for await (const change of stream) {
      delivered++;
      const at = acked.get(change.version);
      if (at !== undefined) lags.push(performance.now() - at);
    }
  });
  await new Promise((r) => setTimeout(r, 1000)); // let every stream open
  const started = performance.now();
  const end = started + SECONDS * 1000;
  let puts = 0;
  await Promise.all(
    clients.slice(0, 8).map(async (db, c) => {
      for (let i = 0; i < 100_000 && performance.now() < end; i++) {
        const r = await db.put(`watched/${c}-${i % 50}`, "v");
        acked.set(r.version!, performance.now());
        puts++;
      }
    }),
  );
  const expected = puts * WATCHERS;
  const deadline = performance.now() + 10_000;
  while (delivered < expected && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  ac.abort();
  await Promise.all(running);
  for (const db of watchers) db.close();
  lags.sort((a, b) => a - b);
  console.log(
    `watch fan-out x${WATCHERS}      ${
      Math.round(delivered / seconds).toLocaleString("en-US").padStart(8)
    } events/s` +
      `  (${delivered} of ${expected})  put ack -> event p50 ${
        percentile(lags, 0.5).toFixed(1)
      } ms  p99 ${percentile(lags, 0.99).toFixed(1)} ms`,
  );
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function load(
  name: string,
  op: (client: number, i: number) => Promise<unknown>,
): Promise<void> {
  const r = await closedLoop(CLIENTS, SECONDS, op);
  console.log(
    `${name.padEnd(22)} ${Math.round(r.opsPerSecond).toLocaleString("en-US").padStart(8)} ops/s` +
      `   p50 ${r.p50.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms   errors ${r.errors}`,
  );
}

console.log(
  `Starting 3 nodes, ${PARTITIONS} partitions, file storage, ${
    TLS ? "mutual TLS" : "insecure"
  }; ${CLIENTS} clients, ${SECONDS} s per case...`,
);
const certs = TLS ? await Deno.makeTempDir({ prefix: "prkdb-bench-certs-" }) : undefined;
if (certs) await initCertificates({ dir: certs, nodes: [1, 2, 3] });
const read = (f: string) => Deno.readTextFile(`${certs}/${f}`);
const tls = certs
  ? {
    ca: await read("ca.pem"),
    cert: await read("client-rw.pem"),
    key: await read("client-rw.key"),
  }
  : undefined;
const cluster = await ProcessCluster.start(3, { partitions: PARTITIONS, tickMs: 100, certs });
try {
  const urls = [...cluster.urls.values()];
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, () => PrkDbClient.connect(urls, { tls })),
  );
  const value = "x".repeat(100);
  await load("put (100-byte values)", (c, i) => clients[c].put(`key-${c}-${i % 1000}`, value));
  await load("get linearizable", (c, i) => clients[c].get(`key-${c}-${i % 1000}`));
  await load(
    "get follower",
    (c, i) => clients[c].get(`key-${c}-${i % 1000}`, { readMode: "follower" }),
  );
  await load("get stale", (c, i) => clients[c].get(`key-${c}-${i % 1000}`, { readMode: "stale" }));
  await listing(clients, value);
  await watching(clients, urls, tls);
  for (const c of clients) c.close();
} finally {
  await cluster.stop();
  if (certs) await Deno.remove(certs, { recursive: true });
}
