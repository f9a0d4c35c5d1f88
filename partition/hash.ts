/**
 * Which partition a key belongs to.
 *
 * Keys are spread by a stable hash. To place keys together on purpose (so that one atomic
 * write can cover them), give them a **hash tag**: when a key contains `{`, followed later by
 * `}`, and the text between them is not empty, only that text is hashed. `{user:42}:profile`
 * and `{user:42}:orders` share a partition; `user:{}` and `plain` are hashed whole.
 *
 * @module
 */

const OPEN = 0x7b; // "{"
const CLOSE = 0x7d; // "}"

/**
 * The part of a key that is hashed: the text between the first `{` and the next `}` when it is
 * not empty, otherwise the whole key.
 *
 * @param key The key's bytes.
 * @returns A view of the bytes that decide the partition.
 *
 * @example Usage
 * ```ts
 * import { hashTag } from "@prkdb/prkdb/partition";
 * const tag = hashTag(new TextEncoder().encode("{user:42}:orders"));
 * console.log(new TextDecoder().decode(tag)); // "user:42"
 * ```
 */
export function hashTag(key: Uint8Array): Uint8Array {
  const open = key.indexOf(OPEN);
  if (open < 0) return key;
  const close = key.indexOf(CLOSE, open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

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
 * The partition a key hashes into (its hash tag's, when it has one).
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
  return fnv1a32(hashTag(key)) % partitions;
}
