/**
 * Reading a file that may legitimately be absent, with every other failure reported as a
 * {@link StorageError}: the one shape every store uses to probe its data directory.
 *
 * @module
 */
import { StorageError } from "./errors.ts";

/**
 * Runs a file-system read, answering `undefined` when the path does not exist.
 *
 * A missing file is an ordinary answer (a fresh directory, an optional record); anything else
 * (permissions, I/O errors) becomes a {@link StorageError} naming the path.
 *
 * @param path The path the read touches, named in the error.
 * @param read The read to run.
 * @returns What `read` returned, or undefined when the path does not exist.
 * @throws {StorageError} When the read fails for any other reason.
 *
 * @example Probe for an optional file
 * ```ts
 * import { ifExists } from "./if_exists.ts";
 * const dir = await Deno.makeTempDir();
 * const info = await ifExists(`${dir}/absent`, (p) => Deno.stat(p));
 * console.log(info); // undefined
 * await Deno.remove(dir);
 * ```
 */
export async function ifExists<T>(
  path: string,
  read: (path: string) => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new StorageError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}
