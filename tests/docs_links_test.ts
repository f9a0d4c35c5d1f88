/**
 * Every relative link in the README and the guides leads to a file that exists in the
 * repository AND ships in the published package, so it works on jsr.io and in a clone alike.
 */
import { normalizePath } from "./support/repo_files.ts";
import { assert, assertEquals } from "@std/assert";

const root = new URL("../", import.meta.url);

/** Whether `deno publish` leaves a file out, per the patterns deno.json uses. */
function excluded(path: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    if (p.startsWith("**/*")) return path.endsWith(p.slice(4));
    if (p.endsWith("/")) return path.startsWith(p);
    throw new Error(`Unexpected publish.exclude pattern "${p}": teach this test to read it`);
  });
}

Deno.test("README and docs/ link only to files that exist and are published", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const patterns: string[] = config.publish.exclude;
  const pages = ["README.md"];
  for await (const e of Deno.readDir(new URL("docs/", root))) {
    if (e.name.endsWith(".md")) pages.push(`docs/${e.name}`);
  }
  assert(!pages.some((p) => excluded(p, patterns)), "the guides must ship with the package");
  const broken: string[] = [];
  let links = 0;
  for (const page of pages) {
    const text = await Deno.readTextFile(new URL(page, root));
    const dir = page.includes("/") ? page.slice(0, page.lastIndexOf("/") + 1) : "";
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      links++;
      const path = normalizePath(dir + target.split("#")[0]);
      const exists = await Deno.stat(new URL(path, root)).then(() => true, () => false);
      if (!exists) broken.push(`${page}: ${target} (missing)`);
      else if (excluded(path, patterns)) broken.push(`${page}: ${target} (not published)`);
    }
  }
  assert(links > 50, `only ${links} links found: is the pattern still right?`);
  assertEquals(broken, []);
});
