// deno-lint-ignore-file no-console -- a command-line program: printing is its job
/**
 * Runs the mutants: each deliberate bug is applied to a copy of the repository, and the check
 * that must catch it runs there. Exits 1 if any mutant is not caught by its check, or if a
 * mutant's find text no longer matches the code.
 *
 * ```sh
 * deno task mutants                       # every mutant, one after another
 * deno task mutants commit-old-term-entries
 * deno task mutants --list
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { copyRepository } from "./copy.ts";
import { describeCheck, describeCommand } from "./mutant.ts";
import { MUTANTS } from "./mutants.ts";
import { applyMutant, type MutantResult, restore, runCommand, runMutant } from "./run.ts";

const USAGE = `Usage: deno task mutants [options] [name...]

Applies each deliberate bug to a copy of the repository and runs the checks that must catch it.

Options:
  --list             List the mutants and the checks that catch each.
  --timeout <s>      Deadline for each mutant's check, in seconds (default 240).
  --baseline         First run each check without any bug: it must pass, or a catch means nothing.
  -h, --help         Show this help.
`;

const { values, positionals } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      strict: true,
      allowPositionals: true,
      options: {
        list: { type: "boolean", default: false },
        baseline: { type: "boolean", default: false },
        timeout: { type: "string", default: "240" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    console.error(`mutants: ${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (values.list) {
  for (const m of MUTANTS) {
    console.log(`${m.name}: ${m.rule}`);
    for (const check of m.checks) console.log(`  ${describeCheck(check)}`);
  }
  Deno.exit(0);
}
if (!/^\d+$/.test(values.timeout) || Number(values.timeout) === 0) {
  console.error(`mutants: --timeout must be a positive integer, got "${values.timeout}"`);
  Deno.exit(2);
}
const unknown = positionals.filter((n) => !MUTANTS.some((m) => m.name === n));
if (unknown.length > 0) {
  console.error(
    `mutants: no mutant named ${unknown.join(", ")}; known: ${
      MUTANTS.map((m) => m.name).join(", ")
    }`,
  );
  Deno.exit(2);
}
const selected = positionals.length > 0
  ? MUTANTS.filter((m) => positionals.includes(m.name))
  : MUTANTS;

const root = fileURLToPath(new URL("../../", import.meta.url));
const started = performance.now();
const workdir = await Deno.makeTempDir({ prefix: "prkdb-mutants-" });
const cleanup = () => Deno.removeSync(workdir, { recursive: true });
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
const interrupted = new AbortController();
/** Interrupted: the running check is killed and the temporary copy goes too. */
const onInterrupt = () => {
  interrupted.abort(); // kills the running check
  cleanup();
  Deno.exit(130);
};
for (const signal of SIGNALS) Deno.addSignalListener(signal, onInterrupt);
const results: MutantResult[] = [];
const stale: string[] = [];
const timeoutMs = Number(values.timeout) * 1000;
let baselineFailed = false;
try {
  const copied = await copyRepository(root, workdir);
  console.log(`Copied ${copied} files to ${workdir}; running ${selected.length} mutant(s).\n`);
  if (values.baseline) baselineFailed = !await checkBaseline();
  for (const [i, m] of selected.entries()) {
    const label = `[${i + 1}/${selected.length}] ${m.name}`;
    try {
      await restore(await applyMutant(m, workdir)); // only to see that every find text matches
    } catch (error) {
      console.log(`${label}: STALE: ${(error as Error).message}`);
      stale.push(m.name);
      continue;
    }
    console.log(`${label}: ${m.rule}`);
    let t0 = performance.now();
    const ticker = setInterval(() => {
      console.log(`    ... still running (${((performance.now() - t0) / 1000).toFixed(0)}s)`);
    }, 15_000);
    let result: MutantResult;
    try {
      result = await runMutant(m, workdir, timeoutMs, {
        stop: interrupted.signal,
        onCheck: (c) => {
          console.log(`  ${describeCheck(c.check)}: ${c.verdict} in ${c.seconds.toFixed(1)}s`);
          console.log(`    ${clip(c.evidence)}`);
          t0 = performance.now();
        },
      });
    } finally {
      clearInterval(ticker);
    }
    results.push(result);
  }
} finally {
  for (const signal of SIGNALS) Deno.removeSignalListener(signal, onInterrupt);
  cleanup();
}

console.log(`\n${"mutant".padEnd(32)} ${"verdict".padEnd(11)} ${"time".padStart(7)}  caught by`);
for (const r of results) {
  console.log(
    `${r.mutant.name.padEnd(32)} ${r.verdict.padEnd(11)} ${
      `${r.seconds.toFixed(1)}s`.padStart(7)
    }  ${r.checks.map((c) => describeCheck(c.check)).join("; ")}`,
  );
}
for (const name of stale) console.log(`${name.padEnd(32)} STALE: its find text no longer matches`);
const caught = results.filter((r) => r.verdict === "CAUGHT").length;
const total = ((performance.now() - started) / 1000).toFixed(1);
console.log(`\n${caught} of ${selected.length} mutants caught in ${total}s`);
if (baselineFailed) console.log("A check failed without any bug, so its catches prove nothing.");
if (caught !== selected.length || baselineFailed) Deno.exit(1);

/** Runs each distinct check once without any bug; every one must pass. */
async function checkBaseline(): Promise<boolean> {
  const checks = new Map(selected.flatMap((m) => m.checks.map((c) => [describeCommand(c), c])));
  let ok = true;
  for (const [label, check] of checks) {
    const run = await runCommand(check, workdir, timeoutMs, interrupted.signal);
    // A filter that matches no test passes vacuously: a test check must have run something.
    const ran = check.kind === "sim" || /\b[1-9]\d* passed/.test(run.output);
    const verdict = !ran
      ? "RAN NO TEST"
      : run.success
      ? "passes"
      : run.timedOut
      ? "TIMED OUT"
      : "FAILS";
    console.log(`baseline: ${label} ${verdict} without a bug (${run.seconds.toFixed(1)}s)`);
    ok &&= run.success && ran;
  }
  console.log();
  return ok;
}

/** Shortens a line for the terminal. */
function clip(line: string, width = 110): string {
  return line.length > width ? `${line.slice(0, width - 3)}...` : line;
}
