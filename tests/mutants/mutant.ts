/**
 * What a mutant is: one deliberate bug, written as a small source edit, and the checks that must
 * catch it. A checker that never fails proves nothing; a mutant shows that it can.
 *
 * @module
 */

/**
 * A command that must fail once the bug is in, and what its output must then say.
 *
 * - `test`: one test file, narrowed with `--filter` to the test that catches the bug.
 * - `golden`: one golden interaction script, run through `tests/interaction/golden_test.ts`.
 * - `sim`: the simulation (`tests/sim/main.ts`) over a few seeds, stopping at the first failure.
 *
 * `expect` defaults to the test's filter, or to `<script>:` (how a failing golden step starts);
 * a simulation check names the property, such as `Log Matching violated`.
 */
export type Check =
  | {
    readonly kind: "test";
    readonly file: string;
    readonly filter: string;
    readonly expect?: string;
  }
  | { readonly kind: "golden"; readonly script: string; readonly expect?: string }
  | {
    readonly kind: "sim";
    readonly seeds: number;
    readonly firstSeed?: number;
    readonly nodes?: number;
    /** Chance of a crash during each storage write, when the default is too rare for the bug. */
    readonly writeCrashRate?: number;
    /** Share of puts passed on without a session, when the default is too rare for the bug. */
    readonly passedOnPuts?: number;
    readonly expect: string;
  };

/** One exact text replacement in one file. */
export interface Edit {
  /** The file to edit, relative to the repository root. */
  readonly file: string;
  /** Text that occurs exactly once in `file`. */
  readonly find: string;
  /** What replaces it. */
  readonly replace: string;
}

/**
 * One deliberate bug and the checks that catch it.
 *
 * @example A mutant
 * ```ts
 * import type { Mutant } from "./mutant.ts";
 * const m: Mutant = {
 *   name: "commit-old-term-entries",
 *   rule: "a leader counts replicas only for entries of its own term (Raft 5.4.2, figure 8)",
 *   file: "raft/roles/leader.ts",
 *   find: "if (index <= log.commitIndex || log.term(index) !== raft.term) return;",
 *   replace: "if (index <= log.commitIndex) return;",
 *   checks: [{ kind: "golden", script: "figure8.txt" }],
 * };
 * ```
 */
export interface Mutant extends Edit {
  /** A kebab-case name: `deno task mutants <name>` runs this one. */
  readonly name: string;
  /** The rule the bug breaks, in one line, with the paper's section. */
  readonly rule: string;
  /** Further edits of the same bug, where the code states the rule more than once. */
  readonly also?: readonly Edit[];
  /** Every one of these must fail, saying what it expects. */
  readonly checks: readonly Check[];
}

/**
 * Every edit of a mutant, the main one first.
 *
 * @param mutant The mutant.
 * @returns Its edits.
 *
 * @example Usage
 * ```ts
 * import { edits } from "./mutant.ts";
 * import { MUTANTS } from "./mutants.ts";
 * console.log(edits(MUTANTS[0]).length >= 1); // true
 * ```
 */
export function edits(mutant: Mutant): Edit[] {
  return [{ file: mutant.file, find: mutant.find, replace: mutant.replace }, ...mutant.also ?? []];
}

/**
 * What a failing check's output must contain.
 *
 * @param check The check.
 * @returns The text.
 *
 * @example A golden script
 * ```ts
 * import { expected } from "./mutant.ts";
 * console.log(expected({ kind: "golden", script: "figure8.txt" })); // "figure8.txt:"
 * ```
 */
export function expected(check: Check): string {
  switch (check.kind) {
    case "test":
      return check.expect ?? check.filter;
    case "golden":
      return check.expect ?? `${check.script}:`;
    case "sim":
      return check.expect;
  }
}

/**
 * The arguments to `deno` that run a check, from the repository root.
 *
 * @param check The check.
 * @returns The arguments, without `deno` itself.
 *
 * @example A golden script
 * ```ts
 * import { checkArgs } from "./mutant.ts";
 * console.log(checkArgs({ kind: "golden", script: "figure8.txt" }).at(-1)); // "golden: figure8.txt"
 * ```
 */
export function checkArgs(check: Check): string[] {
  switch (check.kind) {
    case "test":
      return ["test", "-A", check.file, "--filter", check.filter];
    case "golden":
      return [
        "test",
        "--allow-read=tests/golden",
        "--allow-env=UPDATE_GOLDEN",
        "tests/interaction/golden_test.ts",
        "--filter",
        `golden: ${check.script}`,
      ];
    case "sim":
      return [
        "run",
        "-A",
        "tests/sim/main.ts",
        "--fail-fast",
        "--seeds",
        String(check.seeds),
        ...(check.firstSeed !== undefined ? ["--first-seed", String(check.firstSeed)] : []),
        ...(check.nodes !== undefined ? ["--nodes", String(check.nodes)] : []),
        ...(check.writeCrashRate !== undefined
          ? ["--write-crash-rate", String(check.writeCrashRate)]
          : []),
        ...(check.passedOnPuts !== undefined
          ? ["--passed-on-puts", String(check.passedOnPuts)]
          : []),
      ];
  }
}

/**
 * The command of a check as a person would type it, for reports.
 *
 * @param check The check.
 * @returns A short description, such as `figure8.txt` or `sim --seeds 40`.
 *
 * @example A simulation run
 * ```ts
 * import { describeCommand } from "./mutant.ts";
 * const check = { kind: "sim", seeds: 40, nodes: 3, expect: "Log Matching violated" } as const;
 * console.log(describeCommand(check)); // "sim --seeds 40 --nodes 3"
 * ```
 */
export function describeCommand(check: Check): string {
  switch (check.kind) {
    case "test":
      return `${check.file.split("/").at(-1)} "${check.filter}"`;
    case "golden":
      return check.script;
    case "sim":
      return [
        `sim --seeds ${check.seeds}`,
        check.firstSeed !== undefined ? ` --first-seed ${check.firstSeed}` : "",
        check.nodes !== undefined ? ` --nodes ${check.nodes}` : "",
        check.writeCrashRate !== undefined ? ` --write-crash-rate ${check.writeCrashRate}` : "",
        check.passedOnPuts !== undefined ? ` --passed-on-puts ${check.passedOnPuts}` : "",
      ].join("");
  }
}

/**
 * A check as the report says it: the command, and for the simulation the property.
 *
 * @param check The check.
 * @returns For example `figure8.txt differs` or `Log Matching violated (sim --seeds 40)`.
 *
 * @example A golden script
 * ```ts
 * import { describeCheck } from "./mutant.ts";
 * console.log(describeCheck({ kind: "golden", script: "figure8.txt" })); // "figure8.txt differs"
 * ```
 */
export function describeCheck(check: Check): string {
  switch (check.kind) {
    case "test":
      return describeCommand(check);
    case "golden":
      return `${check.script} differs`;
    case "sim":
      return `${check.expect} (${describeCommand(check)})`;
  }
}
