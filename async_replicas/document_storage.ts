/**
 * Where a {@linkcode PrkDb} keeps documents, its outbox and its replication offset: an ordered
 * key-value store with atomic multi-key writes, so a follower applies a batch of changes and
 * its new offset together (a restart never sees one without the other).
 *
 * @module
 */

/** A key: a path of strings and numbers, ordered element by element. */
export type DocKey = readonly (string | number)[];

/**
 * One write of an atomic batch.
 *
 * @example Usage
 * ```ts
 * import type { DocWrite } from "@prkdb/prkdb/async-replicas";
 * const w: DocWrite = { key: ["orders", "o-1"], value: new TextEncoder().encode("{}") };
 * ```
 */
export interface DocWrite {
  /** The key. */
  readonly key: DocKey;
  /** The new value, or `undefined` to delete. */
  readonly value: Uint8Array | undefined;
}

/**
 * The storage a PrkDb runs on.
 *
 * @example Usage
 * ```ts
 * import { MemoryAdapter } from "@prkdb/prkdb/async-replicas";
 * const storage = new MemoryAdapter();
 * await storage.commit([{ key: ["a"], value: new Uint8Array([1]) }]);
 * console.log((await storage.get(["a"]))?.[0]); // 1
 * ```
 */
export interface DocumentStorage {
  /** Reads one value. */
  get(key: DocKey): Promise<Uint8Array | undefined>;
  /** Lists values under a prefix, in key order, at most `limit`, starting after `after` if given. */
  list(
    prefix: DocKey,
    options?: { after?: DocKey; limit?: number },
  ): Promise<[DocKey, Uint8Array][]>;
  /** Applies writes atomically and durably. */
  commit(writes: readonly DocWrite[]): Promise<void>;
  /** Releases resources. */
  close(): Promise<void>;
}

function compareKeys(a: DocKey, b: DocKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (x === y) continue;
    if (typeof x === typeof y) return x < y ? -1 : 1;
    return typeof x === "number" ? -1 : 1; // numbers before strings, like Deno KV
  }
  return a.length - b.length;
}

/**
 * In-memory storage (nothing survives the process).
 *
 * @example Usage
 * ```ts
 * import { MemoryAdapter } from "@prkdb/prkdb/async-replicas";
 * const storage = new MemoryAdapter();
 * ```
 */
export class MemoryAdapter implements DocumentStorage {
  readonly #data = new Map<string, { key: DocKey; value: Uint8Array }>();

  /** Reads one value. */
  get(key: DocKey): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#data.get(JSON.stringify(key))?.value);
  }

  /** Lists values under a prefix. */
  list(
    prefix: DocKey,
    options: { after?: DocKey; limit?: number } = {},
  ): Promise<[DocKey, Uint8Array][]> {
    const out = [...this.#data.values()]
      .filter(({ key }) =>
        prefix.every((p, i) => key[i] === p) &&
        (!options.after || compareKeys(key, options.after) > 0)
      )
      .sort((a, b) => compareKeys(a.key, b.key))
      .slice(0, options.limit ?? Infinity)
      .map(({ key, value }) => [key, value] as [DocKey, Uint8Array]);
    return Promise.resolve(out);
  }

  /** Applies writes atomically. */
  commit(writes: readonly DocWrite[]): Promise<void> {
    for (const w of writes) {
      if (w.value === undefined) this.#data.delete(JSON.stringify(w.key));
      else this.#data.set(JSON.stringify(w.key), { key: w.key, value: w.value });
    }
    return Promise.resolve();
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Deno KV storage: durable, each commit atomic (batches over 1000 writes are refused).
 *
 * @example Usage
 * ```ts
 * import { KvAdapter } from "@prkdb/prkdb/async-replicas";
 * const storage = await KvAdapter.open(":memory:");
 * await storage.close();
 * ```
 */
export class KvAdapter implements DocumentStorage {
  readonly #kv: Deno.Kv;

  private constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /**
   * Opens a Deno KV database.
   *
   * @param path A file path or `":memory:"`.
   * @returns The adapter.
   */
  static async open(path: string): Promise<KvAdapter> {
    return new KvAdapter(await Deno.openKv(path));
  }

  /** Reads one value. */
  async get(key: DocKey): Promise<Uint8Array | undefined> {
    return (await this.#kv.get<Uint8Array>([...key])).value ?? undefined;
  }

  /** Lists values under a prefix. */
  async list(
    prefix: DocKey,
    options: { after?: DocKey; limit?: number } = {},
  ): Promise<[DocKey, Uint8Array][]> {
    const out: [DocKey, Uint8Array][] = [];
    const selector = options.after
      ? { prefix: [...prefix], start: [...options.after, ""] }
      : { prefix: [...prefix] };
    for await (
      const entry of this.#kv.list<Uint8Array>(selector as Deno.KvListSelector, {
        limit: options.limit,
      })
    ) {
      if (options.after && compareKeys(entry.key as DocKey, options.after) <= 0) continue;
      out.push([entry.key as DocKey, entry.value]);
    }
    return out;
  }

  /** Applies writes in one atomic commit. */
  async commit(writes: readonly DocWrite[]): Promise<void> {
    if (writes.length > 1000) {
      throw new RangeError(`A batch of ${writes.length} writes exceeds Deno KV's 1000`);
    }
    const op = this.#kv.atomic();
    for (const w of writes) {
      w.value === undefined ? op.delete([...w.key]) : op.set([...w.key], w.value);
    }
    const result = await op.commit();
    if (!result.ok) throw new Error("Deno KV refused the commit");
  }

  /** Closes the database. */
  close(): Promise<void> {
    this.#kv.close();
    return Promise.resolve();
  }
}
