/**
 * What one put costs a 3-node PrkDB cluster, counted: the load `bench:etcd` sends (64 JSON
 * clients, each sending to the three nodes in turn) for a few seconds, with the nodes' own
 * counters (`/metrics`) and `/proc` read before and after, divided by the puts done. It shows
 * what `bench:etcd`'s CPU figure is made of: storage writes (each one fdatasync), frames on the
 * peer streams by kind, writes passed on to leaders, HTTP requests by lane, context switches.
 *
 * ```sh
 * deno task bench:counters                      # leaders balanced, as the cluster keeps them
 * LEADERS_ON=1 deno task bench:counters         # every partition led by node 1
 * PARTITIONS=1 deno task bench:counters         # one Raft group
 * TO_LEADERS=1 deno task bench:counters         # each put sent to its partition's leader
 * ```
 *
 * `BARRIER=<dir>` makes it wait, after the warm-up, until as many runs as `BARRIER_PARTIES`
 * (default 2) have reached the same point, so that two checkouts measured at the same time
 * (`deno task bench:ab`) count over the same seconds.
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { ProcessCluster } from "../cluster/processes.ts";
import { partitionForKey } from "../../partition/hash.ts";
import { scriptArgs } from "../support/script_args.ts";
import { closedLoop } from "./closed_loop.ts";
import { contextSwitches, cpuSeconds, systemSeconds } from "./process_stats.ts";
import { awaitBalancedLeaders, leaderCounts, leaderUrls, moveLeadersTo } from "./leader_layout.ts";

scriptArgs(
  "Usage: deno task bench:counters\n\n" +
    "What one put costs a 3-node cluster, counted from the nodes' metrics and /proc.\n" +
    "Environment: CLIENTS (default 64), SECONDS (per round, default 3), ROUNDS (default 2),\n" +
    "PARTITIONS (default 8), LEADERS_ON=N (every partition's leadership on node N; default:\n" +
    "balanced), TO_LEADERS=1 (each put sent to its partition's leader), BARRIER=<dir> and\n" +
    "BARRIER_PARTIES (default 2): wait after the warm-up until that many runs got there.",
);

const CLIENTS = Number(Deno.env.get("CLIENTS") ?? 64);
const SECONDS = Number(Deno.env.get("SECONDS") ?? 3);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 2);
const PARTITIONS = Number(Deno.env.get("PARTITIONS") ?? 8);
const LEADERS_ON = Number(Deno.env.get("LEADERS_ON") ?? 0);
const BARRIER = Deno.env.get("BARRIER");
const BARRIER_PARTIES = Number(Deno.env.get("BARRIER_PARTIES") ?? 2);
const TO_LEADERS = Deno.env.get("TO_LEADERS") === "1";
for (
  const [name, value, ok] of [
    ["CLIENTS", CLIENTS, CLIENTS >= 1],
    ["SECONDS", SECONDS, SECONDS > 0],
    ["ROUNDS", ROUNDS, ROUNDS >= 1],
    ["PARTITIONS", PARTITIONS, PARTITIONS >= 1],
    ["LEADERS_ON", LEADERS_ON, [0, 1, 2, 3].includes(LEADERS_ON)],
    ["BARRIER_PARTIES", BARRIER_PARTIES, BARRIER_PARTIES >= 1],
  ] as const
) {
  if (!ok || !Number.isSafeInteger(Math.ceil(value))) {
    console.error(`${name}=${Deno.env.get(name)} is out of range (see --help)`);
    Deno.exit(2);
  }
}
const KEYS = 10_000;
const VALUE = btoa("v".repeat(128));

/**
 * The counters summed over the nodes: counts (`*_count`), totals (`*_total`) and the sums of the
 * durations histograms hold (`*_seconds_sum`), keyed by name and, where they have one, the `rpc`
 * or `lane` label.
 */
async function counters(urls: readonly string[]): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split("\n")) {
      const m = line.match(
        /^(prkdb_[a-z_]+(?:_count|_total|_seconds_sum))(\{[^}]*\})? ([0-9.e+-]+)$/,
      );
      if (!m) continue;
      const label = m[2]?.match(/(?:rpc|lane)="(\w+)"/)?.[1];
      const key = label ? `${m[1]}{${label}}` : m[1];
      sums.set(key, (sums.get(key) ?? 0) + Number(m[3]));
    }
  }
  return sums;
}

