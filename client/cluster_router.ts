/**
 * How the client reaches the cluster: it keeps the layout (nodes, partitions, leaders), sends
 * each call to the right node, gives every attempt its own deadline, avoids nodes that just
 * failed or hung, and retries retryable failures with backoff and jitter.
 *
 * @module
 */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { delay } from "@std/async";
import { KvService } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { LEADER_HEADER } from "../rpc/route_headers.ts";
import { classify, PrkDbError } from "./errors.ts";
import { kvClient } from "./unary_calls.ts";
import type { CallOptions, ClientOptions, ClusterInfo } from "./types.ts";

/** The `authorization` header's value for a bearer token. */
const bearerValue = (token: string) => `Bearer ${token}`;

/** Sends the client's bearer token with every streaming call. */
const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", bearerValue(token));
  return next(req);
};

/**
 * A `fetch` that cancels a response's body when the call's signal aborts after the response
 * arrived: an attempt given up at its deadline must not leave a connection's body unread.
 */
function closingOnAbort(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const signal = init?.signal;
    if (signal && response.body) {
      // A body already read (the usual end of a call) has nothing to cancel.
      const cancel = () => {
        if (!response.bodyUsed) response.body?.cancel().catch(() => {});
      };
      if (signal.aborted) cancel();
      else signal.addEventListener("abort", cancel, { once: true });
    }
    return response;
  };
}

/**
 * What one attempt of a call is given, to pass to the Connect method as its call options: the
 * attempt's signal, and a reader of the answer's headers (where a node that passed the call on
 * names the partition's leader).
 */
export interface Attempt {
  readonly signal: AbortSignal;
  readonly onHeader: (headers: Headers) => void;
}

/** Resolved client options. */
export type RouterOptions =
  & Required<Omit<ClientOptions, "fetch" | "tls" | "token">>
  & Pick<ClientOptions, "fetch" | "token">;

/**
 * Routes calls to a cluster's nodes.
 *
 * @example Usage
 * ```ts ignore
 * const router = new ClusterRouter(["http://127.0.0.1:8081"], options);
 * await router.refresh();
 * const r = await router.call(0, "leader", {}, (c, attempt) => c.get({ key }, attempt));
 * ```
 */
export class ClusterRouter {
  readonly #o: RouterOptions;
  readonly #seeds: string[];
  readonly #clients = new Map<string, Client<typeof KvService>>();
  /** Nodes that just failed or hung, by URL, and until when to avoid them. */
  readonly #suspect = new Map<string, number>();
  #info: ClusterInfo = { nodes: new Map(), partitions: [] };

  /**
   * Creates a router that knows only its seed URLs until {@linkcode refresh}.
   *
   * @param seeds Base URLs of some nodes.
   * @param options Timeouts, retries, and the `fetch` to use.
   */
  constructor(seeds: readonly string[], options: RouterOptions) {
    this.#seeds = [...seeds];
    this.#o = options;
  }

  /** The cluster layout as last seen. */
  get info(): ClusterInfo {
    return this.#info;
  }

