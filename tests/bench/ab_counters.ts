/**
 * Two checkouts of PrkDB measured at the same time: each runs its own 3-node cluster under the
 * load of `bench:counters`, both start counting in the same second, and the report gives each
 * side's puts per second and server CPU per put, pair by pair, with the ratios.
 *
 * This machine's speed drifts by tens of percent within minutes, so two runs one after the
 * other cannot show a change of a few percent. Measured side by side, both clusters share the
 * same drift, and two copies of the same code agree within about 2%. The clusters also share
 * the two cores: the numbers are each cluster's under that contention, for comparing the two,
 * not for comparing with `bench:etcd`.
 *
 * Both sides run the current checkout's benchmark code (`tests/bench/`, `tests/cluster/`), so
 * only the product code differs.
 *
 * ```sh
 * deno task bench:ab HEAD~1 .            # the last commit against the working tree
 * PAIRS=4 deno task bench:ab main feature  # any two revisions
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { join } from "@std/path";

const USAGE = "Usage: deno task bench:ab <revision A> <revision B>\n\n" +
  "Measures two checkouts side by side, at the same time (see the module's description).\n" +
  'A revision is anything `git archive` takes, or "." for the working tree.\n' +
  "Environment: PAIRS (default 3), CLIENTS (per side, default 32), SECONDS (per round,\n" +
  "default 4), ROUNDS (default 3), and what bench:counters takes (PARTITIONS, TO_LEADERS...).";

const args = Deno.args.filter((a) => a !== "--");
if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE);
  Deno.exit(0);
}
if (args.length !== 2) {
  console.error(`Two revisions are needed, not ${args.length}\n\n${USAGE}`);
  Deno.exit(2);
}
const PAIRS = Number(Deno.env.get("PAIRS") ?? 3);
if (!Number.isInteger(PAIRS) || PAIRS < 1 || PAIRS > 20) {
  console.error(`PAIRS=${Deno.env.get("PAIRS")} is out of range (1 to 20)`);
  Deno.exit(2);
}
const env = {
  CLIENTS: Deno.env.get("CLIENTS") ?? "32",
  SECONDS: Deno.env.get("SECONDS") ?? "4",
  ROUNDS: Deno.env.get("ROUNDS") ?? "3",
};

async function run(cmd: string, cmdArgs: string[], cwd?: string): Promise<Uint8Array> {
  const out = await new Deno.Command(cmd, { args: cmdArgs, cwd, stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${cmd} ${cmdArgs.join(" ")} failed`);
  return out.stdout;
}

/** The product at `revision`, with the current benchmark code, in a new directory. */
async function checkout(revision: string, into: string): Promise<void> {
  await Deno.mkdir(into, { recursive: true });
  const files = revision === "."
    ? new TextDecoder().decode(await run("git", ["ls-files", "-co", "--exclude-standard"]))
      .split("\n").filter((f) => f !== "")
    : undefined;
  if (files) {
    for (const f of files) {
      const stat = await Deno.lstat(f).catch(() => undefined);
      if (!stat?.isFile) continue;
      await Deno.mkdir(join(into, f, ".."), { recursive: true });
      await Deno.copyFile(f, join(into, f));
    }
  } else {
    const tar = join(into, ".archive.tar");
    await run("git", ["archive", "--format=tar", "-o", tar, revision]);
    await run("tar", ["-xf", tar, "-C", into]);
    await Deno.remove(tar);
  }
  // The same load and the same counting on both sides.
  for (const dir of ["tests/bench", "tests/cluster", "tests/support"]) {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) await Deno.copyFile(join(dir, e.name), join(into, dir, e.name));
    }
  }
}

interface Side {
  readonly putsPerSecond: number;
  readonly cpuPerPut: number;
}

/** Runs `bench:counters` in both directories at once; each side's means over its rounds. */
async function pair(dirs: readonly string[], barrier: string, swap: boolean): Promise<Side[]> {
  // Every other pair starts B first, so that neither side is always the one started first.
  const order = swap ? [...dirs].reverse() : dirs;
  const started = order.map((cwd) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tests/bench/put_counters.ts"],
      cwd,
      env: { ...env, BARRIER: barrier, BARRIER_PARTIES: String(dirs.length) },
      stdout: "piped",
      stderr: "piped",
    }).output()
  );
  const outputs = await Promise.all(started);
  const runs = swap ? outputs.reverse() : outputs;
  const tail = (i: number) =>
    `${new TextDecoder().decode(runs[i].stdout).slice(-1500)}\n${
      new TextDecoder().decode(runs[i].stderr).slice(-1500)
    }`;
  return runs.map((out, i) => {
    const text = new TextDecoder().decode(out.stdout);
    if (text.includes("counting alone")) {
      // Usually because the other side failed before the start: say how.
      throw new Error(
        `side ${"AB"[i]} did not start with the other one: the pair is not side by side. ` +
          `Side ${"AB"[1 - i]} said:\n${tail(1 - i)}`,
      );
    }
    const puts = [...text.matchAll(/^round \d+: ([\d,]+) puts\/s/gm)].map((m) =>
      Number(m[1].replaceAll(",", ""))
    );
    const cpu = [...text.matchAll(/server CPU ms per put\s+([\d.]+)/g)].map((m) => Number(m[1]));
    if (!out.success || puts.length === 0 || cpu.length !== puts.length) {
      throw new Error(
        `side ${"AB"[i]} failed:\n${text}\n${new TextDecoder().decode(out.stderr).slice(-2000)}`,
      );
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return { putsPerSecond: mean(puts), cpuPerPut: mean(cpu) };
  });
}

const work = await Deno.makeTempDir({ prefix: "prkdb-ab-" });
try {
  const dirs = [join(work, "a"), join(work, "b")];
  console.log(`Checking out ${args[0]} (A) and ${args[1]} (B)...`);
  await checkout(args[0], dirs[0]);
  await checkout(args[1], dirs[1]);
  console.log(
    `${PAIRS} pairs, each side ${env.CLIENTS} clients, ${env.ROUNDS} rounds of ${env.SECONDS} s, ` +
      `both sides at the same time.\n`,
  );
  console.log("pair   A puts/s   B puts/s   B/A    A CPU ms/put  B CPU ms/put   B/A");
  const ratios: { puts: number; cpu: number }[] = [];
  for (let i = 1; i <= PAIRS; i++) {
    const [a, b] = await pair(dirs, join(work, `barrier-${i}`), i % 2 === 0);
    const r = { puts: b.putsPerSecond / a.putsPerSecond, cpu: b.cpuPerPut / a.cpuPerPut };
    ratios.push(r);
    console.log(
      `${String(i).padStart(4)} ${a.putsPerSecond.toFixed(0).padStart(10)} ${
        b.putsPerSecond.toFixed(0).padStart(10)
      } ${r.puts.toFixed(3).padStart(6)} ${a.cpuPerPut.toFixed(3).padStart(13)} ${
        b.cpuPerPut.toFixed(3).padStart(13)
      } ${r.cpu.toFixed(3).padStart(6)}`,
    );
  }
  const summary = (xs: number[]) => {
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    return `${mean.toFixed(3)} (${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)})`;
  };
  console.log(
    `\nB against A: puts/s ${summary(ratios.map((r) => r.puts))}, server CPU per put ${
      summary(ratios.map((r) => r.cpu))
    }.\nTwo copies of the same code differ by about 2% either way.`,
  );
} finally {
  await Deno.remove(work, { recursive: true });
}
