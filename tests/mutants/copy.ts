/**
 * Copies the repository into a temporary directory, where mutants are applied: the working
 * tree is never edited.
 *
 * @module
 */
import { dirname, join } from "node:path";

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
 * import { copyRepository } from "./copy.ts";
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
