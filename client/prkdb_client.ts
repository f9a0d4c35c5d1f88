/**
 * The PrkDB client: string, byte or tuple keys, string or byte values, versions, conditional
 * and atomic writes, the three read modes, timeouts and `AbortSignal`, retries with backoff on
 * retryable errors only, and routing straight to each partition's leader.
 *
 * Every write goes through a client session, so a write retried after a timeout or a failover
 * is applied at most once, and answered with the result of its first application.
 *
 * @module
 */
import type { Client } from "@connectrpc/connect";
import { partitionForKey } from "../partition/hash.ts";
import { parseReadMode, type ReadMode } from "../partition/read_mode.ts";
import {
  type KvService,
  Mutation_Type,
  ReadMode as WireReadMode,
  type Session as WireSession,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { AtomicOperation, type AtomicStep, type CommitResult } from "./atomic_operation.ts";
import { keyBytes, type KeyLike, valueBytes, type ValueLike } from "./keys.ts";
import { encodeKeyPrefix, type Key } from "../partition/key_codec.ts";
import { ClientSession } from "./client_sessions.ts";
import { type Attempt, ClusterRouter, type RouterOptions } from "./cluster_router.ts";
import { type TlsHttp, tlsHttp } from "../rpc/tls.ts";
import { PrkDbError } from "./errors.ts";
import { decodeCursor, ListIterator, type ListSelector } from "./list_iterator.ts";
import { type WatchSelector, WatchStream } from "./watch_stream.ts";
import type {
  CallOptions,
  ClientOptions,
  ClusterInfo,
  DeleteResult,
  KvEntry,
  PutResult,
  WriteOptions,
} from "./types.ts";

export type { ReadMode };

const td = new TextDecoder();
const MODES: Record<ReadMode, WireReadMode> = {
  linearizable: WireReadMode.LINEARIZABLE,
  follower: WireReadMode.FOLLOWER,
  stale: WireReadMode.STALE,
};

/**
 * A client for a PrkDB cluster.
 *
 * @example Connect, write, read
 * ```ts ignore
 * import { PrkDbClient } from "@prkdb/prkdb/client";
 * const db = await PrkDbClient.connect(["http://127.0.0.1:8081", "http://127.0.0.1:8082"]);
 * await db.put("user:1", JSON.stringify({ name: "Ada" }));
 * console.log(await db.getText("user:1"));
 * console.log(await db.getText("user:1", { readMode: "stale" }));
 * await db.delete("user:1");
 * ```
 */
export class PrkDbClient {
  readonly #o: RouterOptions;
  readonly #router: ClusterRouter;
  readonly #http: TlsHttp | undefined;
  readonly #sessions = new Map<number, ClientSession>();
  readonly #opening = new Map<number, Promise<ClientSession>>();

  private constructor(seeds: string[], options: ClientOptions) {
    this.#o = {
      timeoutMs: 5000,
      maxAttempts: 100,
      backoffMs: 50,
      maxBackoffMs: 1000,
      attemptTimeoutMs: 1000,
      sessionTimeoutMs: 10 * 60 * 1000,
      ...options,
    };
    this.#http = options.tls ? tlsHttp({ current: options.tls }) : undefined;
    this.#router = new ClusterRouter(seeds, {
      ...this.#o,
      fetch: this.#http?.fetch ?? this.#o.fetch,
    });
  }

  /** Releases the client's TLS connections. */
  close(): void {
    this.#http?.close();
  }

  /**
   * Connects to a cluster through any of the given nodes and learns its layout.
   *
   * @param urls Base URLs of one or more nodes, for example `http://127.0.0.1:8081`.
   * @param options Timeouts and retries.
   * @returns A connected client.
   * @throws {PrkDbError} `invalid_argument` for a URL that is not `http://host:port` or
   *   `https://host:port`; `unavailable` when no node answers.
   */
  static async connect(urls: readonly string[], options: ClientOptions = {}): Promise<PrkDbClient> {
    if (urls.length === 0) {
      throw new PrkDbError("Give at least one node URL", "invalid_argument", false);
    }
    const client = new PrkDbClient(urls.map(nodeUrl), options);
    await client.refresh();
    return client;
  }

  /** The cluster layout as last seen. */
  get cluster(): ClusterInfo {
    return this.#router.info;
  }

  /**
   * Writes a key. A retried write is applied at most once (it carries its session and
   * sequence number).
   *
   * @param key The key: a string (UTF-8 encoded), bytes, or a tuple like `["users", 42]`.
   * @param value The value.
   * @param options `ifVersion`, signal and timeout.
   * @returns Whether it was written, the new version, the partition and the log index.
   */
  async put(
    key: KeyLike,
    value: ValueLike,
    options: WriteOptions & { expireIn?: number } = {},
  ): Promise<PutResult> {
    const k = keyBytes(key);
    const v = valueBytes(value);
    const ifVersion = wireVersion(options.ifVersion);
    const expireInMs = expireIn(options.expireIn);
    const r = await this.#write(
      this.#partitionOf(k),
      options,
      (c, session, attempt) => c.put({ key: k, value: v, session, ifVersion, expireInMs }, attempt),
    );
    return { ok: r.ok, version: r.version || null, partition: r.partition, index: Number(r.index) };
  }

  /**
   * Reads a key with its version.
   *
   * @param key The key.
   * @param options Read mode, signal and timeout.
   * @returns The entry; `value` and `version` are `null` when the key is absent.
   */
  async get(
    key: KeyLike,
    options: CallOptions & { readMode?: ReadMode } = {},
  ): Promise<KvEntry> {
    const k = keyBytes(key);
    const mode = this.#readMode(options.readMode);
    const r = await this.#router.call(
      this.#partitionOf(k),
      mode === "linearizable" ? "leader" : "replica",
      options,
      (c, attempt) => c.get({ key: k, readMode: MODES[mode] }, attempt),
    );
    return r.found
      ? { key: k, value: r.value, version: r.version || null }
      : { key: k, value: null, version: null };
  }

  /**
   * Reads a key's value as UTF-8 text.
   *
   * @param key The key.
   * @param options Read mode, signal and timeout.
   * @returns The text, or `undefined` when absent.
   */
  async getText(
    key: KeyLike,
    options: CallOptions & { readMode?: ReadMode } = {},
  ): Promise<string | undefined> {
    const { value } = await this.get(key, options);
    return value === null ? undefined : td.decode(value);
  }

  /**
   * Deletes a key. A retried delete is applied at most once, and `found` reports what its
   * first application saw.
   *
   * @param key The key.
   * @param options `ifVersion`, signal and timeout.
   * @returns Whether it was applied and whether the key existed.
   */
  async delete(key: KeyLike, options: WriteOptions = {}): Promise<DeleteResult> {
    const k = keyBytes(key);
    const ifVersion = wireVersion(options.ifVersion);
    const r = await this.#write(
      this.#partitionOf(k),
      options,
      (c, session, attempt) => c.delete({ key: k, session, ifVersion }, attempt),
    );
    return { ok: r.ok, found: r.found };
  }

  /**
   * Starts an atomic write: checks and mutations applied as one log entry, all or nothing.
   * Every key must fall into one partition: give related keys the same hash tag (only the
   * text between the first `{` and the next `}` is hashed), like `{user:42}:profile` and
   * `{user:42}:orders`.
   *
   * @param options Signal and timeout for the commit.
   * @returns The operation to add checks and mutations to.
   */
  atomic(options: CallOptions = {}): AtomicOperation {
    return new AtomicOperation((steps) => this.#commit(steps, options));
  }

  async #commit(steps: readonly AtomicStep[], options: CallOptions): Promise<CommitResult> {
    const checks = steps.flatMap((s) =>
      s.kind === "check" ? [{ key: keyBytes(s.key), version: s.version ?? "" }] : []
    );
    const mutations = steps.flatMap((s) =>
      s.kind === "set"
        ? [{
          type: Mutation_Type.SET,
          key: keyBytes(s.key),
          value: valueBytes(s.value),
          expireInMs: expireIn(s.expireIn),
        }]
        : s.kind === "delete"
        ? [{ type: Mutation_Type.DELETE, key: keyBytes(s.key) }]
        : []
    );
    const first = checks[0]?.key ?? mutations[0]?.key;
    if (!first) {
      throw new PrkDbError(
        "An atomic write needs a check or a mutation",
        "invalid_argument",
        false,
      );
    }
    const r = await this.#write(
      this.#partitionOf(first),
      options,
      (c, session, attempt) => c.atomic({ checks, mutations, session }, attempt),
    );
    const at = { partition: r.partition, index: Number(r.index) };
    return r.ok
      ? { ok: true, version: r.version, ...at }
      : { ok: false, failedCheck: r.failedCheck, ...at };
  }

  #readMode(mode: ReadMode | undefined): ReadMode {
    try {
      return parseReadMode(mode ?? "linearizable");
    } catch (error) {
      throw new PrkDbError((error as Error).message, "invalid_argument", false);
    }
  }

  /**
   * Reads several keys at once, from all their partitions in parallel. In linearizable mode
   * every partition involved does one ReadIndex round for all of its keys.
   *
   * @param keys The keys.
   * @param options Read mode, signal and timeout.
   * @returns One entry per key, in the order asked.
   */
  async getMany(
    keys: readonly KeyLike[],
    options: CallOptions & { readMode?: ReadMode } = {},
  ): Promise<KvEntry[]> {
    const ks = keys.map(keyBytes);
    if (ks.length === 0) return [];
    const mode = this.#readMode(options.readMode);
    const r = await this.#router.call(
      this.#partitionOf(ks[0]),
      mode === "linearizable" ? "leader" : "replica",
      options,
      (c, attempt) => c.getMany({ keys: ks, readMode: MODES[mode] }, attempt),
    );
    return r.entries.map((e, i) =>
      e.found
        ? { key: ks[i], value: e.value, version: e.version || null }
        : { key: ks[i], value: null, version: null }
    );
  }

  /**
   * Lists keys in byte order, page by page, as an async iterator. Keys live in many
   * partitions: each page merges them, each partition read consistently in the chosen mode
   * (the page as a whole is not one snapshot). Paging by cursor never skips or repeats a key
   * that exists throughout the listing.
   *
   * @param selector `{ prefix }` or `{ start, end }` (end exclusive).
   * @param options `limit` (all entries by default), `reverse`, `cursor` (from a previous
   *   iterator), `batchSize` (entries per page, default 100), read mode, signal and timeout.
   * @returns The entries, in order.
   */
  list(
    selector: ListSelector,
    options: CallOptions & {
      limit?: number;
      reverse?: boolean;
      cursor?: string;
      batchSize?: number;
      readMode?: ReadMode;
    } = {},
  ): ListIterator {
    const mode = this.#readMode(options.readMode);
    const range = "prefix" in selector ? { prefix: prefixBytes(selector.prefix) } : {
      start: keyBytes(selector.start),
      end: selector.end === undefined ? undefined : keyBytes(selector.end),
    };
    return new ListIterator(
      (cursor) =>
        this.#router.call(
          0,
          "replica",
          options,
          // A listing spans partitions: no one leader to learn from its answer.
          (c, { signal }) =>
            c.list({
              ...range,
              limit: Math.min(options.batchSize ?? 100, options.limit ?? Infinity),
              reverse: options.reverse ?? false,
              cursor,
              readMode: MODES[mode],
            }, { signal }),
        ),
      decodeCursor(options.cursor),
      options.limit ?? Infinity,
    );
  }

  /**
   * Follows a key, a prefix or a range as it changes: puts, deletes and expiries, in version
   * order per partition. It reconnects to another node on failures and resumes where it was,
   * with no gap and no duplicate. Pass `from` (a list's or an earlier watch's `positions`) to
   * start there; otherwise it starts now. When that history was compacted away, iteration
   * fails with a `PrkDbError` of kind `compacted`: list again, then watch from the list's
   * positions.
   *
   * @param selector `{ key }`, `{ prefix }` or `{ start, end }`.
   * @param options `from` positions, and the signal that ends the watch.
   * @returns The changes, as an async iterable.
   */
  watch(
    selector: WatchSelector,
    options: { from?: readonly string[]; signal?: AbortSignal } = {},
  ): WatchStream {
    const request = "key" in selector
      ? { key: keyBytes(selector.key), start: new Uint8Array(), end: new Uint8Array() }
      : "prefix" in selector
      ? { prefix: prefixBytes(selector.prefix), start: new Uint8Array(), end: new Uint8Array() }
      : {
        start: keyBytes(selector.start),
        end: selector.end === undefined ? new Uint8Array() : keyBytes(selector.end),
      };
    const routeBy = "key" in selector ? this.#partitionOf(keyBytes(selector.key)) : 0;
    return new WatchStream(this.#router, request, routeBy, options.from ?? [], options.signal);
  }

  /**
   * Re-reads the cluster layout and leaders from any reachable node.
   *
   * @returns The layout.
   */
  refresh(): Promise<ClusterInfo> {
    return this.#router.refresh();
  }

  #partitionOf(key: Uint8Array): number {
    return partitionForKey(key, Math.max(1, this.#router.info.partitions.length));
  }

  /**
   * Sends a write within the partition's session, opening one first if needed. When the
   * cluster reports the session expired and no earlier attempt can have been applied, the
   * write is sent again under a new session; otherwise its outcome is unknown, and the error
   * says so.
   */
  async #write<T>(
    partition: number,
    options: CallOptions,
    send: (c: Client<typeof KvService>, session: WireSession, attempt: Attempt) => Promise<T>,
  ): Promise<T> {
    for (let fresh = 0;; fresh++) {
      const session = await this.#session(partition, options);
      const seq = session.begin();
      let ambiguous = false;
      try {
        return await this.#router.call(partition, "leader", options, (c, attempt) => {
          const ref = session.ref(seq);
          const wire = {
            id: BigInt(ref.id),
            seq: BigInt(ref.seq),
            firstIncomplete: BigInt(ref.firstIncomplete),
          } as WireSession;
          return send(c, wire, attempt);
        }, (e) => {
          if (e.retryable) ambiguous = true;
        });
      } catch (error) {
        if (error instanceof PrkDbError && error.kind === "stale_request") {
          // The partition forgot this write's result: an earlier attempt may have applied it.
          throw new PrkDbError(error.message, "aborted", false, "outcome_unknown");
        }
        if (!(error instanceof PrkDbError) || error.kind !== "session_expired") throw error;
        if (this.#sessions.get(partition) === session) this.#sessions.delete(partition);
        if (ambiguous || fresh > 0) {
          throw new PrkDbError(
            `The session of partition ${partition} expired while the write was being retried: ` +
              "it may or may not have been applied",
            "aborted",
            false,
            "outcome_unknown",
          );
        }
      } finally {
        session.end(seq);
      }
    }
  }

  /** The partition's session, opened through its log on first use. */
  #session(partition: number, options: CallOptions): Promise<ClientSession> {
    const known = this.#sessions.get(partition);
    if (known) return Promise.resolve(known);
    let opening = this.#opening.get(partition);
    if (!opening) {
      opening = this.#router.call(
        partition,
        "leader",
        options,
        (c, attempt) => c.openSession({ partition, timeoutMs: this.#o.sessionTimeoutMs }, attempt),
      ).then((r) => {
        const session = new ClientSession(Number(r.id));
        this.#sessions.set(partition, session);
        return session;
      }).finally(() => this.#opening.delete(partition));
      this.#opening.set(partition, opening);
    }
    return opening;
  }
}

