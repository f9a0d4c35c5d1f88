/**
 * An asynchronous read replica of a Raft cluster: it pulls every partition's change feed (the
 * commands each partition applied, by log index) from any replica, applies them in order, and
 * serves local reads. It never slows the quorum down: it is not a member of any Raft group.
 *
 * What it guarantees:
 *
 * - **Monotonic reads per partition**: a partition's applied index only grows, and changes are
 *   applied strictly in log order, so a read never goes back in time within a partition.
 * - **Bounded lag**: it polls every `pollIntervalMs` and catches up without waiting while
 *   behind, so in steady state it trails by about one poll interval plus a round trip;
 *   `getHealth().lagSeconds` shows how long it has been behind.
 * - **No linearizability**: a read may miss recent writes, and two partitions may be at
 *   different points in time. Use the cluster's linearizable or follower reads when that matters.
 *
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { encodeCommand, partitionForKey } from "../partition/mod.ts";
import { KvStateMachine } from "../partition/kv_state_machine.ts";
import { KvService } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { type TlsHttp, tlsHttp } from "../rpc/tls.ts";
import { ReplicationService } from "../rpc/gen/prkdb/v1/replication_pb.ts";
import type { ReplicationHealth, ReplicationState } from "./replication_manager.ts";

/**
 * Options for {@linkcode RaftFollower}.
 *
 * @example Usage
 * ```ts
 * import type { RaftFollowerOptions } from "@prkdb/prkdb/async-replicas";
 * const o: RaftFollowerOptions = { id: "replica-eu", nodes: ["http://127.0.0.1:8081"] };
 * ```
 */
export interface RaftFollowerOptions {
  /** This replica's name. */
  readonly id: string;
  /** Base URLs of one or more cluster nodes. */
  readonly nodes: readonly string[];
  /** Time between polls when caught up. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Changes per request. Default 100. */
  readonly batchSize?: number;
  /** Timeout of one request. Default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * TLS for `https://` clusters, as PEM text: the cluster CA and a certificate whose OU is
   * `replica` (`certs init` makes `replica.pem`), unless a token is given instead.
   */
  readonly tls?: { ca: string; cert?: string; key?: string };
  /** A `replica` bearer token, sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
}

interface PartitionFeed {
  readonly sm: KvStateMachine;
  readonly replicas: string[];
  /** How far the serving replica had applied, at the last poll. */
  remoteApplied: number;
  /** When this partition fell behind (ms), 0 while caught up. */
  behindSince: number;
  attempt: number;
}

/**
 * Follows every partition of a Raft cluster.
 *
 * @example Follow a cluster (with `deno task cluster` running)
 * ```ts ignore
 * import { RaftFollower } from "@prkdb/prkdb/async-replicas";
 * const replica = new RaftFollower({ id: "replica-1", nodes: ["http://127.0.0.1:8081"] });
 * await replica.start();
 * console.log(replica.getText("hello"));
 * await replica.stop();
 * ```
 */
export class RaftFollower {
  readonly #o: Required<Omit<RaftFollowerOptions, "tls" | "token">> & RaftFollowerOptions;
  readonly #http: TlsHttp | undefined;
  readonly #feeds = new Map<number, PartitionFeed>();
  readonly #clients = new Map<string, Client<typeof ReplicationService>>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #changesApplied = 0;
  #snapshotsInstalled = 0;
  #lastSyncMs = 0;
  #errorCount = 0;
  #lastError: string | undefined;
  #connected = false;

  /**
   * Creates the follower.
   *
   * @param options Where the cluster is and how often to poll.
   */
  constructor(options: RaftFollowerOptions) {
    this.#o = { pollIntervalMs: 1000, batchSize: 100, requestTimeoutMs: 5000, ...options };
    this.#http = options.tls ? tlsHttp({ current: options.tls }) : undefined;
  }

