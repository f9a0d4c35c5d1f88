/**
 * The shapes the client takes and returns.
 *
 * @module
 */

/**
 * Options for `PrkDbClient.connect`.
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
  /** Attempts per call, the first included. Default 100: in practice `timeoutMs` bounds a call. */
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
  /** The key's bytes: a string's UTF-8, or a tuple's encoding (`decodeKey` reads it back). */
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