  /**
   * Re-reads the cluster layout and leaders from any reachable node.
   *
   * @param signal Stops asking.
   * @returns The layout.
   */
  async refresh(signal?: AbortSignal): Promise<ClusterInfo> {
    const all = [...new Set([...this.#info.nodes.values(), ...this.#seeds])];
    const urls = [...all.filter((u) => this.#healthy(u)), ...all.filter((u) => !this.#healthy(u))];
    let last: unknown;
    for (const url of urls) {
      try {
        const r = await this.client(url).clusterInfo({}, {
          timeoutMs: this.#o.attemptTimeoutMs,
          signal,
        });
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
        if (signal?.aborted) throw error;
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

  client(url: string): Client<typeof KvService> {
    let c = this.#clients.get(url);
    if (!c) {
      const call = closingOnAbort(this.#o.fetch ?? fetch);
      const token = this.#o.token;
      // Unary calls make one `fetch` each; a watch streams through the generic client.
      const streaming = createClient(
        KvService,
        createConnectTransport({
          baseUrl: url,
          useBinaryFormat: true,
          fetch: call,
          interceptors: token ? [bearer(token)] : [],
        }),
      );
      c = kvClient(url, {
        fetch: call,
        headers: token ? { authorization: bearerValue(token) } : undefined,
      }, streaming);
      this.#clients.set(url, c);
    }
    return c;
  }

  /**
   * Takes a leader named by a node that passed a call on to it, and served: a hint without a
   * term, so it replaces only the leader, and only with a node the layout knows.
   */
  #follow(partition: number, hint: string): void {
    const id = Number(hint);
    const p = this.#info.partitions[partition];
    if (!p || p.leader === id || !Number.isSafeInteger(id) || !this.#info.nodes.has(id)) return;
    const partitions = [...this.#info.partitions];
    partitions[partition] = { ...p, leader: id };
    this.#info = { nodes: this.#info.nodes, partitions };
  }

  #healthy(url: string | undefined): boolean {
    return url !== undefined && (this.#suspect.get(url) ?? 0) < Date.now();
  }

  /**
   * Picks the node for a partition: its leader, or one of its replicas (any node forwards to
   * the leader). Nodes that just failed or hung are avoided while another choice exists.
   */
  /**
   * The node to try for a partition on a given attempt (see {@linkcode call}).
   *
   * @param partition The partition.
   * @param target Whether only its leader will do.
   * @param attempt How many attempts came before.
   * @returns A node's base URL.
   */
  pick(partition: number, target: "leader" | "replica", attempt: number): string {
    return this.#route(partition, target, attempt);
  }

  /**
   * Avoids a node for a while after it failed or hung.
   *
   * @param url The node's base URL.
   */
  suspect(url: string): void {
    this.#suspect.set(url, Date.now() + 2000);
  }

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

  /**
   * Calls a partition's leader (or any replica), retrying retryable failures on other nodes.
   *
   * @param partition The partition the call is about.
   * @param target Whether only the leader can serve it.
   * @param options The caller's signal and timeout.
   * @param fn The call, given a node's client and the attempt's call options.
   * @param onAttemptFailed Told of every failed attempt.
   * @returns What the call returned.
   */
  async call<T>(
    partition: number,
    target: "leader" | "replica",
    options: CallOptions,
    fn: (client: Client<typeof KvService>, attempt: Attempt) => Promise<T>,
    onAttemptFailed?: (error: PrkDbError) => void,
  ): Promise<T> {
    if (this.#info.partitions.length === 0) await this.refresh();
    const budget = options.timeoutMs ?? this.#o.timeoutMs;
    // The call ends at its deadline or when the caller cancels it; each attempt also at its own.
    const call = new Deadline(budget, options.signal);
    const signal = call.signal;
    let backoff = this.#o.backoffMs;
    try {
      for (let attempt = 0;; attempt++) {
        const url = this.#route(partition, target, attempt);
        // Each attempt has its own deadline: a paused node accepts connections but never answers.
        const attemptDeadline = new Deadline(this.#o.attemptTimeoutMs, signal);
        const stopped = () => {
          const cancelled = options.signal?.aborted;
          return new PrkDbError(
            cancelled
              ? "The call was cancelled"
              : `The call timed out after ${budget} ms (${attempt + 1} attempts)`,
            cancelled ? "canceled" : "deadline_exceeded",
            !cancelled,
          );
        };
        let leader: string | null = null;
        const onHeader = (headers: Headers) => {
          leader = headers.get(LEADER_HEADER);
        };
        try {
          const result = await fn(this.client(url), { signal: attemptDeadline.signal, onHeader });
          // The node passed the call on: its leader serves the partition's next calls directly.
          if (leader !== null) this.#follow(partition, leader);
          return result;
        } catch (error) {
          if (signal.aborted) throw stopped();
          const e = classify(
            error,
            url,
            attemptDeadline.signal.aborted ? this.#o.attemptTimeoutMs : undefined,
          );
          onAttemptFailed?.(e);
          if (!e.retryable || attempt + 1 >= this.#o.maxAttempts) throw e;
          // Avoid that node for a while, learn where the leaders are now, then back off with
          // jitter.
          if (e.code === "unavailable" || e.code === "deadline_exceeded") {
            this.#suspect.set(url, Date.now() + 2000);
          }
          // Cancelling or running out of time ends the wait at once, not after it.
          try {
            await this.refresh(signal).catch((e) => {
              if (signal.aborted) throw e;
            });
            await delay(backoff / 2 + (Math.random() * backoff) / 2, { signal });
          } catch {
            throw stopped();
          }
          backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
        } finally {
          attemptDeadline.end();
        }
      }
    } finally {
      call.end();
    }
  }
}

/**
 * A signal that aborts after `ms` or when `parent` does, whichever is first, until
 * {@linkcode Deadline.end}: one timer, cleared when the work is done. (`AbortSignal.timeout`
 * cannot be cleared: at thousands of calls a second, its timers pile up and each fires, with an
 * exception object, long after its call finished.)
 */
class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #parent: AbortSignal | undefined;
  readonly #onParent = () => this.#controller.abort(this.#parent?.reason);

  constructor(ms: number, parent: AbortSignal | undefined) {
    this.#parent = parent;
    this.#timer = setTimeout(
      () => this.#controller.abort(new DOMException("The deadline passed", "TimeoutError")),
      ms,
    );
    if (parent?.aborted) this.#onParent();
    else parent?.addEventListener("abort", this.#onParent, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Stops the timer and stops following the parent. */
  end(): void {
    clearTimeout(this.#timer);
    this.#parent?.removeEventListener("abort", this.#onParent);
  }
}
