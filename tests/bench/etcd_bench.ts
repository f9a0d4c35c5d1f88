/**
 * PrkDB and etcd side by side on this machine, in one run: the same load generator (plain
 * keep-alive HTTP/1.1 JSON over `fetch`, each client sending its requests to the three nodes in
 * turn, so two thirds of requests reach a follower at any client count, one client included,
 * wherever the leaders are) against a 3-node PrkDB cluster and a 3-node etcd cluster, both
 * on loopback with file storage and fsync. Workloads: put, linearizable get, and 90/10 get/put,
 * each at several client counts; 128-byte values over 10,000 keys. It prints ops/s, p50/p99,
 * server CPU per operation, and the PrkDB/etcd ratios. With one client, a row sends every put to
 * node 1, as an application that talks to one node does (PrkDB's partitions move their
 * leadership there; etcd's leader stays wherever it is). Two more split "put x1" by path, on
 * both systems: every put sent to its key's leader, or to one of the two other nodes, which pass
 * it on (rotating over the nodes, a third of the puts take the first path and two thirds the
 * second). Two extra rows send PrkDB's puts straight to each partition's leader (something a
 * generic client cannot do): the same JSON load generator, told where the leaders are (so the
 * difference from `put x64` is what passing writes on to leaders costs), and PrkDB's own client
 * (at one client too, when the client counts include 1).
 *
 * ```sh
 * apt-get install etcd-server          # the etcd binary, once
 * deno task bench:etcd                 # SECONDS=3 CLIENTS=1,16,64 to change the load
 * ROUNDS=3 deno task bench:etcd        # each case 3 times: the median ratio, and the range
 * TLS=1 deno task bench:etcd           # both systems on mutual TLS, clients and peers alike
 * PARTITIONS=1 deno task bench:etcd    # PrkDB as one Raft group, as etcd is (default 8)
 * LEADERS_ON=1 deno task bench:etcd    # every partition led by node 1, as etcd has one leader
 * ```
 *
 * The machine's speed drifts between runs; compare the ratios, not the absolute figures.
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { join } from "@std/path";
import { PrkDbClient } from "../../client/mod.ts";
import { freePort, ProcessCluster } from "../cluster/processes.ts";
import { scriptArgs } from "../support/script_args.ts";
import { closedLoop } from "./closed_loop.ts";
import { initCertificates } from "../../server/certs.ts";
import { partitionForKey } from "../../partition/hash.ts";
import { cpuSeconds } from "./process_stats.ts";
import { awaitBalancedLeaders, leaderCounts, leaderUrls, moveLeadersTo } from "./leader_layout.ts";

scriptArgs(
  "Usage: deno task bench:etcd\n\n" +
    "PrkDB and etcd side by side: put, linearizable get and 90/10 mixed at 1, 16 and 64 clients.\n" +
    "Environment: SECONDS (per case, default 3), CLIENTS (default 1,16,64), WORKLOADS (default\n" +
    "put,get,mixed), TLS=1 (mutual TLS for clients and peers on both systems), PARTITIONS\n" +
    "(PrkDB's, default 8), LEADERS_ON=N (every partition's leadership moved to node N first),\n" +
    "ROUNDS (runs of each case on both systems, interleaved; the median ratio is printed, with\n" +
    "the range), IDLE_SECONDS (each idle measurement, default 5), IDLE_SETTLE_SECONDS (quiet\n" +
    "before idle is measured, default 25). Needs the etcd binary (apt-get install etcd-server).",
);

const SECONDS = Number(Deno.env.get("SECONDS") ?? 3);
const CLIENTS = (Deno.env.get("CLIENTS") ?? "1,16,64").split(",").map(Number);
const TLS = Deno.env.get("TLS") === "1";
/** Interleaved runs of each case on both systems; the median ratio is printed, with the range. */
const ROUNDS = Math.max(1, Number(Deno.env.get("ROUNDS") ?? 1));
/**
 * Which workloads to run (names as printed, "put", "get", "mixed", "idle"); default all. The
 * extra put rows (to leaders, PrkDB's client) run with "put".
 */
