/**
 * Keeps the course in `docs/learn/` true: the index lists every chapter and every chapter
 * exists; every relative link resolves to a file that ships in the package; every symbol named
 * in a linked code span is declared in the file it links to; every file named in a code span
 * (`path` or `path: detail`, the form `figure2.md` uses for tests, which do not ship) exists and
 * holds what it is cited for; every golden script and test filter it names exists; every excerpt
 * of golden output appears in its script; every mutant it runs is a known one; and every chapter
 * ends with an exercise.
 */
import { MUTANTS as ALL_MUTANTS } from "../mutants/mutants.ts";
import { escapeRegExp, normalizePath, readRepoFile, ROOT } from "../support/repo_files.ts";
import { assert, assertEquals } from "@std/assert";

const root = ROOT;
const DIR = "docs/learn/";
const INDEX = `${DIR}00-index.md`;

/** The chapters, in order. */
const CHAPTERS = [
  "00-index.md",
  "01-the-problem.md",
  "02-roles-and-terms.md",
  "03-elections-and-prevote.md",
  "04-log-replication.md",
  "05-commitment-and-figure-8.md",
  "06-safety.md",
  "07-reads.md",
  "08-snapshots.md",
  "09-leadership-transfer.md",
  "10-membership.md",
  "11-multi-raft.md",
  "12-storage-contract.md",
  "13-testing-by-simulation.md",
];

/** Chapters the index lists that are written separately and may not exist yet. */
const RESERVED: string[] = [];

/** The runnable mutants (`deno task mutants <name>`) the exercises use, each one of the data file's. */
const MUTANTS = [
  "vote-without-log-check",
  "skip-consistency-check",
  "double-vote",
  "read-without-quorum-round",
  "read-before-term-commit",
  "commit-old-term-entries",
  "snapshot-keeps-conflicting-tail",
  "ack-before-fsync",
  "no-timer-reset-on-vote",
  "prevote-bumps-term",
  "membership-changes-pile-up",
  "membership-before-term-commit",
];

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(new URL(path, root)).then(() => true, () => false);
}

/** The chapters that exist, with their text. */
async function chapters(): Promise<{ name: string; text: string }[]> {
  const out = [];
  for (const name of CHAPTERS) {
    const text = await readRepoFile(DIR + name);
    if (text !== undefined) out.push({ name, text });
  }
  return out;
}

/** Whether `source` declares `name` (a class, function, type, constant, field or method). */
function declares(source: string, name: string): boolean {
  const n = escapeRegExp(name);
  const topLevel = new RegExp(
    `^(?:export\\s+)?(?:abstract\\s+)?(?:async\\s+)?(?:class|interface|type|function|const|let|enum)\\s+${n}\\b`,
    "m",
  );
  const member = new RegExp(
    `^\\s+(?:(?:static|readonly|async|get|set|private|public|protected|override)\\s+)*${n}\\s*[(:=<?!]`,
    "m",
  );
  return topLevel.test(source) || member.test(source);
}

/** Every `[`symbol`](path.ts)` link: a code span naming a symbol, linked to its file. */
function symbolLinks(text: string): { symbol: string; target: string }[] {
  return [...text.matchAll(/\[`([^`]+)`\]\(([^)\s]+\.ts)(?:#[^)]*)?\)/g)].map(([, s, t]) => ({
    symbol: s,
    target: t,
  }));
}

Deno.test("course: the index lists every chapter in order, and every chapter exists", async () => {
  const index = await Deno.readTextFile(new URL(INDEX, root));
  const listed = [...index.matchAll(/\]\((\d\d-[\w-]+\.md)\)/g)].map(([, f]) => f);
  assertEquals([...new Set(listed)], CHAPTERS.slice(1));
  assert(
    index.includes("10. [Membership change](10-membership.md)"),
    'the index lists "10. Membership change"',
  );
  const missing: string[] = [];
  for (const name of CHAPTERS) {
    if (!RESERVED.includes(name) && !(await exists(DIR + name))) missing.push(name);
  }
  assertEquals(missing, []);
});

/** The anchors of a markdown page's headings, as GitHub and jsr.io make them. */
function anchors(markdown: string): Set<string> {
  const slugs = [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map(([, h]) =>
    h.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-")
  );
  return new Set(slugs);
}

/** Whether `deno publish` leaves a file out, per the patterns deno.json uses. */
function excluded(path: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    if (p.startsWith("**/*")) return path.endsWith(p.slice(4));
    if (p.endsWith("/")) return path.startsWith(p);
    throw new Error(`Unexpected publish.exclude pattern "${p}": teach this test to read it`);
  });
}

Deno.test("course: every relative link resolves to a file that ships in the package", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const patterns: string[] = config.publish.exclude;
  const broken: string[] = [];
  let links = 0;
  for (const { name, text } of await chapters()) {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      links++;
      const path = normalizePath(DIR + target.split("#")[0]);
      if (RESERVED.includes(path.slice(DIR.length))) continue;
      const anchor = target.split("#")[1];
      if (!(await exists(path))) broken.push(`${name}: ${target} (missing)`);
      else if (excluded(path, patterns)) broken.push(`${name}: ${target} (not published: name it)`);
      else if (
        anchor && path.endsWith(".md") && !anchors(await readRepoFile(path) ?? "").has(anchor)
      ) {
        broken.push(`${name}: ${target} (no such heading)`);
      }
    }
  }
  assertEquals(broken, []);
  assert(links > 150, `only ${links} links found: is the pattern still right?`);
});

Deno.test("course: every file named in a code span exists and holds what it is cited for", async () => {
  const problems: string[] = [];
  let named = 0;
  for (const { name, text } of await chapters()) {
    // Spans inside a link were checked above; strip links so their spans are not seen twice.
    const prose = text.replace(/\[`[^`]+`\]\([^)]*\)/g, "");
    for (
      const [, path, detail] of prose.matchAll(
        /`([\w-]+\/[\w./-]+\.(?:ts|txt|md))(?::\s*([^`]+))?`/g,
      )
    ) {
      named++;
      const source = await readRepoFile(path);
      if (source === undefined) {
        problems.push(`${name}: ${path} (no such file)`);
        continue;
      }
      if (!detail) continue;
      if (path.endsWith(".txt") || path.endsWith("_test.ts")) {
        // A quoted test name or trace line may wrap in the markdown.
        const quoted = detail.replace(/\s+/g, " ").trim();
        if (!source.includes(quoted)) problems.push(`${name}: ${path} has no "${quoted}"`);
        continue;
      }
      for (const symbol of detail.split(",").map((d) => d.trim())) {
        for (const part of symbol.replace(/\(.*\)$/, "").split(".")) {
          if (!declares(source, part)) problems.push(`${name}: ${path} declares no "${part}"`);
        }
      }
    }
  }
  assertEquals(problems, []);
  assert(named > 40, `only ${named} files are named`);
});

Deno.test("course: every symbol linked to a file is declared in that file", async () => {
  const problems: string[] = [];
  let checked = 0;
  for (const { name, text } of await chapters()) {
    for (const { symbol, target } of symbolLinks(text)) {
      const path = normalizePath(DIR + target);
      const source = await readRepoFile(path);
      if (source === undefined) {
        problems.push(`${name}: ${target} (no such file)`);
        continue;
      }
      checked++;
      // A file name in the code span names the file the link leads to.
      if (/\.(ts|txt|md|json)$/.test(symbol)) {
        if (!path.endsWith(symbol)) problems.push(`${name}: \`${symbol}\` links to ${path}`);
        continue;
      }
      // `Class.member`, `Class.#member`, `function()`: each part must be declared in the file.
      for (const part of symbol.replace(/\(.*\)$/, "").split(".")) {
        if (!declares(source, part)) problems.push(`${name}: ${path} declares no "${part}"`);
      }
    }
  }
  assertEquals(problems, []);
  assert(checked > 80, `only ${checked} symbols are linked`);
});

