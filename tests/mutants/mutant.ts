/**
 * What a mutant is: one deliberate bug, written as a small source edit, and the check that must
 * catch it. A checker that never fails proves nothing; a mutant shows that it can.
 *
 * @module
 */

/**
 * The command that must fail once the edit is applied.
 *
 * - `test`: one test file, narrowed with `--filter` to the test that catches the bug.
 * - `golden`: one golden interaction script, run through `tests/interaction/golden_test.ts`.
 * - `sim`: the simulation (`tests/sim/main.ts`) over a few seeds, stopping at the first failure.
 */
export type Catcher =
  | { readonly kind: "test"; readonly file: string; readonly filter: string }
  | { readonly kind: "golden"; readonly script: string }
  | {
    readonly kind: "sim";
    readonly seeds: number;
    readonly firstSeed?: number;
    readonly nodes?: number;
  };

/**
 * One deliberate bug and what catches it.
 *
 * @example A mutant
 * ```ts
 * import type { Mutant } from "./mutant.ts";
 * const m: Mutant = {
 *   name: "commit-old-term-entries",
 *   rule: "a leader commits only entries of its own term by counting replicas (Raft 5.4.2)",
 *   file: "raft/roles/leader.ts",
 *   find: "if (index <= log.commitIndex || log.term(index) !== raft.term) return;",
 *   replace: "if (index <= log.commitIndex) return;",
 *   catcher: { kind: "golden", script: "figure8.txt" },
 *   expect: "figure8.txt:",
 * };
 * ```
 */
export interface Mutant {
  /** A kebab-case name: `deno task mutants <name>` runs this one. */
  readonly name: string;
  /** The rule the edit breaks, in one line, with the paper's section. */
  readonly rule: string;
  /** The file to edit, relative to the repository root. */
  readonly file: string;
  /** Text that occurs exactly once in `file`. */
  readonly find: string;
  /** What replaces it: the bug. */
  readonly replace: string;
  /** The command that must fail. */
  readonly catcher: Catcher;
  /** Text the failing command's output must contain: the check that caught the bug. */
  readonly expect: string;
}

/**
 * The arguments to `deno` that run a catcher, from the repository root.
 *
 * @param catcher The catcher.
 * @returns The arguments, without `deno` itself.
 *
 * @example A golden script
 * ```ts
 * import { catcherArgs } from "./mutant.ts";
 * console.log(catcherArgs({ kind: "golden", script: "figure8.txt" }).at(-1)); // "golden: figure8.txt"
 * ```
 */
export function catcherArgs(catcher: Catcher): string[] {
  switch (catcher.kind) {
    case "test":
      return ["test", "-A", catcher.file, "--filter", catcher.filter];
    case "golden":
      return [
        "test",
        "--allow-read=tests/golden",
        "--allow-env=UPDATE_GOLDEN",
        "tests/interaction/golden_test.ts",
        "--filter",
        `golden: ${catcher.script}`,
      ];
    case "sim":
      return [
        "run",
        "-A",
        "tests/sim/main.ts",
        "--fail-fast",
        "--seeds",
        String(catcher.seeds),
        ...(catcher.firstSeed !== undefined ? ["--first-seed", String(catcher.firstSeed)] : []),
        ...(catcher.nodes !== undefined ? ["--nodes", String(catcher.nodes)] : []),
      ];
  }
}

/**
 * The catcher as a person would type it, for reports and docs.
 *
 * @param catcher The catcher.
 * @returns A short description, such as `figure8.txt` or `sim --seeds 40`.
 *
 * @example A simulation run
 * ```ts
 * import { describeCatcher } from "./mutant.ts";
 * console.log(describeCatcher({ kind: "sim", seeds: 40, nodes: 3 })); // "sim --seeds 40 --nodes 3"
 * ```
 */
export function describeCatcher(catcher: Catcher): string {
  switch (catcher.kind) {
    case "test":
      return `${catcher.file.split("/").at(-1)} "${catcher.filter}"`;
    case "golden":
      return catcher.script;
    case "sim":
      return [
        `sim --seeds ${catcher.seeds}`,
        catcher.firstSeed !== undefined ? ` --first-seed ${catcher.firstSeed}` : "",
        catcher.nodes !== undefined ? ` --nodes ${catcher.nodes}` : "",
      ].join("");
  }
}

/**
 * What catches a mutant, as the report and docs say it: the property and the command.
 *
 * @param mutant The mutant.
 * @returns For example `figure8.txt differs` or `Log Matching violated (sim --seeds 40)`.
 *
 * @example A golden script
 * ```ts
 * import { describeCheck } from "./mutant.ts";
 * import { MUTANTS } from "./mutants.ts";
 * const m = MUTANTS.find((m) => m.name === "commit-old-term-entries")!;
 * console.log(describeCheck(m)); // "figure8.txt differs"
 * ```
 */
export function describeCheck(mutant: Mutant): string {
  const c = mutant.catcher;
  switch (c.kind) {
    case "test":
      return describeCatcher(c);
    case "golden":
      return `${c.script} differs`;
    case "sim":
      return `${mutant.expect} (${describeCatcher(c)})`;
  }
}
