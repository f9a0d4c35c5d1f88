/**
 * The database of the leader-follower design: typed collections over a document storage, each
 * write recorded in an ordered outbox that followers pull by offset.
 *
 * @module
 */
import {
  type DocKey,
  type DocumentStorage,
  type DocWrite,
  MemoryAdapter,
} from "./document_storage.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * How a collection is keyed and validated.
 *
 * @example Usage
 * ```ts
 * import type { CollectionDefinition } from "@prkdb/prkdb/async-replicas";
 * interface Order { id: string; amount: number }
 * const orders: CollectionDefinition<Order> = { name: "orders", key: (o) => o.id,
 *   validate: (o) => { if (o.amount < 0) throw new Error("amount must be positive"); } };
 * ```
 */
export interface CollectionDefinition<T> {
  /** The collection's name. */
  readonly name: string;
  /** Extracts a document's key. */
  readonly key: (doc: T) => string;
  /** Throws when a document is not valid; optional. */
  readonly validate?: (doc: T) => void;
}

/**
 * One change in the outbox.
 *
 * @example Usage
 * ```ts
 * import type { ChangeRecord } from "@prkdb/prkdb/async-replicas";
 * ```
 */
export interface ChangeRecord {
  /** Position in the outbox, from 1, consecutive. */
  readonly offset: number;
  /** When it was recorded (ms since the epoch). */
  readonly timestampMs: number;
  /** The collection. */
  readonly collection: string;
  /** The document's key. */
  readonly key: string;
  /** What happened. */
  readonly op: "put" | "delete";
  /** The document, as JSON, for a put. */
  readonly value?: string;
}

/**
 * Using a collection that was not registered, or a document that fails validation.
 *
 * @example Usage
 * ```ts
 * import { CollectionError } from "@prkdb/prkdb/async-replicas";
 * new CollectionError('Collection "orders" is not registered');
 * ```
 */
export class CollectionError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "CollectionError";
  }
}

const OUTBOX: DocKey = ["outbox"];
const OFFSET: DocKey = ["meta", "offset"];
const HISTORY: DocKey = ["meta", "history"];
const docKey = (collection: string, key: string): DocKey => ["docs", collection, key];

/**
 * Builds a {@linkcode PrkDb}: storage, collections, then `build()`.
 *
 * @example Usage
 * ```ts
 * import { MemoryAdapter, PrkDb } from "@prkdb/prkdb/async-replicas";
 * interface Order { id: string; amount: number }
 * const db = PrkDb.builder().withStorage(new MemoryAdapter())
 *   .registerCollection<Order>({ name: "orders", key: (o) => o.id }).build();
 * ```
 */
export class PrkDbBuilder {
  #storage: DocumentStorage = new MemoryAdapter();
  readonly #collections = new Map<string, CollectionDefinition<unknown>>();

  /**
   * Sets the storage (default: in memory).
   *
   * @param storage The storage adapter.
   * @returns This builder.
   */
  withStorage(storage: DocumentStorage): this {
    this.#storage = storage;
    return this;
  }

  /**
   * Registers a collection.
   *
   * @param definition Its name, key extractor and optional validator.
   * @returns This builder.
   */
  registerCollection<T>(definition: CollectionDefinition<T>): this {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(definition.name)) {
      throw new CollectionError(
        `Collection name "${definition.name}" must be 1-64 letters, digits, '_', '.' or '-'`,
      );
    }
    this.#collections.set(definition.name, definition as CollectionDefinition<unknown>);
    return this;
  }

  /**
   * Builds the database.
   *
   * @returns The database.
   */
  build(): PrkDb {
    return new PrkDb(this.#storage, new Map(this.#collections));
  }
}

/**
 * A typed collection of documents.
 *
 * @example Usage
 * ```ts
 * import { PrkDb } from "@prkdb/prkdb/async-replicas";
 * const db = PrkDb.builder().registerCollection<{ id: string }>({ name: "tags", key: (t) => t.id }).build();
 * await db.collection<{ id: string }>("tags").put({ id: "x" });
 * ```
 */
export class Collection<T> {
  readonly #db: PrkDb;
  readonly #def: CollectionDefinition<T>;

