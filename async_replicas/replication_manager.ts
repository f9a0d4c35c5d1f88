/**
 * The leader-follower replication of PrkDB's first design. The leader serves its outbox over
 * Connect-RPC; each follower polls for the changes after its offset, applies each batch
 * atomically with the new offset, backs off exponentially on errors, and reports health, state
 * and the `prkdb_replication_*` metrics.
 *
 * @module
 */
import { Code, ConnectError, createClient, createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ReplicationService } from "../rpc/gen/prkdb/v1/replication_pb.ts";
import type { GaugeSample } from "../telemetry/exposition.ts";
import type { ChangeRecord, PrkDb } from "./prkdb.ts";
import type {
  ReplicationConfig,
  ReplicationErrorType,
  ReplicationHealth,
  ReplicationState,
  ReplicationTiming,
} from "./replication_types.ts";
import { ReplicationMetrics } from "./replication_metrics.ts";

export type * from "./replication_types.ts";

const DEFAULT_TIMING: ReplicationTiming = {
  followerPollInterval: 1000,
  backoffBase: 2000,
  backoffMax: 60_000,
  requestTimeout: 5000,
};

interface FollowerView {
  /** The last offset it acknowledged in this leader's history (never another history's claim). */
  ackedOffset: number;
  lastPollMs: number;
  /** The history it claimed, when not this leader's. */
  mismatch?: string;
  /** Polls refused in a row. */
  failures: number;
}

/**
 * Runs a follower's pull loop: fetch changes after its offset, apply them, back off on errors.
 *
 * @example A leader and a follower in one process
 * ```ts ignore
 * import { PrkDb, ReplicationManager } from "@prkdb/prkdb/async-replicas";
 * const leaderDb = PrkDb.builder().registerCollection({ name: "orders", key: (o: { id: string }) => o.id }).build();
 * const leader = new ReplicationManager(leaderDb, { selfNode: { id: "leader-1", address: "127.0.0.1:8080" }, followers: [] });
 * await leader.start();
 * ```
 */
export class ReplicationManager {
  readonly #db: PrkDb;
  readonly #config: ReplicationConfig;
  readonly #timing: ReplicationTiming;
  readonly #followers = new Map<string, FollowerView>();
  readonly #stop = new AbortController();
  #server: Deno.HttpServer | undefined;
  #loop: Promise<void> | undefined;
  // Follower-side state.
  #changesApplied = 0;
  #lastSyncMs = 0;
  #connected = false;
  #errorCount = 0;
  #lastError: string | undefined;
  #leaderOffset = 0;
  #appliedOffset = 0;
  #nextChangeMs = 0;
  #failures = 0;
  /** At the leader: when each change not yet drained to every follower was recorded. */
  readonly #recorded = new Map<number, number>();
  #unsubscribe: (() => void) | undefined;
  /** The history of the leader's outbox (leader), or the one this follower's offset is in. */
  #history = "";
  /** At a follower: why it stopped applying, when its offset is of another history. */
  #mismatch: string | undefined;
  #startedMs = 0;
  // Metrics.
  readonly #metrics: ReplicationMetrics;

  /**
   * Creates the manager.
   *
   * @param db The database to replicate.
   * @param config Who this node is and whom it talks to.
   */
  constructor(db: PrkDb, config: ReplicationConfig) {
    this.#db = db;
    this.#config = config;
    this.#timing = { ...DEFAULT_TIMING, ...config.timing };
    for (const f of config.followers) {
      this.#followers.set(f.id, { ackedOffset: 0, lastPollMs: 0, failures: 0 });
    }
    this.#metrics = new ReplicationMetrics(config.selfNode.id);
  }

  /** Whether this node is the leader (it has no leader address). */
  isLeader(): boolean {
    return this.#config.leaderAddress === undefined;
  }

