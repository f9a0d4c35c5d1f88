/**
 * Listing keys as an async iterator that fetches page after page, in the style of Deno KV's
 * `list()`: `for await (const entry of db.list({ prefix: "users/" })) ...`.
 *
 * @module
 */
import type { KeyLike } from "./keys.ts";
import type { ListResponse } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import type { KvEntry } from "./types.ts";

/**
 * What to list: keys starting with `prefix`, or keys in `[start, end)` in byte order.
 *
 * @example Usage
 * ```ts
 * import type { ListSelector } from "@prkdb/prkdb/client";
 * const users: ListSelector = { prefix: "users/" };
 * ```
 */
export type ListSelector =
  | { readonly prefix: KeyLike }
  | { readonly start: KeyLike; readonly end?: KeyLike };

/**
 * An async iterator over listed entries. `cursor` names the position after the last entry
 * yielded: pass it as the `cursor` option to continue there later. `positions` holds, per
 * partition, the version the last page was read at: a `watch` from there misses no change.
 *
 * @example Usage
 * ```ts ignore
 * const it = db.list({ prefix: "orders/" }, { limit: 20 });
 * for await (const { key, value, version } of it) console.log(key, value, version);
 * const next = db.list({ prefix: "orders/" }, { limit: 20, cursor: it.cursor });
 * ```
 */
export class ListIterator implements AsyncIterableIterator<KvEntry> {
  readonly #fetch: (cursor: Uint8Array) => Promise<ListResponse>;
  readonly #limit: number;
  #buffer: KvEntry[] = [];
  #next: Uint8Array;
  #cursor: Uint8Array;
  #done = false;
  #yielded = 0;
  #positions: string[] = [];

  /**
   * Creates the iterator; use `PrkDbClient.list`.
   *
   * @param fetch Reads one page after a cursor.
   * @param cursor Where to start (empty: at the beginning).
   * @param limit The most entries to yield in all.
   */
  constructor(
    fetch: (cursor: Uint8Array) => Promise<ListResponse>,
    cursor: Uint8Array,
    limit: number,
  ) {
    this.#fetch = fetch;
    this.#next = cursor;
    this.#cursor = cursor;
    this.#limit = limit;
  }

  /** Continue after the last entry yielded by passing this as the `cursor` option. */
  get cursor(): string {
    return btoa(String.fromCharCode(...this.#cursor));
  }

  /** Per partition, the version the latest page was read at (to `watch` from). */
  get positions(): readonly string[] {
    return this.#positions;
  }

  /**
   * The next entry.
   *
   * @returns The entry, or done.
   */
  async next(): Promise<IteratorResult<KvEntry>> {
    if (this.#yielded >= this.#limit) return { done: true, value: undefined };
    while (this.#buffer.length === 0 && !this.#done) {
      const page = await this.#fetch(this.#next);
      this.#positions = page.positions;
      this.#buffer = page.entries.map((e) => ({ key: e.key, value: e.value, version: e.version }));
      this.#next = page.cursor;
      if (page.cursor.length === 0) this.#done = true;
    }
    const entry = this.#buffer.shift();
    if (!entry) return { done: true, value: undefined };
    this.#yielded++;
    this.#cursor = entry.key;
    return { done: false, value: entry };
  }

  /**
   * The iterator itself.
   *
   * @returns This iterator.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<KvEntry> {
    return this;
  }
}

/**
 * Decodes a cursor from {@linkcode ListIterator.cursor}.
 *
 * @param cursor The cursor text.
 * @returns Its bytes.
 *
 * @example Usage
 * ```ts
 * import { decodeCursor } from "@prkdb/prkdb/client";
 * console.log(decodeCursor("AQI=")); // Uint8Array(2) [ 1, 2 ]
 * ```
 */
export function decodeCursor(cursor: string | undefined): Uint8Array {
  if (!cursor) return new Uint8Array();
  return Uint8Array.from(atob(cursor), (c) => c.charCodeAt(0));
}
