/**
 * Applies a mutant to a copy of the repository (see copy.ts) and runs the checks that must catch
 * it, each with a deadline.
 *
 * @module
 */
import { join } from "node:path";
import { type Check, checkArgs, type Edit, edits, expected, type Mutant } from "./mutant.ts";

/** How a check, or a whole mutant, ended. */
export type Verdict = "CAUGHT" | "MISSED" | "WRONG CHECK" | "TIMEOUT";

/** The outcome of one check. */
export interface CheckResult {
  /** The check. */
  readonly check: Check;
  /** `CAUGHT` only if the command failed and its output says what the check expects. */
  readonly verdict: Verdict;
  /** The output line that shows the check failing (or why the run did not count). */
  readonly evidence: string;
  /** Wall-clock seconds the command ran. */
  readonly seconds: number;
}

/** The outcome of one mutant: caught only if every check caught it. */
export interface MutantResult {
  /** The mutant. */
  readonly mutant: Mutant;
  /** `CAUGHT` if every check caught it, else the first other verdict. */
  readonly verdict: Verdict;
  /** One result per check, in order. */
  readonly checks: readonly CheckResult[];
  /** Wall-clock seconds all the checks ran. */
  readonly seconds: number;
}

/** What a check's command did. */
export interface CommandRun {
  /** Whether it exited 0. */
  readonly success: boolean;
  /** Whether it was stopped at its deadline. */
  readonly timedOut: boolean;
  /** Its stdout and stderr. */
  readonly output: string;
  /** Wall-clock seconds it ran. */
  readonly seconds: number;
}

/**
 * How often `find` occurs in `text`.
 *
 * @param text The file's content.
 * @param find The text to look for.
 * @returns The number of (non-overlapping) occurrences.
 *
 * @example Usage
 * ```ts
 * import { occurrences } from "./run.ts";
 * console.log(occurrences("a b a", "a")); // 2
 * ```
 */
export function occurrences(text: string, find: string): number {
  if (find === "") return 0;
  return text.split(find).length - 1;
}

/**
 * The file's content with one edit applied.
 *
 * @param source The file's content.
 * @param edit The edit.
 * @returns The edited content.
 * @throws When `find` does not occur exactly once: the code moved and the mutant must follow.
 *
 * @example Usage
 * ```ts
 * import { applyEdit } from "./run.ts";
 * console.log(applyEdit("if (a > b) go();", { file: "f.ts", find: "a > b", replace: "a >= b" }));
 * // "if (a >= b) go();"
 * ```
 */
export function applyEdit(source: string, edit: Edit): string {
  const n = occurrences(source, edit.find);
  if (n !== 1) {
    throw new Error(`The find text occurs ${n} times in ${edit.file}, not once: ${edit.find}`);
  }
  return source.replace(edit.find, () => edit.replace);
}

/**
 * Applies every edit of a mutant in the copy at `workdir`.
 *
 * @param mutant The mutant.
 * @param workdir A copy of the repository.
 * @returns The original content of each edited file, to put back.
 * @throws When a find text does not occur exactly once; nothing is changed then.
 *
 * @example Usage
 * ```ts ignore
 * import { MUTANTS } from "./mutants.ts";
 * import { applyMutant, restore } from "./run.ts";
 * const originals = await applyMutant(MUTANTS[0], workdir);
 * await restore(originals);
 * ```
 */
export async function applyMutant(mutant: Mutant, workdir: string): Promise<Map<string, string>> {
  const originals = new Map<string, string>();
  const edited = new Map<string, string>();
  for (const edit of edits(mutant)) {
    const path = join(workdir, edit.file);
    if (!originals.has(path)) originals.set(path, await Deno.readTextFile(path));
    edited.set(path, applyEdit(edited.get(path) ?? originals.get(path)!, edit));
  }
  for (const [path, text] of edited) await Deno.writeTextFile(path, text);
  return originals;
}

