/**
 * The Raft core must stay pure: no I/O, no timers, no clock, no ambient randomness, no
 * `await`, and no imports from the rest of PrkDB. Everything it needs comes in through
 * ticks, messages, proposals and the injected random source. This test reads every source in
 * `raft/` (tests excepted) and fails on any violation, naming the file and line.
 */
import { assertEquals } from "@std/assert";

const FORBIDDEN: [RegExp, string][] = [
  [/\bDeno\./, "uses the Deno namespace (I/O belongs to the runtime)"],
  [
    /\b(setTimeout|setInterval|queueMicrotask|requestAnimationFrame)\s*\(/,
    "uses a timer (time is logical ticks)",
  ],
  [/\bDate\b/, "reads the clock (time is logical ticks)"],
  [/\bperformance\.now\b/, "reads the clock (time is logical ticks)"],
  [/\bMath\.random\b/, "uses ambient randomness (inject a RandomSource)"],
  [
    /\bawait\b|\basync\s+(function|\(|[a-zA-Z_$][\w$]*\s*\()/,
    "is asynchronous (the core is synchronous)",
  ],
  [/\bfetch\s*\(/, "does network I/O"],
];

function* sources(dir: URL): Generator<URL> {
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isDirectory) yield* sources(new URL(`${entry.name}/`, dir));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      yield new URL(entry.name, dir);
    }
  }
}

function stripComments(text: string): string {
  // Keep line numbers: blank out comment text but not the newlines.
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/\/\/.*$/gm, (c) => " ".repeat(c.length));
}

Deno.test("raft/ is pure: no I/O, timers, clock, Math.random, await or outside imports", () => {
  const root = new URL("./", import.meta.url);
  const violations: string[] = [];
  let files = 0;
  for (const url of sources(root)) {
    files++;
    const rel = url.pathname.slice(root.pathname.length);
    const depth = rel.split("/").length - 1;
    const lines = stripComments(Deno.readTextFileSync(url)).split("\n");
    lines.forEach((line, i) => {
      for (const [pattern, why] of FORBIDDEN) {
        if (pattern.test(line)) violations.push(`raft/${rel}:${i + 1} ${why}: ${line.trim()}`);
      }
      for (const match of line.matchAll(/from\s+["']([^"']+)["']/g)) {
        const spec = match[1];
        const escapes = spec.startsWith("../") &&
          spec.split("/").filter((p) => p === "..").length > depth;
        if (escapes || !spec.startsWith(".")) {
          violations.push(
            `raft/${rel}:${i + 1} imports ${spec} (the core imports only raft/ modules)`,
          );
        }
      }
    });
  }
  assertEquals(violations, [], `\n${violations.join("\n")}`);
  if (files < 10) {
    throw new Error(
      `Only ${files} sources found in raft/: the scan is not looking in the right place`,
    );
  }
});