const ONLY = Deno.env.get("WORKLOADS")?.split(",");
/** Seconds each idle measurement lasts. */
const IDLE_SECONDS = Number(Deno.env.get("IDLE_SECONDS") ?? 5);
/** Seconds both systems are left alone after the load, before idle is measured. */
const IDLE_SETTLE_SECONDS = Number(Deno.env.get("IDLE_SETTLE_SECONDS") ?? 25);
const KEYS = 10_000;
const VALUE = "v".repeat(128);
const b64 = (s: string) => btoa(s);

/**
 * The PrkDB cluster's partitions: the default of `serve`, 8, unless `PARTITIONS` says otherwise
 * (etcd is one Raft group; `PARTITIONS=1` shows what spreading the keys over groups costs).
 */
const PARTITIONS = Number(Deno.env.get("PARTITIONS") ?? 8);
if (!Number.isSafeInteger(PARTITIONS) || PARTITIONS < 1) {
  console.error(`PARTITIONS must be a positive integer, got ${Deno.env.get("PARTITIONS")}`);
  Deno.exit(2);
}

/** How long one client sends to node 1 before the one-node row is measured. */
const ONE_NODE_WARMUP_SECONDS = 8;

/** One system under test: where to send each request, and which processes serve it. */
interface System {
  readonly name: string;
  readonly pids: number[];
  /** Sends a put to node `node` mod 3. */
  put(node: number, key: string): Promise<void>;
  /** Sends a linearizable get to node `node` mod 3. */
  get(node: number, key: string): Promise<void>;
  /**
   * The URL of the node that leads `key` (`toLeader`), or of one of the two others, chosen by
   * `i`. Valid after {@linkcode System.locateLeaders}.
   */
  nodeFor(key: string, i: number, toLeader: boolean): string;
  /** Reads where the leaders are now, for {@linkcode System.nodeFor}; false if one is missing. */
  locateLeaders(): Promise<boolean>;
  /** Sends a put to `url`. */
  putTo(url: string, key: string): Promise<void>;
}

/** The URL of `urls[leader]`, or of one of the other two nodes, chosen by `i`. */
function leaderOrNot(urls: readonly string[], leader: number, i: number, toLeader: boolean) {
  return toLeader ? urls[leader] : urls.filter((_, n) => n !== leader)[i % 2];
}

/**
 * The node to move every partition's leadership to before measuring (0: leave leaders where
 * balancing puts them, spread over the nodes). etcd has one leader for all keys; on one machine,
 * where all the nodes share its cores, that changes how work meets in rounds.
 */
const LEADERS_ON = Number(Deno.env.get("LEADERS_ON") ?? 0);
if (![0, 1, 2, 3].includes(LEADERS_ON)) {
  console.error(
    `LEADERS_ON must be a node of the 3 (1, 2 or 3), got ${Deno.env.get("LEADERS_ON")}`,
  );
  Deno.exit(2);
}

/**
 * Where the leaders are at the start: a write sent to its leader saves two hops, so the load
 * generator sends to the nodes in turn, and this says where the leaders were.
 */
async function whoLeads(
  etcdUrls: readonly string[],
  prkdbUrl: string,
  prkdbNodes: ReadonlyMap<number, string>,
): Promise<string> {
  const etcdLeader = await etcdLeaderOf(etcdUrls) + 1;
  const leads = await leaderCounts(prkdbUrl, prkdbNodes, http);
  return `Leaders: etcd's is member ${etcdLeader || "?"}; of PrkDB's ${PARTITIONS} partition${
    PARTITIONS === 1 ? "" : "s"
  }, ${[...leads].map(([id, n]) => `node ${id} leads ${n}`).join(", ")}.`;
}

