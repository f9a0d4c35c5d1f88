/**
 * Keeps `docs/learn/figure2.md` true: every file it names exists, every function or field it
 * names appears in that file, every quoted trace line or test name appears in the script or
 * test file it cites, and every rule row names both code and a test.
 */
import { escapeRegExp, readRepoFile, ROOT } from "../support/repo_files.ts";
import { assert, assertEquals } from "@std/assert";

const MAP = "docs/learn/figure2.md";

/** A reference written as `path: detail` (or a bare `path`) in a code span. */
interface Reference {
  path: string;
  detail: string | undefined;
}

function references(cell: string): Reference[] {
  return [...cell.matchAll(/`([\w./-]+\.(?:ts|txt))(?::\s*([^`]+))?`/g)].map(([, path, d]) => ({
    path,
    detail: d?.trim(),
  }));
}

const isTest = (path: string) => path.endsWith(".txt") || path.endsWith("_test.ts");

Deno.test("figure2.md: every referenced file, symbol, trace line and test exists", async () => {
  const text = await Deno.readTextFile(new URL(MAP, ROOT));
  const problems: string[] = [];
  let checked = 0;
  for (const { path, detail } of references(text)) {
    const source = await readRepoFile(path);
    if (source === undefined) {
      problems.push(`${path}: no such file`);
      continue;
    }
    checked++;
    if (!detail) continue;
    if (isTest(path)) {
      if (!source.includes(detail)) problems.push(`${path}: does not contain "${detail}"`);
      continue;
    }
    for (const symbol of detail.split(",").map((s) => s.trim())) {
      // `Class.member`: each part must be declared or used in the file.
      for (const part of symbol.split(".")) {
        if (!new RegExp(`(^|[^\\w#])${escapeRegExp(part)}\\b`, "m").test(source)) {
          problems.push(`${path}: no "${part}" (from "${symbol}")`);
        }
      }
    }
  }
  assertEquals(problems, []);
  assert(checked > 100, `the map names only ${checked} references`);
});

Deno.test("figure2.md: every rule names the code that implements it and a test that exercises it", async () => {
  const text = await Deno.readTextFile(new URL(MAP, ROOT));
  const rows = text.split("\n").filter((l) => l.startsWith("| ") && !/^\| -/.test(l));
  const headers = rows.filter((r) => /\| Code +\|/.test(r));
  const rules = rows.filter((r) => !headers.includes(r));
  const missing: string[] = [];
  for (const row of rules) {
    const [, rule, code, tests] = row.split(/ \| |^\| | \|$/).map((c) => c.trim());
    const codeRefs = references(code ?? "").filter((r) => !isTest(r.path) && r.detail);
    const testRefs = references(tests ?? "").filter((r) => isTest(r.path));
    if (codeRefs.length === 0 || testRefs.length === 0) missing.push(rule);
  }
  assertEquals(missing, []);
  assert(rules.length >= 55, `only ${rules.length} rules are mapped`);
});

Deno.test("figure2.md: covers Figure 2 and the extensions PrkDB runs", async () => {
  const text = await Deno.readTextFile(new URL(MAP, ROOT));
  const headings = [...text.matchAll(/^## (.+)$/gm)].map(([, h]) => h);
  for (
    const wanted of [
      "State",
      "RequestVote RPC, receiver implementation",
      "AppendEntries RPC, receiver implementation",
      "Rules for servers",
      "PreVote",
      "CheckQuorum",
      "ReadIndex",
      "Leadership transfer",
      "InstallSnapshot",
      "Departures",
    ]
  ) {
    assert(headings.some((h) => h.startsWith(wanted)), `no section "${wanted}"`);
  }
  for (
    const rule of [
      "Followers: respond to RPCs",
      "Candidates, on conversion",
      "Candidates: election timeout elapses",
      "Leaders: upon election",
      "log[N].term == currentTerm",
      "All servers: if `commitIndex > lastApplied`",
      "term T > `currentTerm`",
    ]
  ) {
    assert(text.includes(rule), `the rule "${rule}" is not mapped`);
  }
});
