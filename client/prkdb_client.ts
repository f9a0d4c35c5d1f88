/**
 * The PrkDB client: string or byte keys and values, versions, conditional and atomic writes,
 * the three read modes, timeouts and `AbortSignal`, retries with backoff on retryable errors
 * only, and routing straight to each partition's leader.
 *
 * Every write goes through a client session, so a write retried after a timeout or a failover
 * is applied at most once, and answered with the result of its first application.
 *
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { partitionForKey } from "../partition/hash.ts";
import { parseReadMode, type ReadMode } from "../partition/read_mode.ts";
import {
  KvService,
  Mutation_Type,
  ReadMode as WireReadMode,
  type Session as WireSession,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import {
  AtomicOperation,
  type AtomicStep,
  type CommitResult,
  type KeyLike,
} from "./atomic_operation.ts";
import { ClientSession } from "./client_sessions.ts";
import { classify, PrkDbError } from "./errors.ts";

export type { ReadMode };

/**
 * Options for {@linkcode PrkDbClient.connect}.
 *
 * @example Usage
 * ```ts
 * import type { ClientOptions } from "@prkdb/prkdb/client";
 * const options: ClientOptions = { timeoutMs: 2000, maxAttempts: 8 };
 * ```
 */
export interface ClientOptions {
  /** Default time a call may take, retries included. Default 5000 ms. */
  timeoutMs?: number;
  /** Attempts per call, the first included. Default 6. */
  maxAttempts?: number;
  /** First retry delay; it doubles each time, with jitter. Default 50 ms. */
  backoffMs?: number;
  /** Longest retry delay. Default 1000 ms. */
  maxBackoffMs?: number;
  /**
   * Longest a single attempt may take before the client tries another node. A paused node
   * (a GC pause, SIGSTOP) accepts connections but never answers. Default 1000 ms.
   */
  attemptTimeoutMs?: number;
  /**
   * How long a write session may stay idle before the cluster forgets it. Default 10 minutes.
   * After that the next write opens a new session, transparently when that is safe.
   */
  sessionTimeoutMs?: number;
  /** The `fetch` used for every call (for a custom HTTP client, a proxy, or tracing). */
  fetch?: typeof fetch;
}

/**
 * Per-call options.
 *
 * @example Usage
 * ```ts
 * import type { CallOptions } from "@prkdb/prkdb/client";
 * const options: CallOptions = { timeoutMs: 500, signal: AbortSignal.timeout(1000) };
 * ```
 */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

const te = new TextEncoder();
const td = new TextDecoder();
const bytes = (v: KeyLike) => (typeof v === "string" ? te.encode(v) : v);
const MODES: Record<ReadMode, WireReadMode> = {
  linearizable: WireReadMode.LINEARIZABLE,
  follower: WireReadMode.FOLLOWER,
  stale: WireReadMode.STALE,
};

/**
 * Options of a write.
 *
 * @example Usage
 * ```ts
 * import type { WriteOptions } from "@prkdb/prkdb/client";
 * const onlyIfNew: WriteOptions = { ifVersion: null };
 * ```
 */
export interface WriteOptions extends CallOptions {
  /** Apply only if the key is at this version; `null`: only if the key is absent. */
  ifVersion?: string | null;
}

/**
 * What a put did. `ok` is false when `ifVersion` did not hold, and nothing was written.
 *
 * @example Usage
 * ```ts
 * import type { PutResult } from "@prkdb/prkdb/client";
 * ```
 */
export interface PutResult {
  /** Whether the value was written. */
  readonly ok: boolean;
  /** The key's new version, when written. */
  readonly version: string | null;
  /** The key's partition. */
  readonly partition: number;
  /** The log index of the write. */
  readonly index: number;
}

/**
 * What a delete did.
 *
 * @example Usage
 * ```ts
 * import type { DeleteResult } from "@prkdb/prkdb/client";
 * ```
 */
export interface DeleteResult {
  /** Whether the delete was applied (false when `ifVersion` did not hold). */
  readonly ok: boolean;
  /** Whether the key existed when the delete first applied. */
  readonly found: boolean;
}

/**
 * A key as read: its value and version, both `null` when the key is absent. Pass it to
 * `atomic().check()` to write only if the key did not change since.
 *
 * @example Usage
 * ```ts
 * import type { KvEntry } from "@prkdb/prkdb/client";
 * ```
 */
export interface KvEntry {
  /** The key. */
  readonly key: Uint8Array;
  /** The value, or `null` when absent. */
  readonly value: Uint8Array | null;
  /** The version of the key's last write, or `null` when absent. */
  readonly version: string | null;
}

/**
 * What the cluster looks like, from `ClusterInfo`.
 *
 * @example Usage
 * ```ts
 * import type { ClusterInfo } from "@prkdb/prkdb/client";
 * ```
 */