/** A TTL on the wire: milliseconds, 0 for none; a bad one is refused before it is sent. */
function expireIn(ms: number | undefined): bigint {
  if (ms === undefined) return 0n;
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new PrkDbError(
      `expireIn must be a positive number of milliseconds, got ${ms}`,
      "invalid_argument",
      false,
    );
  }
  return BigInt(ms);
}

/** A node's base URL, checked: `http://host:port` or `https://host:port`, nothing after. */
function nodeUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch { /* reported below */ }
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") {
    const bare = String(url).replace(/^[a-z+]*:\/\//i, "");
    throw new PrkDbError(
      `Node URL "${url}" needs an http:// or https:// scheme: write "http://${bare}" ` +
        `(or "https://${bare}" for a cluster with TLS)`,
      "invalid_argument",
      false,
    );
  }
  if (parsed.pathname !== "/" || parsed.search || parsed.hash) {
    throw new PrkDbError(
      `Node URL "${url}" must be a base URL like "${parsed.origin}", with no path or query`,
      "invalid_argument",
      false,
    );
  }
  return url.replace(/\/+$/, "");
}

/** A prefix to list or watch: a tuple's encoded prefix, or a string's or bytes' own bytes. */
function prefixBytes(prefix: KeyLike): Uint8Array {
  return Array.isArray(prefix) ? encodeKeyPrefix(prefix as Key) : keyBytes(prefix);
}

/** `ifVersion` on the wire: unset, "" for absent, or the version. */
function wireVersion(v: string | null | undefined): string | undefined {
  return v === undefined ? undefined : v ?? "";
}
