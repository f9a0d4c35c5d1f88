/**
 * Keeps the mutants runnable as the code moves: every find text still occurs exactly once, and
 * one mutant runs end to end and is caught.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { fileURLToPath } from "node:url";
import { copyRepository } from "./copy.ts";
import { edits } from "./mutant.ts";
import { MUTANTS } from "./mutants.ts";
import { applyEdit, occurrences, runMutant } from "./run.ts";

const root = new URL("../../", import.meta.url);

Deno.test("mutants: names are unique and kebab-case, and each has a check", () => {
  const names = MUTANTS.map((m) => m.name);
  assertEquals(new Set(names).size, names.length);
  for (const m of MUTANTS) {
    assert(/^[a-z0-9]+(-[a-z0-9]+)*$/.test(m.name), m.name);
    assert(m.checks.length > 0, `${m.name} has no check`);
  }
});

Deno.test("mutants: every find text occurs exactly once in its file", async () => {
  const stale: string[] = [];
  for (const m of MUTANTS) {
    for (const edit of edits(m)) {
      const source = await Deno.readTextFile(new URL(edit.file, root));
      const n = occurrences(source, edit.find);
      if (n !== 1) stale.push(`${m.name}: its find text occurs ${n} times in ${edit.file}`);
      else assert(applyEdit(source, edit) !== source, `${m.name}: the edit changes nothing`);
    }
  }
  assertEquals(stale, [], "the code moved: update these mutants in tests/mutants/mutants.ts");
});

Deno.test("mutants: a golden or test check names a file that exists", async () => {
  for (const m of MUTANTS) {
    for (const c of m.checks) {
      if (c.kind === "golden") await Deno.stat(new URL(`tests/golden/${c.script}`, root));
      // Whether the filter still selects a test (names may be built from templates) is what
      // `deno task mutants --baseline` checks.
      if (c.kind === "test") await Deno.stat(new URL(c.file, root));
    }
  }
});

Deno.test("mutants: commit-old-term-entries runs end to end and figure8.txt catches it", async () => {
  const mutant = MUTANTS.find((m) => m.name === "commit-old-term-entries")!;
  const workdir = await Deno.makeTempDir({ prefix: "prkdb-mutants-test-" });
  try {
    await copyRepository(fileURLToPath(root), workdir);
    const result = await runMutant(mutant, workdir, 60_000);
    assertEquals(result.verdict, "CAUGHT", result.checks[0]?.evidence);
    assertStringIncludes(result.checks[0].evidence, "figure8.txt:");
    // The copy is put back after the run.
    assertEquals(
      await Deno.readTextFile(`${workdir}/${mutant.file}`),
      await Deno.readTextFile(new URL(mutant.file, root)),
    );
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});