  /** @internal Use `db.collection(name)`. */
  constructor(db: PrkDb, def: CollectionDefinition<T>) {
    this.#db = db;
    this.#def = def;
  }

  /**
   * Stores a document (validated first) and records the change in the outbox.
   *
   * @param doc The document.
   * @returns The change's outbox offset.
   */
  put(doc: T): Promise<number> {
    try {
      this.#def.validate?.(doc);
    } catch (error) {
      return Promise.reject(
        new CollectionError(`Invalid ${this.#def.name} document: ${(error as Error).message}`),
      );
    }
    return this.#db.record({
      collection: this.#def.name,
      key: this.#def.key(doc),
      op: "put",
      value: JSON.stringify(doc),
    });
  }

  /**
   * Reads a document.
   *
   * @param key Its key.
   * @returns The document, or `undefined`.
   */
  async get(key: string): Promise<T | undefined> {
    const bytes = await this.#db.storage.get(docKey(this.#def.name, key));
    return bytes ? JSON.parse(td.decode(bytes)) as T : undefined;
  }

  /**
   * Deletes a document and records the change.
   *
   * @param key Its key.
   * @returns The change's outbox offset.
   */
  delete(key: string): Promise<number> {
    return this.#db.record({ collection: this.#def.name, key, op: "delete" });
  }

  /**
   * Lists every document, in key order.
   *
   * @returns The documents.
   */
  async list(): Promise<T[]> {
    return (await this.#db.storage.list(["docs", this.#def.name])).map(([, v]) =>
      JSON.parse(td.decode(v)) as T
    );
  }
}

/**
 * The database.
 *
 * @example Write and read
 * ```ts
 * import { PrkDb } from "@prkdb/prkdb/async-replicas";
 * interface Order { id: string; amount: number }
 * const db = PrkDb.builder().registerCollection<Order>({ name: "orders", key: (o) => o.id }).build();
 * await db.collection<Order>("orders").put({ id: "o-1", amount: 42 });
 * console.log((await db.collection<Order>("orders").get("o-1"))?.amount); // 42
 * ```
 */
export class PrkDb {
  /** The storage underneath. */
  readonly storage: DocumentStorage;
  readonly #collections: ReadonlyMap<string, CollectionDefinition<unknown>>;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<(change: ChangeRecord) => void>();

  /** @internal Use {@linkcode PrkDb.builder}. */
  constructor(
    storage: DocumentStorage,
    collections: ReadonlyMap<string, CollectionDefinition<unknown>>,
  ) {
    this.storage = storage;
    this.#collections = collections;
  }

  /**
   * Starts building a database.
   *
   * @returns A builder.
   */
  static builder(): PrkDbBuilder {
    return new PrkDbBuilder();
  }

  /**
   * A registered collection.
   *
   * @param name The collection's name.
   * @returns The collection.
   * @throws {CollectionError} When it was not registered.
   */
  collection<T>(name: string): Collection<T> {
    const def = this.#collections.get(name);
    if (!def) {
      throw new CollectionError(
        `Collection "${name}" is not registered; register it with the builder's registerCollection`,
      );
    }
    return new Collection<T>(this, def as CollectionDefinition<T>);
  }

