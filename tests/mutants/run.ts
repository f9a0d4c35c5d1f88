/**
 * Applies a mutant to a copy of the repository and runs the check that must catch it. The
 * working tree is never edited.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { type Catcher, catcherArgs, type Mutant } from "./mutant.ts";

/** How a mutant run ended. */
export type Verdict = "CAUGHT" | "MISSED" | "WRONG CHECK" | "TIMEOUT";

/** The outcome of one mutant. */
export interface MutantResult {
  /** The mutant. */
  readonly mutant: Mutant;
  /** `CAUGHT` only if the command failed and its output names the expected check. */
  readonly verdict: Verdict;
  /** The output line that shows the check failing (or why the run did not count). */
  readonly evidence: string;
  /** Wall-clock seconds the command ran. */
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
 * The file's content with the mutant's edit applied.
 *
 * @param source The file's content.
 * @param mutant The mutant.
 * @returns The edited content.
 * @throws When `find` does not occur exactly once: the code moved and the mutant must follow.
 *
 * @example Usage
 * ```ts
 * import { applyEdit } from "./run.ts";
 * const m = { name: "x", rule: "", file: "f.ts", find: "a > b", replace: "a >= b", expect: "", catcher: { kind: "golden", script: "s.txt" } } as const;
 * console.log(applyEdit("if (a > b) go();", m)); // "if (a >= b) go();"
 * ```
 */
export function applyEdit(source: string, mutant: Mutant): string {
  const n = occurrences(source, mutant.find);
  if (n !== 1) {
    throw new Error(
      `Mutant ${mutant.name}: its find text occurs ${n} times in ${mutant.file}, not once`,
    );
  }
  return source.replace(mutant.find, () => mutant.replace);
}

/**
 * Copies the repository's files (tracked, and untracked ones not ignored, as they are in the
 * working tree) into `dest`. Without git (an exported source tree), every file but `.git` and
 * `node_modules` is copied.
 *
 * @param root The repository root.
 * @param dest An empty directory.
 * @returns How many files were copied.
 *
 * @example Usage
 * ```ts ignore
 * import { copyRepository } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await copyRepository(".", dir) > 100); // true
 * ```
 */
export async function copyRepository(root: string, dest: string): Promise<number> {
  let copied = 0;
  for (const file of await gitFiles(root) ?? await walk(root, "")) {
    const to = join(dest, file);
    await Deno.mkdir(dirname(to), { recursive: true });
    try {
      await Deno.copyFile(join(root, file), to);
      copied++;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted, not yet committed
    }
  }
  return copied;
}

/** The files git knows of and does not ignore, or `undefined` outside a git checkout. */
async function gitFiles(root: string): Promise<string[] | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      cwd: root,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return undefined;
    return new TextDecoder().decode(out.stdout).split("\0").filter((f) => f !== "");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined; // no git installed
    throw error;
  }
}

/** Every file under `root/dir`, relative to `root`, skipping `.git` and `node_modules`. */
async function walk(root: string, dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(root, dir))) {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== ".git" && entry.name !== "node_modules") {
      files.push(...await walk(root, path));
    } else if (entry.isFile) files.push(path);
  }
  return files;
}

/** What a catching command did. */
export interface CatcherRun {
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
 * Runs a catcher in `workdir` with a deadline, capturing its output.
 *
 * @param catcher The catcher.
 * @param workdir A copy of the repository (see {@linkcode copyRepository}).
 * @param timeoutMs The deadline; the command is killed when it passes.
 * @param stop Kills the command early (the runner was interrupted).
 * @returns How it ended.
 *
 * @example A golden script, without any bug
 * ```ts ignore
 * import { runCatcher } from "./run.ts";
 * const run = await runCatcher({ kind: "golden", script: "figure8.txt" }, workdir, 60_000);
 * console.log(run.success); // true
 * ```
 */
export async function runCatcher(
  catcher: Catcher,
  workdir: string,
  timeoutMs: number,
  stop?: AbortSignal,
): Promise<CatcherRun> {
  const started = performance.now();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const signal = stop ? AbortSignal.any([abort.signal, stop]) : abort.signal;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: catcherArgs(catcher),
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
 * Applies `mutant` in the copy at `workdir`, runs its catcher there with a deadline, and puts the
 * file back.
 *
 * @param mutant The mutant.
 * @param workdir A copy of the repository (see {@linkcode copyRepository}).
 * @param timeoutMs The deadline for the catching command.
 * @param stop Kills the command early (the runner was interrupted).
 * @returns The verdict, with the output line that shows it.
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
  stop?: AbortSignal,
): Promise<MutantResult> {
  const path = join(workdir, mutant.file);
  const original = await Deno.readTextFile(path);
  await Deno.writeTextFile(path, applyEdit(original, mutant));
  try {
    const run = await runCatcher(mutant.catcher, workdir, timeoutMs, stop);
    return { mutant, seconds: run.seconds, ...judge(mutant, run) };
  } finally {
    await Deno.writeTextFile(path, original);
  }
}

/** Reads the verdict from the command's exit status and output. */
function judge(mutant: Mutant, run: CatcherRun): { verdict: Verdict; evidence: string } {
  const lines = run.output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (run.timedOut) return { verdict: "TIMEOUT", evidence: lines.at(-1) ?? "no output" };
  if (run.success) return { verdict: "MISSED", evidence: lines.at(-1) ?? "no output" };
  // A test's name shows up in the list of tests run too: prefer the line that reports it failing.
  const hits = lines.filter((l) => l.includes(mutant.expect));
  const hit = hits.find((l) => /FAILED|=>|violated|failed/.test(l)) ?? hits[0];
  if (hit) return { verdict: "CAUGHT", evidence: hit };
  const error = lines.find((l) => /error|failed|violated/i.test(l)) ?? lines.at(-1) ?? "";
  return { verdict: "WRONG CHECK", evidence: `expected "${mutant.expect}", got: ${error}` };
}
