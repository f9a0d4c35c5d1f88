/**
 * The PrkDB client: string or byte keys and values, the three read modes, timeouts and
 * `AbortSignal`, retries with backoff on retryable errors only, and routing straight to each
 * partition's leader.
 *
 * @module
 */
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { partitionForKey } from "../partition/hash.ts";
import { KvService, ReadMode as WireReadMode } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { type TlsHttp, tlsHttp } from "../rpc/tls.ts";

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

/**
 * How to read (see the design guide): `linearizable` at the leader (default), `follower` at a
 * replica via ReadIndex (also linearizable), `stale` from any replica's local state.
 *
 * @example Usage
 * ```ts
 * import type { ReadMode } from "@prkdb/prkdb/client";
 * const mode: ReadMode = "stale";
 * ```
 */
export type ReadMode = "linearizable" | "follower" | "stale";

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
   * TLS for `https://` nodes, as PEM text: the cluster CA to trust and, optionally, a client
   * certificate and key (its OU names the role: `read-write`, `read-only`).
   */
  tls?: { ca: string; cert?: string; key?: string };
  /** A bearer token, sent as `Authorization: Bearer <token>` (instead of a client certificate). */
  token?: string;
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

/**
 * A failed call. `code` is the Connect code (`invalid_argument`, `unavailable`,
 * `deadline_exceeded`, ...); `retryable` says whether trying again later can help.
 *
 * @example Usage
 * ```ts
 * import { PrkDbError } from "@prkdb/prkdb/client";
 * const e = new PrkDbError("key is empty", "invalid_argument", false);
 * console.log(e.retryable); // false
 * ```
 */
export class PrkDbError extends Error {
  /** The Connect error code. */
  readonly code: string;
  /** Whether retrying later can help. */
  readonly retryable: boolean;

  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param code The Connect code.
   * @param retryable Whether a retry may succeed.
   */
  constructor(message: string, code: string, retryable: boolean) {
    super(message);
    this.name = "PrkDbError";
    this.code = code;
    this.retryable = retryable;
  }
}

const RETRYABLE = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Aborted,
  Code.ResourceExhausted,
]);
const te = new TextEncoder();
const td = new TextDecoder();
const bytes = (v: string | Uint8Array) => (typeof v === "string" ? te.encode(v) : v);
const MODES: Record<ReadMode, WireReadMode> = {
  linearizable: WireReadMode.LINEARIZABLE,
  follower: WireReadMode.FOLLOWER,
  stale: WireReadMode.STALE,
};

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
  readonly #o: Required<Omit<ClientOptions, "tls" | "token">> & ClientOptions;
  readonly #http: TlsHttp | undefined;
  readonly #seeds: string[];
  readonly #clients = new Map<string, Client<typeof KvService>>();
  /** Nodes that just failed or hung, by URL, and until when to avoid them. */
  readonly #suspect = new Map<string, number>();
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
      ...options,
    };
    this.#http = options.tls ? tlsHttp({ current: options.tls }) : undefined;
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
   * Writes a key. Retried on retryable errors: a put is idempotent.
   *
   * @param key The key (a string is UTF-8 encoded).
   * @param value The value.
   * @param options Signal and timeout.
   * @returns The partition and the log index the write committed at.
   */
  async put(
    key: string | Uint8Array,
    value: string | Uint8Array,
    options: CallOptions = {},
  ): Promise<{ partition: number; index: number }> {
    const k = bytes(key);
    const r = await this.#call(
      k,
      "leader",
      options,
      (c, signal) => c.put({ key: k, value: bytes(value) }, { signal }),
    );
    return { partition: r.partition, index: Number(r.index) };
  }

  /**
   * Reads a key.
   *
   * @param key The key.
   * @param options Read mode, signal and timeout.
   * @returns The value, or `undefined` when absent.
   */
  async get(
    key: string | Uint8Array,
    options: CallOptions & { readMode?: ReadMode } = {},
  ): Promise<Uint8Array | undefined> {
    const k = bytes(key);
    const mode = options.readMode ?? "linearizable";
    const r = await this.#call(
      k,
      mode === "linearizable" ? "leader" : "replica",
      options,
      (c, signal) => c.get({ key: k, readMode: MODES[mode] }, { signal }),
    );
    return r.found ? r.value : undefined;
  }

  /**
   * Reads a key as UTF-8 text.
   *
   * @param key The key.
   * @param options Read mode, signal and timeout.
   * @returns The text, or `undefined` when absent.
   */
  async getText(
    key: string | Uint8Array,
    options: CallOptions & { readMode?: ReadMode } = {},
  ): Promise<string | undefined> {
    const value = await this.get(key, options);
    return value === undefined ? undefined : td.decode(value);
  }

  /**
   * Deletes a key.
   *
   * @param key The key.
   * @param options Signal and timeout.
   * @returns Whether the key existed (after a retry, the first attempt may have deleted it).
   */
  async delete(key: string | Uint8Array, options: CallOptions = {}): Promise<boolean> {
    const k = bytes(key);
    return (await this.#call(k, "leader", options, (c, signal) => c.delete({ key: k }, { signal })))
      .found;
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
            fetch: this.#http?.fetch,
            interceptors: this.#o.token ? [bearer(this.#o.token)] : [],
          }),
        ),
      );
    }
    return c;
  }

  #healthy(url: string | undefined): boolean {
    return url !== undefined && (this.#suspect.get(url) ?? 0) < Date.now();
  }

  /**
   * Picks the node for a key: its leader, or one of its replicas (any node forwards to the
   * leader). Nodes that just failed or hung are avoided while another choice exists.
   */
  #route(key: Uint8Array, target: "leader" | "replica", attempt: number): string {
    const info = this.#info;
    const p = info.partitions[partitionForKey(key, info.partitions.length)];
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
    key: Uint8Array,
    target: "leader" | "replica",
    options: CallOptions,
    fn: (client: Client<typeof KvService>, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.#info.partitions.length === 0) await this.refresh();
    const budget = options.timeoutMs ?? this.#o.timeoutMs;
    const timeout = AbortSignal.timeout(budget);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let delay = this.#o.backoffMs;
    for (let attempt = 0;; attempt++) {
      const url = this.#route(key, target, attempt);
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

/** Turns whatever a call threw into a {@linkcode PrkDbError} with the right `retryable`. */
function classify(
  error: unknown,
  url: string,
  attemptTimedOutAfter: number | undefined,
): PrkDbError {
  if (attemptTimedOutAfter !== undefined) {
    return new PrkDbError(
      `${url} did not answer within ${attemptTimedOutAfter} ms`,
      "deadline_exceeded",
      true,
    );
  }
  const e = ConnectError.from(error);
  // A refused or reset connection surfaces as "unknown": the node is down, try another.
  const network = e.code === Code.Unknown &&
    (e.cause instanceof TypeError || /fetch failed|connection/i.test(e.rawMessage));
  if (network) return new PrkDbError(`${url} is unreachable: ${e.rawMessage}`, "unavailable", true);
  const code = Code[e.code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
  return new PrkDbError(e.rawMessage, code, RETRYABLE.has(e.code));
}
