/**
 * Keeps the mutants runnable as the code moves: every find text still occurs exactly once, and
 * one mutant runs end to end and is caught.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { fileURLToPath } from "node:url";
import { MUTANTS } from "./mutants.ts";
import { applyEdit, copyRepository, occurrences, runMutant } from "./run.ts";

const root = new URL("../../", import.meta.url);

Deno.test("mutants: names are unique and kebab-case", () => {
  const names = MUTANTS.map((m) => m.name);
  assertEquals(new Set(names).size, names.length);
  for (const name of names) assert(/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name), name);
});

Deno.test("mutants: every find text occurs exactly once in its file", async () => {
  const stale: string[] = [];
  for (const m of MUTANTS) {
    const source = await Deno.readTextFile(new URL(m.file, root));
    const n = occurrences(source, m.find);
    if (n !== 1) stale.push(`${m.name}: its find text occurs ${n} times in ${m.file}`);
    else assert(applyEdit(source, m) !== source, `${m.name}: the edit changes nothing`);
  }
  assertEquals(stale, [], "the code moved: update these mutants in tests/mutants/mutants.ts");
});

Deno.test("mutants: a golden or test catcher names a file that exists", async () => {
  for (const m of MUTANTS) {
    const c = m.catcher;
    if (c.kind === "golden") await Deno.stat(new URL(`tests/golden/${c.script}`, root));
    // Whether the filter still selects a test (names may be built from templates) is what
    // `deno task mutants --baseline` checks.
    if (c.kind === "test") await Deno.stat(new URL(c.file, root));
  }
});

Deno.test("mutants: commit-old-term-entries runs end to end and figure8.txt catches it", async () => {
  const mutant = MUTANTS.find((m) => m.name === "commit-old-term-entries")!;
  const workdir = await Deno.makeTempDir({ prefix: "prkdb-mutants-test-" });
  try {
    await copyRepository(fileURLToPath(root), workdir);
    const result = await runMutant(mutant, workdir, 60_000);
    assertEquals(result.verdict, "CAUGHT", result.evidence);
    assertStringIncludes(result.evidence, "figure8.txt:");
    // The copy is put back after the run.
    assertEquals(
      await Deno.readTextFile(`${workdir}/${mutant.file}`),
      await Deno.readTextFile(new URL(mutant.file, root)),
    );
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});