/**
 * Puts back files that {@linkcode applyMutant} edited.
 *
 * @param originals What it returned.
 *
 * @example Usage
 * ```ts ignore
 * import { restore } from "./run.ts";
 * await restore(new Map([["/tmp/copy/raft/log.ts", original]]));
 * ```
 */
export async function restore(originals: Map<string, string>): Promise<void> {
  for (const [path, text] of originals) await Deno.writeTextFile(path, text);
}

/**
 * Runs a check's command in `workdir` with a deadline, capturing its output.
 *
 * @param check The check.
 * @param workdir A copy of the repository.
 * @param timeoutMs The deadline; the command is killed when it passes.
 * @param stop Kills the command early (the runner was interrupted).
 * @returns How it ended.
 *
 * @example A golden script, without any bug
 * ```ts ignore
 * import { runCommand } from "./run.ts";
 * const run = await runCommand({ kind: "golden", script: "figure8.txt" }, workdir, 60_000);
 * console.log(run.success); // true
 * ```
 */
export async function runCommand(
  check: Check,
  workdir: string,
  timeoutMs: number,
  stop?: AbortSignal,
): Promise<CommandRun> {
  const started = performance.now();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const signal = stop ? AbortSignal.any([abort.signal, stop]) : abort.signal;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: checkArgs(check),
      cwd: workdir,
      // Never let an inherited UPDATE_GOLDEN=1 rewrite a golden script to match the bug.
      env: { NO_COLOR: "1", UPDATE_GOLDEN: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      success: out.success,
      timedOut: abort.signal.aborted,
      output: decoder.decode(out.stdout) + decoder.decode(out.stderr),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Applies `mutant` in the copy at `workdir`, runs each of its checks there with a deadline, and
 * puts the files back.
 *
 * @param mutant The mutant.
 * @param workdir A copy of the repository (see copy.ts).
 * @param timeoutMs The deadline for each check.
 * @param options `stop` kills the running check early; `onCheck` hears of each check's result.
 * @returns The verdicts, with the output lines that show them.
 *
 * @example Usage
 * ```ts ignore
 * import { MUTANTS } from "./mutants.ts";
 * import { runMutant } from "./run.ts";
 * const result = await runMutant(MUTANTS[0], workdir, 240_000);
 * console.log(result.verdict); // "CAUGHT"
 * ```
 */
export async function runMutant(
  mutant: Mutant,
  workdir: string,
  timeoutMs: number,
  options: { stop?: AbortSignal; onCheck?: (result: CheckResult) => void } = {},
): Promise<MutantResult> {
  const originals = await applyMutant(mutant, workdir);
  try {
    const checks: CheckResult[] = [];
    for (const check of mutant.checks) {
      const run = await runCommand(check, workdir, timeoutMs, options.stop);
      const result = { check, seconds: run.seconds, ...judge(check, run) };
      checks.push(result);
      options.onCheck?.(result);
    }
    return {
      mutant,
      checks,
      verdict: checks.find((c) => c.verdict !== "CAUGHT")?.verdict ?? "CAUGHT",
      seconds: checks.reduce((sum, c) => sum + c.seconds, 0),
    };
  } finally {
    await restore(originals);
  }
}

/** Reads a check's verdict from its command's exit status and output. */
function judge(check: Check, run: CommandRun): { verdict: Verdict; evidence: string } {
  const lines = run.output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (run.timedOut) return { verdict: "TIMEOUT", evidence: lines.at(-1) ?? "no output" };
  if (run.success) return { verdict: "MISSED", evidence: lines.at(-1) ?? "no output" };
  const expect = expected(check);
  // A test's name shows up in the list of tests run too: prefer the line that reports it failing.
  const hits = lines.filter((l) => l.includes(expect));
  const hit = hits.find((l) => /FAILED|=>|violated|failed/.test(l)) ?? hits[0];
  if (hit) return { verdict: "CAUGHT", evidence: hit };
  const error = lines.find((l) => /error|failed|violated/i.test(l)) ?? lines.at(-1) ?? "";
  return { verdict: "WRONG CHECK", evidence: `expected "${expect}", got: ${error}` };
}