/** Which of the etcd members leads (its index in `urls`), or -1 when none says it does. */
async function etcdLeaderOf(urls: readonly string[]): Promise<number> {
  const members = await Promise.all(urls.map(async (url) => {
    const r = await fetch(`${url}/v3/maintenance/status`, {
      method: "POST",
      body: "{}",
      client: http,
    });
    return (await r.json()) as { header: { member_id: string }; leader: string };
  }));
  return members.findIndex((m) => m.header.member_id === m.leader);
}

/** The load generator's connections: plain, or TLS with a client certificate (set in main). */
let http: Deno.HttpClient | undefined;

async function post(url: string, body: string): Promise<void> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    client: http,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${url}: ${r.status} ${text.slice(0, 200)}`);
}

interface Result {
  opsPerSecond: number;
  p50: number;
  p99: number;
  cpuMsPerOp: number;
  errors: number;
}

async function run(
  system: System,
  clients: number,
  op: (client: number, i: number) => Promise<void>,
): Promise<Result> {
  const cpuBefore = system.pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const r = await closedLoop(clients, SECONDS, op);
  const cpu = system.pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpuBefore;
  return { ...r, cpuMsPerOp: r.done > 0 ? (cpu * 1000) / r.done : NaN };
}

/**
 * Starts a 3-member etcd cluster on free loopback ports; with `certs`, clients and peers must
 * present certificates from its CA (the PrkDB nodes' certificates serve etcd's members too).
 */
async function startEtcd(
  dir: string,
  certs?: string,
): Promise<{ urls: string[]; children: Deno.ChildProcess[] }> {
  const client = [freePort(), freePort(), freePort()];
  const peer = [freePort(), freePort(), freePort()];
  const scheme = certs ? "https" : "http";
  const initial = peer.map((p, i) => `e${i + 1}=${scheme}://127.0.0.1:${p}`).join(",");
  const tls = (i: number) =>
    certs
      ? [
        ["--cert-file", "--peer-cert-file"].flatMap((f) => [f, join(certs, `node-${i + 1}.pem`)]),
        ["--key-file", "--peer-key-file"].flatMap((f) => [f, join(certs, `node-${i + 1}.key`)]),
        ["--trusted-ca-file", "--peer-trusted-ca-file"].flatMap((f) => [f, join(certs, "ca.pem")]),
        ["--client-cert-auth", "--peer-client-cert-auth"],
      ].flat()
      : [];
  const children = client.map((c, i) =>
    new Deno.Command("etcd", {
      args: [
        "--name",
        `e${i + 1}`,
        "--data-dir",
        join(dir, `e${i + 1}`),
        "--listen-client-urls",
        `${scheme}://127.0.0.1:${c}`,
        "--advertise-client-urls",
        `${scheme}://127.0.0.1:${c}`,
        "--listen-peer-urls",
        `${scheme}://127.0.0.1:${peer[i]}`,
        "--initial-advertise-peer-urls",
        `${scheme}://127.0.0.1:${peer[i]}`,
        ...tls(i),
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        "prkdb-bench",
        "--log-level",
        "error",
        "--logger",
        "zap",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  const urls = client.map((c) => `${scheme}://127.0.0.1:${c}`);
  const deadline = Date.now() + 30_000;
  for (const url of urls) {
    for (;;) {
      try {
        const r = await fetch(`${url}/health`, { client: http });
        if ((await r.json()).health === "true") break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error(`etcd at ${url} did not become healthy`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { urls, children };
}

async function main(): Promise<void> {
  try {
    await new Deno.Command("etcd", { args: ["--version"], stdout: "null" }).output();
  } catch {
    console.error("etcd is not installed: apt-get install etcd-server");
    Deno.exit(2);
  }
  const dir = await Deno.makeTempDir({ prefix: "prkdb-etcd-bench-" });
  console.log(
    `Starting 3 PrkDB nodes and 3 etcd members (file storage, loopback${
      TLS ? ", mutual TLS for clients and peers" : ""
    }); ${SECONDS} s per case...`,
  );
  const certs = TLS ? join(dir, "certs") : undefined;
  let clientTls: { ca: string; cert: string; key: string } | undefined;
  if (certs) {
    await initCertificates({ dir: certs, nodes: [1, 2, 3] });
    const read = (f: string) => Deno.readTextFile(join(certs, f));
    clientTls = {
      ca: await read("ca.pem"),
      cert: await read("client-rw.pem"),
      key: await read("client-rw.key"),
    };
    http = Deno.createHttpClient({
      caCerts: [clientTls.ca],
      cert: clientTls.cert,
      key: clientTls.key,
    });
  }
  const etcd = await startEtcd(dir, certs);
  const prkdb = await ProcessCluster.start(3, { partitions: PARTITIONS, tickMs: 100, certs });
  try {
    const pUrls = [...prkdb.urls.values()];
    /** Each PrkDB partition's leader (its index in `pUrls`), and etcd's leader member. */
    const leads = { prkdb: [] as number[], etcd: -1 };
    const prkdbPut = (url: string, key: string) =>
      post(`${url}/prkdb.v1.KvService/Put`, JSON.stringify({ key: b64(key), value: b64(VALUE) }));
    const etcdPut = (url: string, key: string) =>
      post(`${url}/v3/kv/put`, JSON.stringify({ key: b64(key), value: b64(VALUE) }));
    const systems: System[] = [
      {
        name: "PrkDB",
        pids: [1, 2, 3].map((id) => prkdb.pid(id)),
        put: (n, key) => prkdbPut(pUrls[n % 3], key),
        get: (n, key) =>
          post(`${pUrls[n % 3]}/prkdb.v1.KvService/Get`, JSON.stringify({ key: b64(key) })),
        nodeFor: (key, i, toLeader) => {
          const partition = partitionForKey(new TextEncoder().encode(key), PARTITIONS);
          return leaderOrNot(pUrls, leads.prkdb[partition], i, toLeader);
        },
        locateLeaders: async () => {
          const urls = await leaderUrls(pUrls[0], prkdb.urls, http).catch(() => []);
          leads.prkdb = urls.map((url) => pUrls.indexOf(url));
          return urls.length === PARTITIONS && leads.prkdb.every((n) => n >= 0);
        },
        putTo: prkdbPut,
      },
      {
        name: "etcd",
        pids: etcd.children.map((c) => c.pid),
        put: (n, key) => etcdPut(etcd.urls[n % 3], key),
        get: (n, key) => post(`${etcd.urls[n % 3]}/v3/kv/range`, JSON.stringify({ key: b64(key) })),
        nodeFor: (_key, i, toLeader) => leaderOrNot(etcd.urls, leads.etcd, i, toLeader),
        locateLeaders: async () => (leads.etcd = await etcdLeaderOf(etcd.urls)) >= 0,
        putTo: etcdPut,
      },
    ];
    // Every key exists before the reads.
    for (const s of systems) {
      await Promise.all(Array.from({ length: 32 }, async (_, c) => {
        for (let k = c; k < KEYS; k += 32) {
          // A leader may be moving right after start: retry a few times.
          for (let attempt = 0;; attempt++) {
            try {
              await s.put(c, `key-${k}`);
              break;
            } catch (error) {
              if (attempt >= 50) throw error;
              await new Promise((r) => setTimeout(r, 20));
            }
          }
        }
      }));
    }
    if (LEADERS_ON) {
      // Moving leaders is for members: with TLS, ask as node 1.
      const asNode = certs
        ? Deno.createHttpClient({
          caCerts: [clientTls!.ca],
          cert: await Deno.readTextFile(join(certs, "node-1.pem")),
          key: await Deno.readTextFile(join(certs, "node-1.key")),
        })
        : undefined;
      await moveLeadersTo(pUrls[0], PARTITIONS, LEADERS_ON, asNode);
      asNode?.close();
    } else {
      // Leader balancing hands a partition to its preferred node only once that node holds the
      // whole log, and the elections at start (and the writes above) may have left them piled
      // up: measure the balanced layout the cluster keeps in its steady state.
      if (!(await awaitBalancedLeaders(pUrls[0], prkdb.urls, http))) {
        console.log("PrkDB's leaders did not balance within 60 s; measuring as they are.");
      }
    }
    console.log(await whoLeads(etcd.urls, pUrls[0], prkdb.urls));
    const workloads: [string, (s: System) => (c: number, i: number) => Promise<void>][] = [
      ["put", (s) => (c, i) => s.put(c + i, `key-${(c * 7919 + i) % KEYS}`)],
      ["get", (s) => (c, i) => s.get(c + i, `key-${(c * 7919 + i) % KEYS}`)],
      [
        "mixed 90/10",
        (s) => (c, i) =>
          i % 10 === 0
            ? s.put(c + i, `key-${(c * 7919 + i) % KEYS}`)
            : s.get(c + i, `key-${(c * 7919 + i) % KEYS}`),
      ],
    ];
    const fmt = (r: Result) =>
      `${Math.round(r.opsPerSecond).toLocaleString("en-US").padStart(7)} ops/s  p50 ${
        r.p50.toFixed(1).padStart(5)
      } ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  cpu ${r.cpuMsPerOp.toFixed(3)} ms/op${
        r.errors ? `  errors ${r.errors}` : ""
      }`;
    /** Runs a case on both systems, interleaved, and prints the median round by ratio. */
    const compare = async (
      label: string,
      clients: number,
      make: (s: System) => (c: number, i: number) => Promise<void>,
    ) => {
      // Interleaved: each case runs on both systems back to back, so drift hits both.
      const pairs: { p: Result; e: Result; ratio: number }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const p = await run(systems[0], clients, make(systems[0]));
        const e = await run(systems[1], clients, make(systems[1]));
        pairs.push({ p, e, ratio: p.opsPerSecond / e.opsPerSecond });
      }
      pairs.sort((a, b) => a.ratio - b.ratio);
      const { p, e, ratio } = pairs[Math.floor((pairs.length - 1) / 2)];
      const range = ROUNDS > 1
        ? ` (${pairs[0].ratio.toFixed(2)}-${pairs[pairs.length - 1].ratio.toFixed(2)}x)`
        : "";
      console.log(
        `${label.padEnd(20)} ${fmt(p).padEnd(57)} ${fmt(e).padEnd(57)} ${
          ratio.toFixed(2)
        }x${range}`,
      );
    };
    console.log(`\n${"workload".padEnd(20)} ${"PrkDB".padEnd(57)} ${"etcd".padEnd(57)} ratio`);
    for (const [name, make] of workloads) {
      if (ONLY && !ONLY.some((w) => name.startsWith(w))) continue;
      for (const clients of CLIENTS) await compare(`${name} x${clients}`, clients, make);
    }
    if (!ONLY || ONLY.includes("put")) {
      // The same JSON puts, each sent to its partition's leader: what passing writes on costs.
      const prkdbSystem = systems[0];
      if (!(await prkdbSystem.locateLeaders())) throw new Error("a PrkDB partition has no leader");
      const toLeader = await run(prkdbSystem, 64, (c, i) => {
        const key = `key-${(c * 7919 + i) % KEYS}`;
        return prkdbSystem.putTo(prkdbSystem.nodeFor(key, i, true), key);
      });
      console.log(`${"put x64, to leaders".padEnd(20)} ${fmt(toLeader)}`);
      // PrkDB's own client routes each put straight to its partition's leader.
      const db = await Promise.all(
        Array.from({ length: 64 }, () => PrkDbClient.connect(pUrls, { tls: clientTls })),
      );
      // A client opens a session per partition at its first write there, once in its life:
      // opened before measuring, so the row shows the steady state.
      const warm: string[] = [];
      for (let n = 0; warm.filter(Boolean).length < PARTITIONS; n++) {
        const key = `warm-${n}`;
        warm[partitionForKey(new TextEncoder().encode(key), PARTITIONS)] ??= key;
      }
      await Promise.all(db.flatMap((c) => warm.map((key) => c.put(key, VALUE))));
      const direct = await run(
        systems[0],
        64,
        (c, i) => db[c].put(`key-${(c * 7919 + i) % KEYS}`, VALUE).then(() => {}),
      );
      console.log(`${"put x64, PrkDbClient".padEnd(20)} ${fmt(direct)}`);
      if (CLIENTS.includes(1)) {
        // One of them alone: each put goes straight to its leader, with a session.
        const alone = await run(
          systems[0],
          1,
          (_c, i) => db[0].put(`key-${(7919 * i) % KEYS}`, VALUE).then(() => {}),
        );
        console.log(`${"put x1, PrkDbClient".padEnd(20)} ${fmt(alone)}`);
      }
      for (const c of db) c.close();
    }
    if ((!ONLY || ONLY.includes("put")) && CLIENTS.includes(1)) {
      // "put x1" split by path, on both systems: each put sent to its key's leader, or to one
      // of the two other nodes in turn (which pass it on). Rotating over the three nodes, as
      // "put x1" does, a third of the puts take the first path and two thirds the second.
      const located = await Promise.all(systems.map((s) => s.locateLeaders()));
      if (located.every(Boolean)) {
        for (const toLeader of [true, false]) {
          await compare(
            `put x1, ${toLeader ? "to leader" : "passed on"}`,
            1,
            (s) => (c, i) => {
              const key = `key-${(c * 7919 + i) % KEYS}`;
              return s.putTo(s.nodeFor(key, i, toLeader), key);
            },
          );
        }
      } else {
        console.log("A leader could not be found; the rows by path are left out.");
      }
      // One client sending every put to node 1, as an application that talks to one node does.
      // PrkDB's partitions move their leadership to where their writes come through (within a
      // few seconds: warmed up first, unmeasured); etcd's one leader stays where it is.
      const oneNode = (s: System) => (c: number, i: number) =>
        s.put(0, `key-${(c * 7919 + i) % KEYS}`);
      for (const s of systems) await closedLoop(1, ONE_NODE_WARMUP_SECONDS, oneNode(s));
      await compare("put x1, one node", 1, oneNode);
      console.log(`  ${await whoLeads(etcd.urls, pUrls[0], prkdb.urls)}`);
      // The leaders go back to their preferred replicas once those writes fade (a few balancing
      // passes): what follows is measured on the balanced layout again.
      if (!LEADERS_ON && !(await awaitBalancedLeaders(pUrls[0], prkdb.urls, http))) {
        console.log("PrkDB's leaders did not balance again within 60 s.");
      }
    }
    if (!ONLY || ONLY.includes("idle")) {
      // Idle CPU: both clusters doing nothing. The load before leaves work behind for a while,
      // so both settle first: V8 shrinks a heap grown under load some 15 s after the load stops,
      // one full collection that costs each node 0.1-0.3 s of CPU (its resident memory falls
      // from about 245 to 145 MB). Then each is measured in turn, IDLE_SECONDS at a time, ROUNDS
      // times, and the medians compared.
      console.log(`(idle: both left alone for ${IDLE_SETTLE_SECONDS} s first)`);
      await new Promise((r) => setTimeout(r, IDLE_SETTLE_SECONDS * 1000));
      const idle = async (s: System) => {
        const before = s.pids.reduce((sum, p) => sum + cpuSeconds(p), 0);
        await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
        return (s.pids.reduce((sum, p) => sum + cpuSeconds(p), 0) - before) / IDLE_SECONDS;
      };
      const p: number[] = [];
      const e: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        p.push(await idle(systems[0]));
        e.push(await idle(systems[1]));
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
      const [pi, ei] = [median(p), median(e)];
      console.log(
        `idle CPU (cores)     PrkDB ${pi.toFixed(3)}  etcd ${ei.toFixed(3)}  ratio ${
          (pi / ei).toFixed(2)
        }x`,
      );
    }
  } finally {
    await prkdb.stop();
    for (const c of etcd.children) {
      c.kill("SIGTERM");
      await c.status;
    }
    http?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

await main();
