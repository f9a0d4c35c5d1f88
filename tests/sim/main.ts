// deno-lint-ignore-file no-console -- a command-line program: printing is its job
/**
 * Runs the deterministic simulation from the command line.
 *
 * ```sh
 * deno task sim --seeds 500            # seeds 1..500, alternating 3 and 5 nodes
 * deno task sim --seed 42 --nodes 5    # replay one run (the command a failure prints)
 * deno task sim --seeds 50 --units 20000 --verbose
 * deno task sim --seeds 5 --storage file     # or kv: real disks, fsync and all
 * deno task sim --seeds 300 --fail-fast      # stop at the first failing seed
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Simulation, type SimulationReport } from "./simulation.ts";

const USAGE = `Usage: deno task sim [options]    (or: deno run -A tests/sim/main.ts)

Runs the deterministic simulation: clusters over a network that delays, drops, duplicates and
partitions messages, with crashes, restarts and pauses, checking Raft's safety properties after
every step and every client history for linearizability. A failure prints the command that
replays it.

Options:
  --seeds <n>        Run seeds first-seed .. first-seed+n-1 (default 100), alternating 3 and 5 nodes.
  --first-seed <n>   The first seed (default 1).
  --seed <n>         Replay one seed.
  --nodes <n>        Cluster size for every seed (default: 3 for odd seeds, 5 for even).
  --storage <kind>   memory (default), file or kv: real disks, fsync and all.
  --units <n>        Simulated time units per run.
  --write-crash-rate <p>
                     Chance that a node dies during each storage write (default 0.002).
  --follow-writes    Clients write through one application node that moves around the cluster;
                     leadership follows it (every seed runs differently).
  --passed-on-puts <p>
                     Share of puts sent without a session to any node, which passes them on and
                     may answer on the leader's durable notice (default 0.25).
  --fail-fast        Stop at the first failing seed.
  --verbose          Print every run's report.
  -h, --help         Show this help.
`;

/** Exits 2 with the usage: the command line was wrong. */
function misuse(message: string): never {
  console.error(`sim: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      seeds: { type: "string", default: "100" },
      seed: { type: "string" },
      "first-seed": { type: "string", default: "1" },
      nodes: { type: "string" },
      storage: { type: "string", default: "memory" },
      units: { type: "string" },
      "write-crash-rate": { type: "string" },
      "follow-writes": { type: "boolean" },
      "passed-on-puts": { type: "string" },
      "fail-fast": { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (error) {
  misuse((error as Error).message);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
for (const flag of ["seeds", "seed", "first-seed", "nodes", "units"] as const) {
  const v = values[flag];
  if (v !== undefined && !/^\d+$/.test(v)) {
    misuse(`--${flag} must be a non-negative integer, got "${v}"`);
  }
}
const writeCrashRate = values["write-crash-rate"];
if (
  writeCrashRate !== undefined &&
  !(writeCrashRate.trim() !== "" && Number(writeCrashRate) >= 0 && Number(writeCrashRate) <= 1)
) {
  misuse(`--write-crash-rate must be a probability from 0 to 1, got "${writeCrashRate}"`);
}
const passedOnPuts = values["passed-on-puts"];
if (
  passedOnPuts !== undefined &&
  !(passedOnPuts.trim() !== "" && Number(passedOnPuts) >= 0 && Number(passedOnPuts) <= 1)
) {
  misuse(`--passed-on-puts must be a probability from 0 to 1, got "${passedOnPuts}"`);
}
if (!["memory", "file", "kv"].includes(values.storage)) {
  misuse(`--storage must be memory, file or kv, got "${values.storage}"`);
}

const seeds = values.seed !== undefined
  ? [Number(values.seed)]
  : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values["first-seed"]) + i);
const started = performance.now();
const totals = {
  runs: 0,
  ok: 0,
  unknown: 0,
  reads: 0,
  crashes: 0,
  partitions: 0,
  pauses: 0,
  committed: 0,
  snapshots: 0,
  installed: 0,
  membershipChanges: 0,
  quietUnits: 0,
  handOffs: 0,
  durableAnswers: 0,
  forWrites: 0,
};
let failed = 0;
for (const seed of seeds) {
  const nodes = values.nodes !== undefined ? Number(values.nodes) : seed % 2 === 0 ? 5 : 3;
  let report: SimulationReport;
  try {
    report = await new Simulation({
      seed,
      nodes,
      storage: values.storage as "memory" | "file" | "kv",
      ...(values.units ? { units: Number(values.units) } : {}),
      ...(writeCrashRate !== undefined ? { writeCrashRate: Number(writeCrashRate) } : {}),
      followWrites: values["follow-writes"] === true,
      ...(passedOnPuts !== undefined ? { passedOnPuts: Number(passedOnPuts) } : {}),
    }).run();
  } catch (error) {
    failed++;
    console.error(`\n${(error as Error).message}`);
    if (values["fail-fast"]) break;
    continue;
  }
  totals.runs++;
  totals.ok += report.operations.ok;
  totals.unknown += report.operations.unknown;
  totals.reads += report.operations.reads;
  totals.crashes += report.crashes;
  totals.partitions += report.partitions;
  totals.pauses += report.pauses;
  totals.snapshots += report.snapshots.taken;
  totals.installed += report.snapshots.installed;
  totals.committed += report.committed;
  totals.membershipChanges += report.membership.applied;
  totals.quietUnits += report.quietUnits;
  totals.handOffs += report.handOffs.preferred + report.handOffs.writes;
  totals.forWrites += report.handOffs.writes;
  totals.durableAnswers += report.clients.durableAnswers;
  if (values.verbose || seeds.length === 1) console.log(JSON.stringify(report));
  else if (totals.runs % 25 === 0) console.log(`  ${totals.runs}/${seeds.length} seeds passed...`);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${totals.runs} of ${seeds.length} seeds passed in ${seconds}s: ${totals.committed} entries committed, ` +
    `${totals.ok} writes acknowledged, ${totals.reads} linearizable reads checked, ${totals.unknown} writes with unknown outcome, ` +
    `${totals.crashes} crashes, ${totals.partitions} partitions, ${totals.pauses} pauses, ` +
    `${totals.snapshots} snapshots taken, ${totals.installed} installed from a leader, ` +
    `${totals.membershipChanges} membership changes applied, ${totals.quietUnits} time units with a quiet replica, ` +
    `${totals.handOffs} leadership transfers by balancing (${totals.forWrites} following writes), ` +
    `${totals.durableAnswers} passed-on puts answered on a durable notice`,
);
if (failed > 0) {
  console.error(`${failed} seed(s) failed`);
  Deno.exit(1);
}