Deno.test("course: every golden script, test filter and golden excerpt is real", async () => {
  const problems: string[] = [];
  const golden = new Set(
    [...Deno.readDirSync(new URL("tests/golden/", root))].map((e) => e.name),
  );
  for (const { name, text } of await chapters()) {
    for (const [, script] of text.matchAll(/tests\/golden\/([\w-]+\.txt)/g)) {
      if (!golden.has(script)) problems.push(`${name}: no golden script ${script}`);
    }
    // `deno test -A <file> --filter <name>`: the file exists and has such a test.
    for (
      const [, file, quoted, bare] of text.matchAll(
        /deno test [^\n`]*?([\w./-]+_test\.ts) --filter (?:"([^"]+)"|([^\s`]+))/g,
      )
    ) {
      const filter = quoted ?? bare;
      const source = await readRepoFile(file);
      if (source === undefined) problems.push(`${name}: no test file ${file}`);
      else if (file.endsWith("golden_test.ts")) {
        if (![...golden].some((g) => g.includes(filter))) {
          problems.push(`${name}: no golden script matches --filter ${filter}`);
        }
      } else if (!source.includes(filter)) {
        problems.push(`${name}: ${file} has no test matching --filter ${filter}`);
      }
    }
    // `x.txt:N "command"`, as a failing golden test names a step: line N of x.txt is the command.
    for (const [, script, line, command] of text.matchAll(/`([\w-]+\.txt):(\d+) "([^"]+)"`/g)) {
      const source = await readRepoFile(`tests/golden/${script}`);
      const actual = source?.split("\n")[Number(line) - 1];
      if (actual !== command) {
        problems.push(`${name}: ${script}:${line} is "${actual}", not "${command}"`);
      }
    }
    // An excerpt follows `<!-- excerpt: tests/golden/x.txt -->`; its lines must be in x.txt.
    for (
      const [, file, block] of text.matchAll(
        /<!-- excerpt: ([\w./-]+) -->\s*```\w*\n([\s\S]*?)```/g,
      )
    ) {
      const source = await readRepoFile(file);
      if (source === undefined) {
        problems.push(`${name}: excerpt from missing ${file}`);
        continue;
      }
      for (const line of block.split("\n")) {
        if (line.trim() === "" || line.trim() === "...") continue;
        if (!source.includes(line)) problems.push(`${name}: ${file} has no line "${line}"`);
      }
    }
  }
  assertEquals(problems, []);
});

Deno.test("course: exercises use known mutants, and every chapter ends with one", async () => {
  const problems: string[] = [];
  let used = 0;
  for (const { name, text } of await chapters()) {
    for (const [, mutant] of text.matchAll(/deno task mutants ([\w-]+)/g)) {
      used++;
      if (!MUTANTS.includes(mutant)) problems.push(`${name}: unknown mutant ${mutant}`);
    }
    if (name === "00-index.md") continue;
    const headings = [...text.matchAll(/^## (.+)$/gm)].map(([, h]) => h);
    if (!headings.at(-1)?.startsWith("Exercise")) {
      problems.push(`${name}: the last section is not an exercise`);
    }
  }
  assertEquals(problems, []);
  assert(used >= MUTANTS.length, `the exercises run only ${used} mutants`);
  const runnable = ALL_MUTANTS.map((m) => m.name);
  assertEquals(MUTANTS.filter((m) => !runnable.includes(m)), [], "every one is runnable");
});
