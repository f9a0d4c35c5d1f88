/**
 * The keys of a partition in byte order, so a range or a prefix can be read in order. Keys are
 * held as binary strings (one character per byte), for which JavaScript's string order is the
 * bytes' lexicographic order.
 *
 * A sorted array with binary search: inserting a new key moves the keys after it, which is a
 * memory move and fast up to hundreds of thousands of keys per partition; reads are a binary
 * search and a slice.
 *
 * @module
 */

/**
 * Keys in byte order.
 *
 * @example Usage
 * ```ts
 * import { SortedKeys } from "@prkdb/prkdb/partition";
 * const keys = new SortedKeys();
 * for (const k of ["b", "a", "c"]) keys.insert(k);
 * console.log(keys.range("a", "c", 10, false)); // ["a", "b"]
 * ```
 */
export class SortedKeys {
  #keys: string[] = [];

  /** How many keys there are. */
  get size(): number {
    return this.#keys.length;
  }

  /** The position of the first key at or after `key`. */
  #lowerBound(key: string): number {
    let lo = 0, hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Adds a key (nothing happens if it is there).
   *
   * @param key The key, as a binary string.
   */
  insert(key: string): void {
    const at = this.#lowerBound(key);
    if (this.#keys[at] !== key) this.#keys.splice(at, 0, key);
  }

  /**
   * Removes a key (nothing happens if it is not there).
   *
   * @param key The key, as a binary string.
   */
  delete(key: string): void {
    const at = this.#lowerBound(key);
    if (this.#keys[at] === key) this.#keys.splice(at, 1);
  }

  /**
   * Keys in `[start, end)` in order, at most `limit`, from the end when `reverse`.
   *
   * @param start The first key that may be returned.
   * @param end The first key past the range; `undefined` for no end.
   * @param limit The most keys to return.
   * @param reverse Whether to start from the end of the range.
   * @returns The keys.
   */
  range(start: string, end: string | undefined, limit: number, reverse: boolean): string[] {
    const lo = this.#lowerBound(start);
    const hi = end === undefined ? this.#keys.length : this.#lowerBound(end);
    if (hi <= lo) return [];
    return reverse
      ? this.#keys.slice(Math.max(lo, hi - limit), hi).reverse()
      : this.#keys.slice(lo, Math.min(hi, lo + limit));
  }

  /** Removes every key. */
  clear(): void {
    this.#keys = [];
  }

  /**
   * Replaces the keys with these (in any order).
   *
   * @param keys The keys.
   */
  reset(keys: Iterable<string>): void {
    this.#keys = [...keys].sort();
  }
}