  /** Starts serving (leader) or polling (follower). */
  async start(): Promise<void> {
    this.#leaderOffset = this.#appliedOffset = await this.#db.offset();
    this.#startedMs = Date.now();
    this.#history = this.isLeader()
      ? await this.#db.history()
      : (await this.#db.storedHistory()) ?? "";
    if (this.isLeader()) {
      this.#unsubscribe = this.#db.onChange((c) => {
        this.#leaderOffset = Math.max(this.#leaderOffset, c.offset);
        this.#recorded.set(c.offset, c.timestampMs);
      });
      this.#serve();
    } else this.#loop = this.#pollLoop();
  }

  /** Stops serving or polling, and waits for it. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#unsubscribe?.();
    await this.#server?.shutdown();
    await this.#loop;
    await this.#metrics.shutdown();
  }

  /**
   * The follower's health report.
   *
   * @returns Health now.
   */
  getHealth(): ReplicationHealth {
    const now = Date.now();
    if (this.isLeader()) {
      const views = [...this.#followers.entries()];
      const silent = views.filter(([, f]) => now - f.lastPollMs >= this.#activeWindowMs()).map((
        [id],
      ) => id);
      const mismatched = views.filter(([, f]) => f.mismatch !== undefined).map(([id]) => id);
      const drained = Math.min(this.#leaderOffset, ...views.map(([, f]) => f.ackedOffset));
      const lastPoll = Math.max(0, ...views.map(([, f]) => f.lastPollMs));
      const errors = [
        ...(silent.length > 0 ? [`followers not polling: ${silent.join(", ")}`] : []),
        ...(mismatched.length > 0
          ? [`history_mismatch: followers of another history: ${mismatched.join(", ")}`]
          : []),
      ];
      return {
        healthy: errors.length === 0,
        lagSeconds: Math.max(0, ...views.map(([, f]) => this.#followerLag(f, now))),
        lastSync: lastPoll > 0 ? new Date(lastPoll) : undefined,
        error: errors.length > 0 ? errors.join("; ") : undefined,
        outboxDrift: this.#leaderOffset - drained,
      };
    }
    const lag = this.#lagSeconds();
    const stale = this.#lastSyncMs === 0 ||
      now - this.#lastSyncMs >
        Math.max(3 * this.#timing.followerPollInterval, this.#timing.requestTimeout);
    // While syncs fail, say why; otherwise flag a follower that never connected or went quiet.
    const error = this.#mismatch !== undefined
      ? this.#mismatch
      : this.#failures > 0
      ? this.#lastError
      : !this.#connected
      ? "not connected to the leader yet"
      : stale
      ? "no successful sync recently"
      : undefined;
    return {
      healthy: error === undefined,
      lagSeconds: lag,
      lastSync: this.#lastSyncMs > 0 ? new Date(this.#lastSyncMs) : undefined,
      error,
      outboxDrift: Math.max(0, this.#leaderOffset - this.#appliedOffset),
    };
  }

  /**
   * The follower's replication state.
   *
   * @returns State now.
   */
  getState(): ReplicationState {
    const leader = this.isLeader();
    const now = Date.now();
    return {
      lastChangeId: (leader ? this.#leaderOffset : this.#appliedOffset) > 0
        ? String(leader ? this.#leaderOffset : this.#appliedOffset)
        : undefined,
      changesApplied: this.#changesApplied,
      lastSyncTs: leader
        ? Math.max(0, ...[...this.#followers.values()].map((f) => f.lastPollMs))
        : this.#lastSyncMs,
      connected: leader
        ? [...this.#followers.values()].every((f) => now - f.lastPollMs < this.#activeWindowMs())
        : this.#connected,
      errorCount: this.#errorCount,
      lastError: this.#lastError,
    };
  }

  /**
   * The `prkdb_replication_*` metrics as Prometheus text.
   *
   * @returns The exposition.
   */
  metrics(): Promise<string> {
    const me = this.#config.selfNode.id;
    return this.#metrics.text(
      this.#gauges(),
      this.isLeader() ? [...this.#followers.keys()] : [me],
    );
  }

  /** The gauges, as true now (a leader per follower; a follower for itself). */
  #gauges(): GaugeSample[] {
    const me = this.#config.selfNode.id;
    const now = Date.now();
    const out: GaugeSample[] = [];
    const gauge = (name: string, value: number, follower?: string) =>
      out.push({
        name: `prkdb_replication_${name}`,
        value,
        labels: follower === undefined ? { node_id: me } : { node_id: me, follower },
      });
    if (this.isLeader()) {
      let active = 0;
      for (const [id, f] of this.#followers) {
        const connected = now - f.lastPollMs < this.#activeWindowMs();
        if (connected) active++;
        gauge("lag_seconds", this.#followerLag(f, now), id);
        gauge("follower_connected", connected ? 1 : 0, id);
        gauge("changes_pending", Math.max(0, this.#leaderOffset - f.ackedOffset), id);
        if (f.lastPollMs > 0 && f.mismatch === undefined) {
          gauge("last_sync_timestamp_seconds", f.lastPollMs / 1000, id);
        }
        gauge("consecutive_failures", f.failures, id);
      }
      gauge("active_followers", active);
    } else {
      gauge("lag_seconds", this.#lagSeconds(), me);
      gauge("follower_connected", this.#connected ? 1 : 0, me);
      gauge("changes_pending", Math.max(0, this.#leaderOffset - this.#appliedOffset), me);
      if (this.#lastSyncMs > 0) gauge("last_sync_timestamp_seconds", this.#lastSyncMs / 1000, me);
      gauge("consecutive_failures", this.#failures, me);
    }
    return out;
  }

  /** The address the leader's replication service listens on (`host:port`, once started). */
  get address(): string {
    const addr = this.#server?.addr as Deno.NetAddr | undefined;
    return addr ? `${addr.hostname}:${addr.port}` : this.#config.selfNode.address;
  }

  /** Records that the leader recorded a change (call after each write at the leader). */
  async noteLeaderOffset(): Promise<void> {
    this.#leaderOffset = await this.#db.offset();
  }

  /** At the leader: the age of the oldest change a follower has not acknowledged. */
  #followerLag(f: FollowerView, now: number): number {
    if (f.ackedOffset >= this.#leaderOffset) return 0;
    const recorded = this.#recorded.get(f.ackedOffset + 1);
    return recorded ? (now - recorded) / 1000 : 0;
  }

  #activeWindowMs(): number {
    return Math.max(3 * this.#timing.followerPollInterval, 1000);
  }

  /**
   * A follower's lag: the age of the oldest change it knows it lacks; and while it cannot sync
   * (the leader is down, or of another history), at least the time since its last successful
   * sync, since it cannot know what it misses.
   */
  #lagSeconds(): number {
    const now = Date.now();
    const known = this.#appliedOffset >= this.#leaderOffset || this.#nextChangeMs === 0
      ? 0
      : Math.max(0, (now - this.#nextChangeMs) / 1000);
    if (this.#failures === 0 && this.#mismatch === undefined) return known;
    return Math.max(known, (now - (this.#lastSyncMs || this.#startedMs)) / 1000);
  }

  #serve(): void {
    const [hostname, port] = this.#config.selfNode.address.split(":");
    const router = createConnectRouter();
    router.service(ReplicationService, {
      getChanges: async (req) => {
        const limit = Math.min(req.limit || this.#config.batchSize || 100, 1000);
        const after = Number(req.afterOffset);
        this.#leaderOffset = await this.#db.offset();
        const view = this.#followers.get(req.follower) ??
          { ackedOffset: 0, lastPollMs: 0, failures: 0 };
        this.#followers.set(req.follower, view);
        view.lastPollMs = Date.now();
        // An offset means something only in this outbox's history. A follower with another
        // history (or an offset and none) would skip or re-apply changes: refuse it, and never
        // let its claim prune the outbox.
        if (req.history !== this.#history && (req.history !== "" || after > 0)) {
          view.mismatch = req.history || "none";
          view.failures++;
          throw new ConnectError(
            `history_mismatch: the follower's offset ${after} belongs to history ${view.mismatch}, this leader's outbox to ${this.#history}`,
            Code.FailedPrecondition,
          );
        }
        view.mismatch = undefined;
        view.failures = 0;
        view.ackedOffset = after;
        const changes = await this.#db.changesAfter(after, limit + 1);
        // Every follower has what is at or below the smallest acknowledged offset: prune it.
        const drained = Math.min(...[...this.#followers.values()].map((f) => f.ackedOffset));
        if (drained > 0) {
          await this.#db.pruneOutbox(drained);
          for (const offset of this.#recorded.keys()) {
            if (offset <= drained) this.#recorded.delete(offset);
          }
        }
        const batch = changes.slice(0, limit);
        return {
          changes: batch.map((c) => ({
            offset: BigInt(c.offset),
            timestampMs: BigInt(c.timestampMs),
            collection: c.collection,
            key: c.key,
            op: c.op,
            value: new TextEncoder().encode(c.value ?? ""),
          })),
          leaderOffset: BigInt(this.#leaderOffset),
          nextTimestampMs: BigInt(changes[limit]?.timestampMs ?? 0),
          history: this.#history,
        };
      },
    });
    const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
    this.#server = Deno.serve({
      hostname,
      port: Number(port),
      signal: this.#stop.signal,
      onListen() {},
    }, (request) => {
      const path = new URL(request.url).pathname;
      const handler = handlers.get(path);
      if (handler) return handler(request);
      if (path === "/metrics") {
        return this.metrics().then((t) =>
          new Response(t, { headers: { "content-type": "text/plain; version=0.0.4" } })
        );
      }
      if (path === "/health") return Response.json({ ...this.getHealth(), state: this.getState() });
      return new Response("Not found\n", { status: 404 });
    });
  }

  async #pollLoop(): Promise<void> {
    const client = createClient(
      ReplicationService,
      createConnectTransport({
        baseUrl: `http://${this.#config.leaderAddress}`,
        useBinaryFormat: true,
      }),
    );
    const me = this.#config.selfNode.id;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const started = performance.now();
      let wait = this.#timing.followerPollInterval;
      let changes: ChangeRecord[] | undefined;
      let history = "";
      try {
        const res = await client.getChanges(
          {
            follower: me,
            afterOffset: BigInt(this.#appliedOffset),
            limit: this.#config.batchSize ?? 100,
            history: this.#history,
          },
          { timeoutMs: this.#timing.requestTimeout, signal },
        );
        this.#connected = true;
        if (this.#history !== "" && res.history !== this.#history) {
          throw new ConnectError(
            `history_mismatch: offset ${this.#appliedOffset} belongs to history ${this.#history}, the leader's outbox to ${
              res.history || "none"
            }`,
            Code.FailedPrecondition,
          );
        }
        history = res.history;
        this.#leaderOffset = Number(res.leaderOffset);
        changes = res.changes.map((c) => ({
          offset: Number(c.offset),
          timestampMs: Number(c.timestampMs),
          collection: c.collection,
          key: c.key,
          op: c.op === "delete" ? "delete" : "put",
          value: c.op === "delete" ? undefined : new TextDecoder().decode(c.value),
        }));
        this.#nextChangeMs = Number(res.nextTimestampMs) || (changes[0]?.timestampMs ?? 0);
      } catch (error) {
        if (signal.aborted) break;
        const e = ConnectError.from(error);
        const network = [Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Canceled]
          .includes(e.code);
        if (network) this.#connected = false;
        const mismatch = e.code === Code.FailedPrecondition &&
          e.rawMessage.startsWith("history_mismatch");
        // Stop applying from this leader: health, state and metrics say why until it is fixed
        // (re-create this follower's database to follow the new history).
        if (mismatch) this.#mismatch = e.rawMessage;
        wait = this.#fail(
          mismatch ? "history_mismatch" : network ? "connection_error" : "sync_failed",
          mismatch ? e.rawMessage.slice("history_mismatch: ".length) : e.rawMessage,
        );
      }
      if (changes !== undefined) {
        try {
          const before = this.#appliedOffset;
          this.#appliedOffset = await this.#db.applyChanges(changes, history || undefined);
          if (changes.length > 0 && history !== "") this.#history = history;
          const applied = this.#appliedOffset - before;
          this.#changesApplied += applied;
          this.#metrics.applied(applied);
          // A batch is changes received and applied: an empty poll is not one.
          if (changes.length > 0) {
            this.#metrics.batch(changes.length, (performance.now() - started) / 1000);
          }
          this.#mismatch = undefined;
          this.#lastSyncMs = Date.now();
          this.#failures = 0;
          if (this.#appliedOffset >= this.#leaderOffset) this.#nextChangeMs = 0;
          // Behind: fetch the next batch at once rather than after a poll interval.
          if (this.#appliedOffset < this.#leaderOffset) wait = 0;
        } catch (error) {
          wait = this.#fail("apply_failed", (error as Error).message);
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }

  /** Counts an error and returns the backoff delay: 2 s, 4 s, 8 s, ... capped, reset on success. */
  #fail(type: ReplicationErrorType, message: string): number {
    this.#errorCount++;
    this.#lastError = `${type}: ${message}`;
    this.#metrics.syncError(type);
    this.#failures++;
    return Math.min(this.#timing.backoffBase * 2 ** (this.#failures - 1), this.#timing.backoffMax);
  }

  /** The backoff delay the next error would cause (for tests and health displays). */
  get nextBackoffMs(): number {
    return Math.min(this.#timing.backoffBase * 2 ** this.#failures, this.#timing.backoffMax);
  }
}
