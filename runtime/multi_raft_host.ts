/**
 * The Multi-Raft host: one node's runtime for all the partitions it replicates. It composes
 * one {@linkcode Replica} per partition over one storage and one transport, runs the Ready
 * contract for all of them in rounds ({@linkcode runRound}), and offers the key-value API:
 * versioned reads in three modes, writes with conditions, atomic batches and client sessions.
 *
 * Time comes from an injected {@linkcode Clock}, and with `drive: "manual"` nothing happens
 * until the caller ticks and flushes: the seeded simulation runs this same host.
 *
 * @module
 */
import { RaftNode, SeededRandom } from "../raft/mod.ts";
import type { NodeId } from "../raft/types.ts";
import {
  type Check,
  encodeCommand,
  type KvCommand,
  MAX_EXPIRE_BATCH,
  type Mutation,
} from "../partition/command.ts";
import {
  CompactedError,
  CrossPartitionError,
  OutcomeUnknownError,
  TimeoutError,
  UnavailableError,
  WrongNodeError,
} from "../partition/errors.ts";
import {
  type ApplyResult,
  type Change,
  KvStateMachine,
  type VersionedValue,
} from "../partition/kv_state_machine.ts";
import { PartitionMap } from "../partition/placement.ts";
import type { ReadMode } from "../partition/read_mode.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import { changeFeed, type ChangeFeedPage } from "./change_feed.ts";
import { type Clock, systemClock } from "./clock.ts";
import { proposeAndWait, type RequestContext } from "./client_requests.ts";
import { balanceLeaders } from "./leader_balance.ts";
import { LoopUtilization } from "./loop_utilization.ts";
import type { HostOptions } from "./options.ts";
import { type PartitionStatus, Replica } from "./replica.ts";
import { type FollowerReplication, ReplicationLag } from "./replication_lag.ts";
import { clearRead, type KeyRange } from "./reads.ts";
import { runRound } from "./round.ts";
import type { ChangesPage } from "./change_history.ts";
import { RoundLoop } from "./round_loop.ts";
import { conditionsOf, type WriteOptions, type WriteResult, writeResult } from "./write_result.ts";

/**
 * A mutation as callers give it: a set may expire `expireInMs` after the leader proposes it.
 *
 * @example Usage
 * ```ts
 * import type { TimedMutation } from "@prkdb/prkdb/runtime";
 * const m: TimedMutation = { type: "set", key: new Uint8Array([1]), value: new Uint8Array(), expireInMs: 60_000 };
 * ```
 */
export type TimedMutation =
  | (Omit<Mutation & { type: "set" }, "expiresAt"> & { readonly expireInMs?: number })
  | (Mutation & { type: "delete" });

/** The most entries one watch page covers. */
const WATCH_PAGE_ENTRIES = 256;
/** How often, in ticks, a leader looks for expired keys. */
const EXPIRY_SWEEP_TICKS = 5;

/**
 * A node's runtime for all its partitions.
 *
 * @example A one-node cluster in memory
 * ```ts
 * import { MemoryNetwork } from "@prkdb/prkdb/partition";
 * import { MultiRaftHost } from "@prkdb/prkdb/runtime";
 * import { MemoryStorage } from "@prkdb/prkdb/storage";
 * const te = new TextEncoder();
 * const net = new MemoryNetwork();
 * const host = await MultiRaftHost.start({
 *   nodeId: 1, members: [1], partitions: 2, storage: new MemoryStorage(), transport: net.transport(1), tickMs: 10,
 * });
 * net.register(1, (from, msgs) => host.receive(from, msgs));
 * await host.waitForLeaders(5000);
 * const { version } = await host.put(te.encode("k"), te.encode("v"));
 * console.log((await host.get(te.encode("k")))?.version === version); // true
 * await host.stop();
 * ```
 */
export class MultiRaftHost {
  /** Where partitions live. */
  readonly map: PartitionMap;
  /** This node's id. */
  readonly nodeId: NodeId;
  readonly #replicas = new Map<number, Replica>();
  readonly #o:
    & HostOptions
    & Required<Pick<HostOptions, "tickMs" | "electionTick" | "requestTimeoutMs">>;
  readonly #clock: Clock;
  readonly #lag = new ReplicationLag();
  readonly #utilization: LoopUtilization;
  readonly #requests: RequestContext;
  #tickTimer: number | undefined;
  readonly #loop: RoundLoop;
  /** Partitions with an expiry batch in flight. */
  readonly #expiring = new Set<number>();
  #stopped = false;
  #nextContext = 1;
  #ticks = 0;

