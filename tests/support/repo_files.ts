/**
 * Reading the repository's own files, for the tests that keep its documents true.
 *
 * @module
 */

/** The repository's root. */
export const ROOT: URL = new URL("../../", import.meta.url);

/** A file's text by its path from the root, or `undefined` when there is none. */
export async function readRepoFile(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(new URL(path, ROOT));
  } catch {
    return undefined;
  }
}

/** `a/b/../c/./d` as `a/c/d`: the path a relative link resolves to. */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") out.pop();
    else if (part !== "." && part !== "") out.push(part);
  }
  return out.join("/") + (path.endsWith("/") ? "/" : "");
}

/** `text` as a regular expression that matches it literally. */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
