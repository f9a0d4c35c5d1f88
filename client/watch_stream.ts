/**
 * Following keys as they change: an async iterable of events that reconnects to another node
 * when the one it follows fails, resuming from the last position it saw in each partition, so
 * no change is missed or repeated.
 *
 * @module
 */
import type { KeyLike } from "./keys.ts";
import { WatchEvent_Type, type WatchRequest } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import type { ClusterRouter } from "./cluster_router.ts";
import { classify } from "./errors.ts";

/**
 * One change seen by a watch: a put with its value, or a delete (an expiry too).
 *
 * @example Usage
 * ```ts
 * import type { WatchChange } from "@prkdb/prkdb/client";
 * function show(c: WatchChange): string {
 *   return `${c.type} at ${c.version}`;
 * }
 * ```
 */
export interface WatchChange {
  /** What happened to the key. */
  readonly type: "put" | "delete";
  /** The key. */
  readonly key: Uint8Array;
  /** The new value (for a put). */
  readonly value: Uint8Array | null;
  /** The version of the write. */
  readonly version: string;
}

/**
 * What to watch: one key, a prefix, or a range `[start, end)`.
 *
 * @example Usage
 * ```ts
 * import type { WatchSelector } from "@prkdb/prkdb/client";
 * const orders: WatchSelector = { prefix: "orders/" };
 * ```
 */
export type WatchSelector =
  | { readonly key: string | Uint8Array }
  | { readonly prefix: KeyLike }
  | { readonly start: KeyLike; readonly end?: KeyLike };

const partitionOf = (version: string) => Number.parseInt(version.slice(0, 4), 16);

/**
 * A watch. Iterate it for changes; `positions` says, per partition, the version followed so
 * far (pass it as `from` to a later watch to resume there).
 *
 * @example Usage
 * ```ts ignore
 * const ac = new AbortController();
 * for await (const change of db.watch({ prefix: "orders/" }, { signal: ac.signal })) {
 *   console.log(change.type, new TextDecoder().decode(change.key), change.version);
 * }
 * ```
 */
export class WatchStream implements AsyncIterable<WatchChange> {
  readonly #router: ClusterRouter;
  readonly #request: Omit<WatchRequest, "$typeName" | "from" | "partition">;
  readonly #partition: number;
  readonly #signal: AbortSignal | undefined;
  readonly #positions = new Map<number, string>();

  /**
   * Creates the watch; use `PrkDbClient.watch`.
   *
   * @param router How to reach the cluster.
   * @param request What to watch, on the wire.
   * @param routeBy The partition whose nodes to ask first.
   * @param from Versions to resume from, per partition.
   * @param signal Ends the watch.
   */
  constructor(
    router: ClusterRouter,
    request: Omit<WatchRequest, "$typeName" | "from" | "partition">,
    routeBy: number,
    from: readonly string[],
    signal: AbortSignal | undefined,
  ) {
    this.#router = router;
    this.#request = request;
    this.#partition = routeBy;
    this.#signal = signal;
    for (const v of from) this.#positions.set(partitionOf(v), v);
  }

  /** Per partition, the version followed so far. */
  get positions(): string[] {
    return [...this.#positions.values()];
  }

  /**
   * Yields changes until the signal aborts, reconnecting on failures.
   *
   * @returns The changes.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<WatchChange> {
    let failures = 0;
    while (!this.#signal?.aborted) {
      const url = this.#router.pick(this.#partition, "replica", failures);
      // One connection per attempt, closed whenever the attempt ends (error, abort or return),
      // so no response is left open behind a failed or finished stream.
      const connection = new AbortController();
      const signal = this.#signal
        ? AbortSignal.any([this.#signal, connection.signal])
        : connection.signal;
      try {
        const stream = this.#router.client(url).watch(
          { ...this.#request, from: this.positions },
          { signal },
        );
        for await (const e of stream) {
          failures = 0;
          this.#positions.set(partitionOf(e.version), e.version);
          if (e.type === WatchEvent_Type.PROGRESS) continue;
          yield {
            type: e.type === WatchEvent_Type.PUT ? "put" : "delete",
            key: e.key,
            value: e.type === WatchEvent_Type.PUT ? e.value : null,
            version: e.version,
          };
        }
      } catch (error) {
        if (this.#signal?.aborted) return;
        const e = classify(error, url, undefined);
        if (!e.retryable) throw e;
        this.#router.suspect(url);
        failures++;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** failures)));
        await this.#router.refresh().catch(() => {});
        continue;
      } finally {
        connection.abort();
      }
      if (this.#signal?.aborted) return;
      // The node ended the stream (it is shutting down): follow on from another.
      failures++;
    }
  }
}