  private constructor(options: HostOptions) {
    this.#o = { tickMs: 100, electionTick: 10, requestTimeoutMs: 5000, ...options };
    this.#clock = options.clock ?? systemClock;
    this.#utilization = new LoopUtilization(this.#clock);
    this.#requests = {
      clock: this.#clock,
      timeoutMs: this.#o.requestTimeoutMs,
      observer: options.observer,
      schedule: () => this.#loop.schedule(),
    };
    this.#loop = new RoundLoop(() =>
      runRound(this.#replicas.values(), {
        storage: options.storage,
        transport: options.transport,
        now: () => this.#clock.now(),
        compaction: options.compaction,
        lag: this.#lag,
        observer: options.observer,
      }), {
      clock: this.#clock,
      utilization: this.#utilization,
      manual: options.drive === "manual",
      onFailure: (error) => this.#storageFailed(error),
    });
    this.nodeId = options.nodeId;
    this.map = new PartitionMap(
      options.members,
      options.partitions ?? 8,
      options.replicationFactor ?? 3,
    );
  }

  /**
   * Recovers this node's partitions from storage and starts ticking.
   *
   * @param options The node's configuration.
   * @returns The running host.
   */
  static async start(options: HostOptions): Promise<MultiRaftHost> {
    const host = new MultiRaftHost(options);
    for (const p of host.map.partitionsOf(host.nodeId)) {
      const state = await options.storage.load(p);
      const node = new RaftNode({
        heartbeatTick: 1,
        ...options.raft,
        id: host.nodeId,
        voters: host.map.replicas(p),
        // Seeded by node and partition: reproducible, yet different per group.
        random: new SeededRandom((options.seed ?? 0) * 31 + host.nodeId * 7919 + p * 104729),
        electionTick: host.#o.electionTick,
        // A snapshot from the leader must restore before it replaces anything.
        validateSnapshot: (data) => {
          try {
            new KvStateMachine(p).restore(data);
            return undefined;
          } catch (error) {
            return (error as Error).message;
          }
        },
      }, state);
      host.#replicas.set(p, new Replica(p, node, state.snapshot?.data, options.watchHistory));
    }
    if (options.drive !== "manual") host.#scheduleTick();
    return host;
  }

  /** The partitions this node replicates. */
  get partitions(): number[] {
    return [...this.#replicas.keys()];
  }

  /** Why this node stopped serving (a storage failure), or `undefined` while it serves. */
  get failure(): Error | undefined {
    return this.#loop.failure;
  }

  /**
   * Whether this node replicates a partition.
   *
   * @param partition The partition.
   * @returns `true` for a replica.
   */
  isReplica(partition: number): boolean {
    return this.#replicas.has(partition);
  }

  /**
   * The leader this node knows for a partition (`0` for none or when not a replica).
   *
   * @param partition The partition.
   * @returns The leader's id.
   */
  leaderOf(partition: number): NodeId {
    return this.#replicas.get(partition)?.node.leaderId ?? 0;
  }

  /**
   * Each replicated partition's status.
   *
   * @returns One entry per partition this node replicates.
   */
  status(): PartitionStatus[] {
    return [...this.#replicas.values()].map((r) => r.status(this.map.replicas(r.partition)));
  }

  /**
   * Asks this node's replica of a partition to hand its leadership to another replica
   * (Raft dissertation, section 3.10). Only the leader can.
   *
   * @param partition The partition.
   * @param to The replica to take over.
   * @returns `false` when this node does not lead the partition.
   * @throws {RaftError} When `to` is not a replica of the partition.
   */
  transferLeadership(partition: number, to: NodeId): boolean {
    const replica = this.#replicas.get(partition);
    if (!replica?.node.isLeader) return false;
    replica.node.transferLeadership(to);
    this.#loop.schedule();
    return true;
  }

  /**
   * Replication progress of every follower of every partition this node leads.
   *
   * @returns One entry per led partition.
   */
  replication(): { partition: number; followers: FollowerReplication[] }[] {
    return this.#lag.report(this.#replicas.values(), this.#clock.now());
  }

  /**
   * A page of a partition's change feed (see {@linkcode changeFeed}).
   *
   * @param partition The partition (this node must replicate it).
   * @param afterIndex The reader's last applied index.
   * @param limit The most entries to return.
   * @returns Applied entries, or a snapshot to start from.
   */
  changeFeed(partition: number, afterIndex: number, limit: number): ChangeFeedPage {
    return changeFeed(this.#replica(partition), afterIndex, limit);
  }

  /**
   * The share of time the loop spent in rounds since the last call: how busy the node is.
   *
   * @returns A fraction in `[0, 1]`.
   */
  takeLoopUtilization(): number {
    return this.#utilization.take();
  }

  /**
   * Handles messages from a peer (called by the transport's server side).
   *
   * @param from The sending node.
   * @param messages Its messages.
   * @returns How many messages were refused (unknown partition, stranger, malformed).
   */
  receive(from: NodeId, messages: readonly PartitionMessage[]): number {
    if (this.#stopped) return messages.length;
    let refused = 0;
    for (const { partition, message } of messages) {
      const replica = this.#replicas.get(partition);
      if (!replica || replica.fatal || message.from !== from) {
        refused++;
        continue;
      }
      try {
        replica.node.step(message);
      } catch {
        refused++; // InvalidMessageError: not for this group, or malformed; nothing changed
      }
    }
    this.#loop.schedule();
    return refused;
  }

  /**
   * Writes a key, once a quorum has it.
   *
   * @param key The key.
   * @param value The value.
   * @param options Session, condition, cancellation.
   * @returns Whether it was applied, its version, partition and log index.
   */
  put(
    key: Uint8Array,
    value: Uint8Array,
    options: WriteOptions & { expireInMs?: number } = {},
  ): Promise<WriteResult> {
    const set = { type: "set" as const, key, value, expireInMs: options.expireInMs };
    return this.atomic(conditionsOf(key, options), [set], options);
  }

  /**
   * Deletes a key, once a quorum has the deletion.
   *
   * @param key The key.
   * @param options Session, condition, cancellation.
   * @returns Whether it was applied, whether the key existed, partition and log index.
   */
  delete(key: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    return this.atomic(conditionsOf(key, options), [{ type: "delete", key }], options);
  }

  /**
   * Applies checks and mutations as one log entry, all or nothing. Every key must fall in one
   * partition (use hash tags to place keys together). A failed check is a normal result.
   *
   * @param checks Conditions that must all hold.
   * @param mutations Changes to apply if they do.
   * @param options Session and cancellation.
   * @returns The result; `ok: false` with `failedCheck` when a check did not hold.
   * @throws {CrossPartitionError} When keys fall into more than one partition.
   */
  async atomic(
    checks: readonly Check[],
    mutations: readonly TimedMutation[],
    options: Pick<WriteOptions, "session" | "signal"> = {},
  ): Promise<WriteResult> {
    const keys = [...checks.map((c) => c.key), ...mutations.map((m) => m.key)];
    const partitions = [...new Set(keys.map((k) => this.map.partitionOf(k)))].sort((a, b) => a - b);
    if (partitions.length > 1) throw new CrossPartitionError(partitions);
    const partition = partitions[0] ?? 0;
    const { result, index } = await this.#propose(partition, (time) => ({
      op: "write",
      time,
      session: options.session,
      checks,
      // An expiry is proposed as a time in the leader's clock, so every replica agrees on it.
      mutations: mutations.map((m) =>
        m.type === "set" && m.expireInMs !== undefined
          ? { type: "set", key: m.key, value: m.value, expiresAt: time + m.expireInMs }
          : m.type === "set"
          ? { type: "set", key: m.key, value: m.value }
          : m
      ),
    }), options.signal);
    return writeResult(partition, index, result, options.session);
  }

  /**
   * Opens a client session on a partition, through its log.
   *
   * @param partition The partition.
   * @param timeoutMs How long the session may stay idle before it expires.
   * @param signal Aborts the wait.
   * @returns The session id.
   */
  async openSession(partition: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const { result } = await this.#propose(
      partition,
      (time) => ({ op: "openSession", time, timeoutMs }),
      signal,
    );
    if (result.op !== "openSession") throw new RangeError(`Entry is not a session`);
    return result.sessionId;
  }

  /**
   * Reads a key with its version.
   *
   * @param key The key.
   * @param mode How to read (default linearizable).
   * @param signal Aborts the wait.
   * @returns The value and version, or `undefined` when absent.
   */
  async get(
    key: Uint8Array,
    mode: ReadMode = "linearizable",
    signal?: AbortSignal,
  ): Promise<VersionedValue | undefined> {
    const replica = this.#replica(this.map.partitionOf(key));
    const now = await clearRead(this.#requests, replica, mode, this.#nextContext++, signal);
    return replica.sm.read(key, now);
  }

  /**
   * Reads several keys of one partition, after one read clearance for all of them.
   *
   * @param partition The partition (every key must belong to it).
   * @param keys The keys.
   * @param mode How to read.
   * @param signal Aborts the wait.
   * @returns One entry per key, in order; `undefined` for an absent key.
   */
  async getMany(
    partition: number,
    keys: readonly Uint8Array[],
    mode: ReadMode = "linearizable",
    signal?: AbortSignal,
  ): Promise<(VersionedValue | undefined)[]> {
    for (const key of keys) {
      if (this.map.partitionOf(key) !== partition) {
        throw new RangeError(
          `A key of partition ${this.map.partitionOf(key)} was read as ${partition}`,
        );
      }
    }
    const replica = this.#replica(partition);
    const now = await clearRead(this.#requests, replica, mode, this.#nextContext++, signal);
    return keys.map((key) => replica.sm.read(key, now));
  }

  /**
   * Reads a range of one partition's keys in byte order.
   *
   * @param partition The partition.
   * @param range The keys to read.
   * @param options How many, in which order, in which read mode.
   * @returns The entries, and the index the read saw (a watch from there misses nothing).
   */
  async list(
    partition: number,
    range: KeyRange,
    options: { limit: number; reverse?: boolean; mode?: ReadMode; signal?: AbortSignal },
  ): Promise<{ entries: (VersionedValue & { key: Uint8Array })[]; appliedIndex: number }> {
    const replica = this.#replica(partition);
    const mode = options.mode ?? "linearizable";
    const now = await clearRead(this.#requests, replica, mode, this.#nextContext++, options.signal);
    const entries = replica.sm.scan(range.start, range.end, options.limit, {
      reverse: options.reverse,
      now,
    });
    return { entries, appliedIndex: replica.sm.appliedIndex };
  }

  /**
   * A page of a partition's changes after `afterIndex`, without waiting for more.
   *
   * @param partition The partition (this node must replicate it).
   * @param afterIndex The last index the reader has seen.
   * @param limit The most entries to cover.
   * @returns The changes and how far they reach, or `compacted` with the oldest index kept.
   */
  changes(partition: number, afterIndex: number, limit: number): ChangesPage {
    const replica = this.#replica(partition);
    return replica.history.after(afterIndex, limit, replica.sm.appliedIndex);
  }

  /**
   * Follows a partition's changes from just after `afterIndex`, as they are applied here. Each
   * page says how far it reaches, so a watcher can resume from there with no gap and no
   * duplicate.
   *
   * @param partition The partition (this node must replicate it).
   * @param afterIndex The last index the watcher has seen.
   * @param signal Ends the watch.
   * @returns Pages of changes, in log order.
   * @throws {CompactedError} When the changes after `afterIndex` were compacted away.
   */
  async *watch(
    partition: number,
    afterIndex: number,
    signal?: AbortSignal,
  ): AsyncGenerator<{ changes: readonly Change[]; through: number }> {
    let position = afterIndex;
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    while (!signal?.aborted) {
      const replica = this.#replica(partition);
      const page = replica.history.after(position, WATCH_PAGE_ENTRIES, replica.sm.appliedIndex);
      if (page.kind === "compacted") throw new CompactedError(partition, page.oldest);
      if (page.through > position) {
        position = page.through;
        yield page;
        continue;
      }
      await Promise.race([replica.appliedPast(position), aborted]);
    }
  }

  /** Advances every partition's Raft clock by one tick, and balances leaders now and then. */
  tick(): void {
    this.#ticks++;
    for (const r of this.#replicas.values()) if (!r.fatal) r.node.tick();
    if (this.#o.balanceLeaders !== false && this.#ticks % (this.#o.electionTick * 3) === 0) {
      balanceLeaders(this.#replicas.values(), this.map, this.nodeId);
    }
    if (this.#ticks % EXPIRY_SWEEP_TICKS === 0) this.#expireKeys();
    this.#loop.schedule();
  }

  /** Runs rounds until no partition has work. With `drive: "manual"`, the caller's only way to make progress. */
  flush(): Promise<void> {
    return this.#loop.flush();
  }

  /**
   * Resolves once every partition this node replicates has a leader.
   *
   * @param timeoutMs How long to wait.
   */
  async waitForLeaders(timeoutMs: number): Promise<void> {
    const deadline = this.#clock.now() + timeoutMs;
    while ([...this.#replicas.values()].some((r) => r.node.leaderId === 0)) {
      if (this.#clock.now() > deadline) {
        throw new TimeoutError(`Not every partition had a leader within ${timeoutMs} ms`);
      }
      await new Promise((r) => this.#clock.setTimeout(() => r(undefined), this.#o.tickMs));
    }
  }

  /** Stops ticking, fails waiting requests, and closes the transport and storage. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    await this.#loop.close();
    const stopped = "The node is shutting down";
    for (const r of this.#replicas.values()) {
      r.failAll(new OutcomeUnknownError(stopped), new UnavailableError(stopped));
    }
    await this.#o.transport.close();
    await this.#o.storage.close();
  }

  #scheduleTick(): void {
    this.#tickTimer = this.#clock.setTimeout(() => {
      if (this.#stopped || this.#loop.failure) return;
      this.tick();
      this.#scheduleTick();
    }, this.#o.tickMs);
  }

  #replica(partition: number): Replica {
    const failure = this.#loop.failure;
    if (failure) {
      throw new UnavailableError(
        `This node stopped serving after a storage failure: ${failure.message}`,
      );
    }
    if (this.#stopped) throw new UnavailableError("The node is shutting down");
    const replica = this.#replicas.get(partition);
    if (!replica) throw new WrongNodeError(partition, 0, "does not replicate it");
    if (replica.fatal) {
      throw new UnavailableError(
        `Partition ${partition} stopped on this node: ${replica.fatal.message}`,
      );
    }
    return replica;
  }

  /** Proposes a command stamped with the leader's clock and waits for it to be applied. */
  #propose(
    partition: number,
    command: (time: number) => KvCommand,
    signal: AbortSignal | undefined,
  ): Promise<{ result: ApplyResult; index: number }> {
    // Validated before it is appended: an entry that does not decode never reaches the log.
    let data: Uint8Array;
    let replica: Replica;
    try {
      data = encodeCommand(command(Math.floor(this.#clock.now())));
      replica = this.#replica(partition);
    } catch (error) {
      this.#o.observer?.proposal?.(partition, "rejected", 0);
      throw error;
    }
    return proposeAndWait(this.#requests, replica, data, signal);
  }

  /**
   * At each partition this node leads, proposes the removal of keys whose time has passed, in
   * bounded batches, one batch in flight per partition. Replicas remove each key only if it is
   * still at the version that expired, so a key written again in the meantime stays.
   */
  #expireKeys(): void {
    for (const r of this.#replicas.values()) {
      if (!r.node.isLeader || r.fatal || this.#expiring.has(r.partition)) continue;
      const keys = r.sm.expired(Math.floor(this.#clock.now()), MAX_EXPIRE_BATCH);
      if (keys.length === 0) continue;
      this.#expiring.add(r.partition);
      this.#propose(r.partition, (time) => ({ op: "expire", time, keys }), undefined)
        .catch(() => {}) // not the leader any more, or a leader change: the next sweep retries
        .finally(() => this.#expiring.delete(r.partition));
    }
  }

  /** Storage failed: stop serving rather than acknowledge anything on top of a lost write. */
  #storageFailed(error: Error): void {
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    const failure = `Storage failed: ${error.message}`;
    for (const r of this.#replicas.values()) {
      r.failAll(new OutcomeUnknownError(failure), new UnavailableError(failure));
    }
  }
}
