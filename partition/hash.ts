/**
 * Which partition a key belongs to.
 *
 * @module
 */

/**
 * The 32-bit FNV-1a hash of some bytes: simple, fast, and stable across versions and
 * platforms, which is what matters here (a key must always land in the same partition).
 *
 * @param bytes The bytes to hash.
 * @returns An unsigned 32-bit hash.
 *
 * @example Usage
 * ```ts
 * import { fnv1a32 } from "@prkdb/prkdb/partition";
 * console.log(fnv1a32(new Uint8Array())); // 2166136261
 * ```
 */
export function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The partition a key hashes into.
 *
 * @param key The key's bytes.
 * @param partitions How many partitions the cluster has.
 * @returns A partition number in `[0, partitions)`.
 *
 * @example Usage
 * ```ts
 * import { partitionForKey } from "@prkdb/prkdb/partition";
 * const key = new TextEncoder().encode("user:1");
 * console.log(partitionForKey(key, 4) === partitionForKey(key, 4)); // true
 * ```
 */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions <= 0) {
    throw new RangeError(`Partition count must be a positive integer, got ${partitions}`);
  }
  return fnv1a32(key) % partitions;
}