  /**
   * Calls `listener` after each change this database records (at the leader).
   *
   * @param listener Receives each change.
   * @returns A function that removes the listener.
   */
  onChange(listener: (change: ChangeRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether a collection is registered. */
  hasCollection(name: string): boolean {
    return this.#collections.has(name);
  }

  /** The last offset recorded (leader) or applied (follower). */
  async offset(): Promise<number> {
    const bytes = await this.storage.get(OFFSET);
    return bytes ? Number(td.decode(bytes)) : 0;
  }

  /**
   * The history this database's offsets belong to, if it has one yet. A leader's database gets
   * one with {@linkcode PrkDb.history}; a follower's adopts its leader's with its first change.
   *
   * @returns The history id, or `undefined` for a database that has none yet.
   */
  async storedHistory(): Promise<string | undefined> {
    const bytes = await this.storage.get(HISTORY);
    return bytes ? td.decode(bytes) : undefined;
  }

  /**
   * The history of this database's outbox, created (random, persisted) when it has none. Offsets
   * only mean something within one history: a database re-created from scratch starts a new
   * history, so a follower of the old one cannot mistake offset 3 of the new one for its own 3.
   *
   * @returns The history id.
   */
  history(): Promise<string> {
    const next = this.#queue.then(async () => {
      const existing = await this.storedHistory();
      if (existing !== undefined) return existing;
      const id = crypto.randomUUID();
      await this.storage.commit([{ key: HISTORY, value: te.encode(id) }]);
      return id;
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /**
   * Changes after `after`, oldest first.
   *
   * @param after An offset.
   * @param limit The most to return.
   * @returns The changes.
   */
  async changesAfter(after: number, limit: number): Promise<ChangeRecord[]> {
    const rows = await this.storage.list(OUTBOX, { after: [...OUTBOX, after], limit });
    return rows.map(([, v]) => JSON.parse(td.decode(v)) as ChangeRecord);
  }

  /**
   * Drops outbox changes at or below `offset` (every follower has them).
   *
   * @param offset The drained offset.
   */
  async pruneOutbox(offset: number): Promise<void> {
    const old = await this.storage.list(OUTBOX, { limit: 1000 });
    const writes = old.filter(([k]) => (k[1] as number) <= offset).map(([key]) => ({
      key,
      value: undefined,
    }));
    if (writes.length > 0) await this.storage.commit(writes);
  }

  /** @internal Records a change at the leader: the document and the outbox entry, atomically. */
  record(change: Omit<ChangeRecord, "offset" | "timestampMs">): Promise<number> {
    // Serialized so offsets are consecutive.
    const next = this.#queue.then(async () => {
      const offset = (await this.offset()) + 1;
      const full: ChangeRecord = { ...change, offset, timestampMs: Date.now() };
      await this.storage.commit([
        {
          key: docKey(change.collection, change.key),
          value: change.value === undefined ? undefined : te.encode(change.value),
        },
        { key: [...OUTBOX, offset], value: te.encode(JSON.stringify(full)) },
        { key: OFFSET, value: te.encode(String(offset)) },
      ]);
      for (const listener of this.#listeners) listener(full);
      return offset;
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /**
   * Applies changes pulled from the leader, with the new offset, in one atomic write. Every
   * change must follow on from the current offset, and name a registered collection.
   *
   * @param changes Consecutive changes.
   * @param history The leader's history: stored with the first changes, and checked after.
   * @returns The new offset.
   * @throws {CollectionError} On a gap, an unregistered collection or another history; nothing
   *   is applied.
   */
  async applyChanges(changes: readonly ChangeRecord[], history?: string): Promise<number> {
    const current = await this.offset();
    const stored = await this.storedHistory();
    // Offset 0 with no history is a fresh follower: it adopts the leader's with these changes.
    if (history !== undefined && (stored ?? (current > 0 ? "none" : history)) !== history) {
      throw new CollectionError(
        `history_mismatch: offset ${current} belongs to history ${
          stored ?? "none"
        }, the changes to ${history}`,
      );
    }
    const writes: DocWrite[] = [];
    let expected = current + 1;
    for (const c of changes) {
      if (c.offset < expected) continue; // already applied (a retried batch)
      if (c.offset !== expected) {
        throw new CollectionError(`Change ${c.offset} does not follow offset ${expected - 1}`);
      }
      const def = this.#collections.get(c.collection);
      if (!def) {
        throw new CollectionError(
          `Change ${c.offset} is for collection "${c.collection}", which is not registered here`,
        );
      }
      if (c.op === "put") def.validate?.(JSON.parse(c.value ?? "null"));
      writes.push({
        key: docKey(c.collection, c.key),
        value: c.op === "put" ? te.encode(c.value ?? "null") : undefined,
      });
      expected++;
    }
    if (writes.length === 0) return current;
    writes.push({ key: OFFSET, value: te.encode(String(expected - 1)) });
    if (history !== undefined && stored === undefined) {
      writes.push({ key: HISTORY, value: te.encode(history) });
    }
    await this.storage.commit(writes);
    return expected - 1;
  }

  /** Closes the storage. */
  close(): Promise<void> {
    return this.storage.close();
  }
}