export interface ClusterInfo {
  /** Node ids and their URLs. */
  readonly nodes: ReadonlyMap<number, string>;
  /** Per partition: replicas and the leader (`0` when unknown). */
  readonly partitions: readonly {
    partition: number;
    replicas: number[];
    leader: number;
    term: number;
  }[];
}

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
  readonly #o: Required<Omit<ClientOptions, "fetch">> & Pick<ClientOptions, "fetch">;
  readonly #seeds: string[];
  readonly #clients = new Map<string, Client<typeof KvService>>();
  /** Nodes that just failed or hung, by URL, and until when to avoid them. */
  readonly #suspect = new Map<string, number>();
  readonly #sessions = new Map<number, ClientSession>();
  readonly #opening = new Map<number, Promise<ClientSession>>();
  #info: ClusterInfo;

  private constructor(seeds: string[], info: ClusterInfo, options: ClientOptions) {
    this.#seeds = seeds;
    this.#info = info;
    this.#o = {
      timeoutMs: 5000,
      maxAttempts: 6,
      backoffMs: 50,
      maxBackoffMs: 1000,
      attemptTimeoutMs: 1000,
      sessionTimeoutMs: 10 * 60 * 1000,
      ...options,
    };
  }

  /**
   * Connects to a cluster through any of the given nodes and learns its layout.
   *
   * @param urls Base URLs of one or more nodes, for example `http://127.0.0.1:8081`.
   * @param options Timeouts and retries.
   * @returns A connected client.
   * @throws {PrkDbError} When no node answers.
   */
  static async connect(urls: readonly string[], options: ClientOptions = {}): Promise<PrkDbClient> {
    if (urls.length === 0) {
      throw new PrkDbError("Give at least one node URL", "invalid_argument", false);
    }
    const client = new PrkDbClient([...urls], { nodes: new Map(), partitions: [] }, options);
    await client.refresh();
    return client;
  }

  /** The cluster layout as last seen. */
  get cluster(): ClusterInfo {
    return this.#info;
  }

  /**
   * Writes a key. A retried write is applied at most once (it carries its session and
   * sequence number).
   *
   * @param key The key (a string is UTF-8 encoded).
   * @param value The value.
   * @param options `ifVersion`, signal and timeout.
   * @returns Whether it was written, the new version, the partition and the log index.
   */
  async put(key: KeyLike, value: KeyLike, options: WriteOptions = {}): Promise<PutResult> {
    const k = bytes(key);
    const ifVersion = wireVersion(options.ifVersion);
    const r = await this.#write(
      this.#partitionOf(k),
      options,
      (c, session, signal) =>
        c.put({ key: k, value: bytes(value), session, ifVersion }, { signal }),
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
    const k = bytes(key);
    const mode = this.#readMode(options.readMode);
    const r = await this.#call(
      this.#partitionOf(k),
      mode === "linearizable" ? "leader" : "replica",
      options,
      (c, signal) => c.get({ key: k, readMode: MODES[mode] }, { signal }),
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
    const k = bytes(key);
    const ifVersion = wireVersion(options.ifVersion);
    const r = await this.#write(
      this.#partitionOf(k),
      options,
      (c, session, signal) => c.delete({ key: k, session, ifVersion }, { signal }),
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
      s.kind === "check" ? [{ key: bytes(s.key), version: s.version ?? "" }] : []
    );
    const mutations = steps.flatMap((s) =>
      s.kind === "set"
        ? [{ type: Mutation_Type.SET, key: bytes(s.key), value: bytes(s.value) }]
        : s.kind === "delete"
        ? [{ type: Mutation_Type.DELETE, key: bytes(s.key) }]
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
      (c, session, signal) => c.atomic({ checks, mutations, session }, { signal }),
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
   * Re-reads the cluster layout and leaders from any reachable node.
   *
   * @returns The layout.
   */
  async refresh(): Promise<ClusterInfo> {
    const all = [...new Set([...this.#info.nodes.values(), ...this.#seeds])];
    const urls = [...all.filter((u) => this.#healthy(u)), ...all.filter((u) => !this.#healthy(u))];
    let last: unknown;
    for (const url of urls) {
      try {
        const r = await this.#client(url).clusterInfo({}, { timeoutMs: this.#o.attemptTimeoutMs });
        this.#info = {
          nodes: new Map(
            r.nodes.map((
              n,
            ) => [n.id, n.address.startsWith("http") ? n.address : `http://${n.address}`]),
          ),
          partitions: r.partitions.map((p) => ({
            partition: p.partition,
            replicas: [...p.replicas],
            leader: p.leader,
            term: Number(p.term),
          })),
        };
        return this.#info;
      } catch (error) {
        last = error;
        this.#suspect.set(url, Date.now() + 2000);
      }
    }
    throw new PrkDbError(
      `No node answered (${urls.join(", ")}): ${(last as Error)?.message}`,
      "unavailable",
      true,
    );
  }

  #client(url: string): Client<typeof KvService> {
    let c = this.#clients.get(url);
    if (!c) {
      this.#clients.set(
        url,
        c = createClient(
          KvService,
          createConnectTransport({
            baseUrl: url,
            useBinaryFormat: true,
            ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
          }),
        ),
      );
    }
    return c;
  }

  #healthy(url: string | undefined): boolean {
    return url !== undefined && (this.#suspect.get(url) ?? 0) < Date.now();
  }

  #partitionOf(key: Uint8Array): number {
    return partitionForKey(key, Math.max(1, this.#info.partitions.length));
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
    send: (c: Client<typeof KvService>, session: WireSession, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    for (let fresh = 0;; fresh++) {
      const session = await this.#session(partition, options);
      const seq = session.begin();
      let ambiguous = false;
      try {
        return await this.#call(partition, "leader", options, (c, signal) => {
          const ref = session.ref(seq);
          const wire = {
            id: BigInt(ref.id),
            seq: BigInt(ref.seq),
            firstIncomplete: BigInt(ref.firstIncomplete),
          } as WireSession;
          return send(c, wire, signal);
        }, (e) => {
          if (e.retryable) ambiguous = true;
        });
      } catch (error) {
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
      opening = this.#call(
        partition,
        "leader",
        options,
        (c, signal) =>
          c.openSession({ partition, timeoutMs: this.#o.sessionTimeoutMs }, { signal }),
      ).then((r) => {
        const session = new ClientSession(Number(r.id));
        this.#sessions.set(partition, session);
        return session;
      }).finally(() => this.#opening.delete(partition));
      this.#opening.set(partition, opening);
    }
    return opening;
  }

  /**
   * Picks the node for a partition: its leader, or one of its replicas (any node forwards to
   * the leader). Nodes that just failed or hung are avoided while another choice exists.
   */
  #route(partition: number, target: "leader" | "replica", attempt: number): string {
    const info = this.#info;
    const p = info.partitions[partition];
    const leaderUrl = p?.leader ? info.nodes.get(p.leader) : undefined;
    if (target === "leader" && this.#healthy(leaderUrl)) return leaderUrl!;
    const replicas = p
      ? p.replicas.map((id) => info.nodes.get(id)).filter((u): u is string => !!u)
      : [];
    const candidates = [...new Set([...replicas, ...info.nodes.values(), ...this.#seeds])];
    const usable = candidates.filter((u) => this.#healthy(u));
    const pool = usable.length > 0 ? usable : candidates;
    return pool[(attempt + Math.floor(Math.random() * pool.length)) % pool.length];
  }

  async #call<T>(
    partition: number,
    target: "leader" | "replica",
    options: CallOptions,
    fn: (client: Client<typeof KvService>, signal: AbortSignal) => Promise<T>,
    onAttemptFailed?: (error: PrkDbError) => void,
  ): Promise<T> {
    if (this.#info.partitions.length === 0) await this.refresh();
    const budget = options.timeoutMs ?? this.#o.timeoutMs;
    const timeout = AbortSignal.timeout(budget);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let delay = this.#o.backoffMs;
    for (let attempt = 0;; attempt++) {
      const url = this.#route(partition, target, attempt);
      // Each attempt has its own deadline: a paused node accepts connections but never answers.
      const attemptSignal = AbortSignal.any([
        signal,
        AbortSignal.timeout(this.#o.attemptTimeoutMs),
      ]);
      try {
        return await fn(this.#client(url), attemptSignal);
      } catch (error) {
        if (signal.aborted) {
          const cancelled = options.signal?.aborted;
          throw new PrkDbError(
            cancelled
              ? "The call was cancelled"
              : `The call timed out after ${budget} ms (${attempt + 1} attempts)`,
            cancelled ? "canceled" : "deadline_exceeded",
            true,
          );
        }
        const e = classify(
          error,
          url,
          attemptSignal.aborted ? this.#o.attemptTimeoutMs : undefined,
        );
        onAttemptFailed?.(e);
        if (!e.retryable || attempt + 1 >= this.#o.maxAttempts) throw e;
        // Avoid that node for a while, learn where the leaders are now, then back off with jitter.
        if (e.code === "unavailable" || e.code === "deadline_exceeded") {
          this.#suspect.set(url, Date.now() + 2000);
        }
        await this.refresh().catch(() => {});
        await new Promise((r) => setTimeout(r, delay / 2 + (Math.random() * delay) / 2));
        delay = Math.min(delay * 2, this.#o.maxBackoffMs);
      }
    }
  }
}

/** `ifVersion` on the wire: unset, "" for absent, or the version. */
function wireVersion(v: string | null | undefined): string | undefined {
  return v === undefined ? undefined : v ?? "";
}
