/**
 * Bundles the page's script, `play_web/app.ts`, for the browser with `deno bundle --platform
 * browser`. The play server does it once at startup rather than serving a checked-in build:
 * the page can never run a stale copy of the core, and there is no build output to keep in
 * sync in the repository. Bundling reads only local sources (the core imports nothing from
 * npm or JSR), so it works offline, in about a third of a second.
 *
 * @module
 */
import { fromFileUrl } from "@std/path";

/**
 * Bundles the page's script.
 *
 * @returns The JavaScript, one ES module.
 * @throws {Error} When `deno bundle` fails, with its error output.
 */
export async function bundleApp(): Promise<string> {
  const entry = fromFileUrl(new URL("../play_web/app.ts", import.meta.url));
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(`Bundling the playground failed: ${decoder.decode(stderr).trim()}`);
  }
  return decoder.decode(stdout);
}
