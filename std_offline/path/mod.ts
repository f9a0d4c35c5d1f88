/**
 * Offline stand-in for `jsr:@std/path`: the path helpers PrkDB uses, with the real package's
 * names and signatures, implemented over `node:path` and `node:url`.
 *
 * @module
 */
import nodePath from "node:path";
import { fileURLToPath } from "node:url";

/** Joins path segments and normalizes the result. */
export function join(...paths: string[]): string {
  return nodePath.join(...paths);
}

/** Returns the directory part of a path. */
export function dirname(path: string): string {
  return nodePath.dirname(path);
}

/** Returns the last part of a path, without `suffix` when it ends with it. */
export function basename(path: string, suffix?: string): string {
  return nodePath.basename(path, suffix);
}

/** Resolves path segments into an absolute path. */
export function resolve(...paths: string[]): string {
  return nodePath.resolve(...paths);
}

/** Converts a `file:` URL to a path. */
export function fromFileUrl(url: string | URL): string {
  return fileURLToPath(url);
}
