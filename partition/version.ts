/**
 * Key versions. Every key carries the version of its last write: the partition and the log
 * index of the entry that wrote it, as 20 lowercase hex digits (4 for the partition, 16 for the
 * index), the same shape as a Deno KV versionstamp.
 *
 * What the order means:
 * - For one key, versions only grow: a later write has a larger index in the same partition.
 *   This holds across deletes too (a key written again gets a new, larger version).
 * - For two keys in the same partition, the order of their versions is the order in which their
 *   writes were applied.
 * - For keys in different partitions the order carries no meaning: each partition is its own
 *   Raft log with its own indexes.
 *
 * @module
 */

const VERSION = /^[0-9a-f]{20}$/;

/**
 * Formats the version of a write.
 *
 * @param partition The partition (`0..65535`).
 * @param index The log index of the write.
 * @returns 20 hex digits that compare in write order.
 *
 * @example Usage
 * ```ts
 * import { formatVersion } from "@prkdb/prkdb/partition";
 * console.log(formatVersion(3, 42)); // "0003000000000000002a"
 * ```
 */
export function formatVersion(partition: number, index: number): string {
  if (!Number.isInteger(partition) || partition < 0 || partition > 0xffff) {
    throw new RangeError(`Partition must be in 0..65535, got ${partition}`);
  }
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`Index must be a non-negative safe integer, got ${index}`);
  }
  return partition.toString(16).padStart(4, "0") + index.toString(16).padStart(16, "0");
}

/**
 * Splits a version into its partition and log index.
 *
 * @param version A version from {@linkcode formatVersion}.
 * @returns The partition and index.
 * @throws {RangeError} When the string is not a version.
 *
 * @example Usage
 * ```ts
 * import { parseVersion } from "@prkdb/prkdb/partition";
 * console.log(parseVersion("0003000000000000002a")); // { partition: 3, index: 42 }
 * ```
 */
export function parseVersion(version: string): { partition: number; index: number } {
  if (!isVersion(version)) {
    throw new RangeError(`"${version}" is not a version: expected 20 lowercase hex digits`);
  }
  const index = Number.parseInt(version.slice(4), 16);
  if (!Number.isSafeInteger(index)) {
    throw new RangeError(`Version "${version}" has an index beyond 2^53`);
  }
  return { partition: Number.parseInt(version.slice(0, 4), 16), index };
}

/**
 * Whether a string has the shape of a version.
 *
 * @param value The string.
 * @returns `true` for 20 lowercase hex digits.
 *
 * @example Usage
 * ```ts
 * import { isVersion } from "@prkdb/prkdb/partition";
 * console.log(isVersion("0003000000000000002a"), isVersion("v1")); // true false
 * ```
 */
export function isVersion(value: string): boolean {
  return VERSION.test(value);
}