/** One reading of the nodes' processes. */
function processes(pids: readonly number[]) {
  return {
    cpu: pids.reduce((s, p) => s + cpuSeconds(p), 0),
    system: pids.reduce((s, p) => s + systemSeconds(p), 0),
    voluntary: pids.reduce((s, p) => s + contextSwitches(p).voluntary, 0),
    involuntary: pids.reduce((s, p) => s + contextSwitches(p).involuntary, 0),
  };
}

/**
 * Marks this run as ready in `dir`, then waits (two minutes at most) until `parties` runs are:
 * runs measured side by side then count over the same seconds.
 */
async function barrier(dir: string, parties: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/${Deno.pid}`, "");
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    let ready = 0;
    for await (const _ of Deno.readDir(dir)) ready++;
    if (ready >= parties) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log(`Only some of the ${parties} runs reached the start in two minutes; counting alone.`);
}

const cluster = await ProcessCluster.start(3, { partitions: PARTITIONS, tickMs: 100 });
try {
  const urls = [...cluster.urls.values()];
  const pids = [1, 2, 3].map((id) => cluster.pid(id));
  const put = (url: string, key: string) =>
    fetch(`${url}/prkdb.v1.KvService/Put`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: btoa(key), value: VALUE }),
    }).then(async (r) => {
      const text = await r.text();
      if (!r.ok) throw new Error(`${r.status} ${text.slice(0, 200)}`);
    });
  const keyOf = (c: number, i: number) => `key-${(c * 7919 + i) % KEYS}`;
  // Warm up (connections, compilation), then lay the leaders out.
  await closedLoop(CLIENTS, 2, (c, i) => put(urls[(c + i) % 3], keyOf(c, i)));
  if (LEADERS_ON) await moveLeadersTo(urls[0], PARTITIONS, LEADERS_ON);
  else if (!(await awaitBalancedLeaders(urls[0], cluster.urls))) {
    console.log("The leaders did not balance within 60 s; counting as they are.");
  }
  const leads = await leaderCounts(urls[0], cluster.urls);
  console.log(
    `${CLIENTS} clients, ${PARTITIONS} partition${PARTITIONS === 1 ? "" : "s"}, ${
      [...leads].map(([id, n]) => `node ${id} leads ${n}`).join(", ")
    }; puts sent ${TO_LEADERS ? "to their leaders" : "to the nodes in turn"}.`,
  );
  if (BARRIER) await barrier(BARRIER, BARRIER_PARTIES);
  const leaders = await leaderUrls(urls[0], cluster.urls);
  const target = (c: number, i: number, key: string) =>
    TO_LEADERS
      ? leaders[partitionForKey(new TextEncoder().encode(key), PARTITIONS)]
      : urls[(c + i) % 3];
  for (let round = 1; round <= ROUNDS; round++) {
    const before = await counters(urls);
    const p0 = processes(pids);
    const r = await closedLoop(CLIENTS, SECONDS, (c, i) => {
      const key = keyOf(c, i);
      return put(target(c, i, key), key);
    });
    const p1 = processes(pids);
    const after = await counters(urls);
    const per = (x: number) => (r.done > 0 ? x / r.done : NaN);
    console.log(
      `\nround ${round}: ${Math.round(r.opsPerSecond).toLocaleString("en-US")} puts/s, p50 ${
        r.p50.toFixed(2)
      } ms, p99 ${r.p99.toFixed(2)} ms, ${r.errors} errors`,
    );
    console.log(`  server CPU ms per put           ${(per(p1.cpu - p0.cpu) * 1000).toFixed(3)}`);
    console.log(
      `    of it in the kernel           ${(per(p1.system - p0.system) * 1000).toFixed(3)}`,
    );
    console.log(`  context switches per put: waits ${per(p1.voluntary - p0.voluntary).toFixed(2)}`);
    console.log(
      `    preempted                     ${per(p1.involuntary - p0.involuntary).toFixed(2)}`,
    );
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    for (const key of [...after.keys()].sort()) {
      if (key.includes("_seconds_sum")) continue;
      const d = per(delta(key));
      if (d < 0.001) continue;
      // A duration's count comes with its mean, from the histogram's sum.
      const sum = key.replace("_seconds_count", "_seconds_sum");
      const mean = sum !== key && delta(key) > 0
        ? `   mean ${((delta(sum) / delta(key)) * 1000).toFixed(2)} ms`
        : "";
      console.log(`  ${key.padEnd(55)} ${d.toFixed(3)}${mean}`);
    }
  }
} finally {
  await cluster.stop();
}