  #transport(url: string) {
    const token = this.#o.token;
    return createConnectTransport({
      baseUrl: url,
      useBinaryFormat: true,
      fetch: this.#http?.fetch,
      interceptors: token
        ? [(next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        }]
        : [],
    });
  }

  /** Learns the cluster's partitions and starts following them. */
  async start(): Promise<void> {
    let last: unknown;
    for (const url of this.#o.nodes) {
      try {
        const kv = createClient(KvService, this.#transport(url));
        const info = await kv.clusterInfo({}, { timeoutMs: this.#o.requestTimeoutMs });
        const urls = new Map(
          info.nodes.map((
            n,
          ) => [n.id, n.address.startsWith("http") ? n.address : `http://${n.address}`]),
        );
        for (const p of info.partitions) {
          this.#feeds.set(p.partition, {
            sm: new KvStateMachine(p.partition),
            replicas: p.replicas.map((id) => urls.get(id)!).filter(Boolean),
            remoteApplied: 0,
            behindSince: 0,
            attempt: 0,
          });
        }
        this.#loop = this.#run();
        return;
      } catch (error) {
        last = error;
      }
    }
    throw new Error(
      `No cluster node answered (${this.#o.nodes.join(", ")}): ${(last as Error)?.message}`,
    );
  }

  /** Stops following. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    this.#http?.close();
  }

  /**
   * Reads a key from the local replica (a stale read: see the module's guarantees).
   *
   * @param key The key.
   * @returns The value, or `undefined`.
   */
  get(key: string | Uint8Array): Uint8Array | undefined {
    const bytes = typeof key === "string" ? new TextEncoder().encode(key) : key;
    return this.#feeds.get(partitionForKey(bytes, this.#feeds.size))?.sm.get(bytes);
  }

  /**
   * Reads a key as text.
   *
   * @param key The key.
   * @returns The text, or `undefined`.
   */
  getText(key: string | Uint8Array): string | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : new TextDecoder().decode(v);
  }

  /**
   * Each partition's applied index here.
   *
   * @returns Applied index by partition.
   */
  offsets(): Map<number, number> {
    return new Map([...this.#feeds].map(([p, f]) => [p, f.sm.appliedIndex]));
  }

  /** Snapshots installed because the follower was behind a compaction point. */
  get snapshotsInstalled(): number {
    return this.#snapshotsInstalled;
  }

  /**
   * Health, with the same fields as a leader-follower replica's.
   *
   * @returns Health now.
   */
  getHealth(): ReplicationHealth {
    const now = Date.now();
    const behind = [...this.#feeds.values()].filter((f) => f.behindSince > 0);
    const lagSeconds = Math.max(0, ...behind.map((f) => (now - f.behindSince) / 1000));
    const drift = [...this.#feeds.values()].reduce(
      (n, f) => n + Math.max(0, f.remoteApplied - f.sm.appliedIndex),
      0,
    );
    const error = !this.#connected ? (this.#lastError ?? "not connected yet") : undefined;
    return {
      healthy: error === undefined,
      lagSeconds,
      lastSync: this.#lastSyncMs ? new Date(this.#lastSyncMs) : undefined,
      error,
      outboxDrift: drift,
    };
  }

  /**
   * State, with the same fields as a leader-follower replica's.
   *
   * @returns State now.
   */
  getState(): ReplicationState {
    return {
      lastChangeId: [...this.offsets()].map(([p, i]) => `${p}:${i}`).join(","),
      changesApplied: this.#changesApplied,
      lastSyncTs: this.#lastSyncMs,
      connected: this.#connected,
      errorCount: this.#errorCount,
      lastError: this.#lastError,
    };
  }

  #client(url: string): Client<typeof ReplicationService> {
    let c = this.#clients.get(url);
    if (!c) {
      this.#clients.set(
        url,
        c = createClient(ReplicationService, this.#transport(url)),
      );
    }
    return c;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let behind = false;
      for (const [partition, feed] of this.#feeds) {
        if (signal.aborted) break;
        behind = (await this.#poll(partition, feed)) || behind;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, behind ? 0 : this.#o.pollIntervalMs);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }

  /** Pulls one batch of a partition's feed; returns whether it is still behind. */
  async #poll(partition: number, feed: PartitionFeed): Promise<boolean> {
    // Any replica serves committed entries; move to the next one after a failure.
    const url = feed.replicas[feed.attempt % feed.replicas.length];
    try {
      const res = await this.#client(url).getPartitionChanges(
        {
          follower: this.#o.id,
          partition,
          afterIndex: BigInt(feed.sm.appliedIndex),
          limit: this.#o.batchSize,
        },
        { timeoutMs: this.#o.requestTimeoutMs, signal: this.#stop.signal },
      );
      this.#connected = true;
      this.#lastSyncMs = Date.now();
      feed.remoteApplied = Math.max(feed.remoteApplied, Number(res.appliedIndex));
      if (res.snapshot.length > 0 && Number(res.snapshotIndex) > feed.sm.appliedIndex) {
        feed.sm.restore(res.snapshot);
        this.#snapshotsInstalled++;
      }
      for (const c of res.changes) {
        const index = Number(c.index);
        if (index <= feed.sm.appliedIndex) continue;
        // The command as the partition applied it; older nodes send only op, key and value.
        const data = c.command.length > 0
          ? c.command
          : c.op === "put" || c.op === "delete"
          ? encodeCommand({
            op: "write",
            time: 0,
            checks: [],
            mutations: [
              c.op === "put"
                ? { type: "set", key: c.key, value: c.value }
                : { type: "delete", key: c.key },
            ],
          })
          : new Uint8Array();
        // In log order only: apply() refuses a gap, so reads stay monotonic.
        const result = feed.sm.apply({
          index,
          term: 0,
          type: data.length > 0 ? "normal" : "noop",
          data,
        });
        if (result.op === "write" && !result.duplicate) this.#changesApplied++;
      }
    } catch (error) {
      if (this.#stop.signal.aborted) return false;
      feed.attempt++;
      this.#errorCount++;
      this.#lastError = `${url}: ${(error as Error).message}`;
      if (feed.attempt % feed.replicas.length === 0) this.#connected = false;
    }
    const behind = feed.sm.appliedIndex < feed.remoteApplied;
    if (behind && feed.behindSince === 0) feed.behindSince = Date.now();
    if (!behind) feed.behindSince = 0;
    return behind;
  }
}
