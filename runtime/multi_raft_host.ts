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
import { NotLeaderError, ProposalDroppedError, RaftNode, SeededRandom } from "../raft/mod.ts";
import type { NodeId } from "../raft/types.ts";
import type { RaftStatus } from "../raft/mod.ts";
import { type Check, encodeCommand, type Mutation, type SessionRef } from "../partition/command.ts";
import {
  CrossPartitionError,
  OutcomeUnknownError,
  SessionExpiredError,
  StaleRequestError,
  TimeoutError,
  UnavailableError,
  WrongNodeError,
} from "../partition/errors.ts";
import type { ApplyResult, VersionedValue } from "../partition/kv_state_machine.ts";
import { PartitionMap } from "../partition/placement.ts";
import type { ReadMode } from "../partition/read_mode.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import { formatVersion } from "../partition/version.ts";
import { changeFeed, type ChangeFeedPage } from "./change_feed.ts";
import { type Clock, systemClock } from "./clock.ts";
import { balanceLeaders } from "./leader_balance.ts";
import { LoopUtilization } from "./loop_utilization.ts";
import type { HostOptions, ProposalOutcome } from "./options.ts";
import { Replica } from "./replica.ts";
import { awaitRequest } from "./requests.ts";
import { type FollowerReplication, ReplicationLag } from "./replication_lag.ts";
import { runRound } from "./round.ts";

/**
 * A partition's state as this node sees it.
 *
 * @example Usage
 * ```ts
 * import type { PartitionStatus } from "@prkdb/prkdb/runtime";
 * ```
 */
export interface PartitionStatus {
  /** The partition. */
  readonly partition: number;
  /** Its replicas, preferred leader first. */
  readonly replicas: readonly NodeId[];
  /** This node's Raft view of it. */
  readonly raft: RaftStatus;
  /** The index the state machine has applied (it can trail `raft.lastApplied` within a round). */
  readonly applied: number;
  /** Why this replica stopped, when an entry could not be applied. */
  readonly fatal?: string;
}

/**
 * Options of a write: its session, a condition, and cancellation.
 *
 * @example Usage
 * ```ts
 * import type { WriteOptions } from "@prkdb/prkdb/runtime";
 * const o: WriteOptions = { ifVersion: null }; // only if the key is absent
 * ```
 */
export interface WriteOptions {
  /** The write's session, so that a retry is applied at most once. */
  session?: SessionRef;
  /** Apply only if the key is at this version (`null`: only if absent). */
  ifVersion?: string | null;
  /** Aborts the wait (the write may still commit). */
  signal?: AbortSignal;
}

/**
 * What a write did. `ok` is false when its condition did not hold (nothing changed).
 *
 * @example Usage
 * ```ts
 * import type { WriteResult } from "@prkdb/prkdb/runtime";
 * ```
 */
export interface WriteResult {
  /** Whether the write was applied. */
  readonly ok: boolean;
  /** The version it wrote (when applied). */
  readonly version?: string;
  /** For a delete: whether the key existed. For an atomic write: whether the first did. */
  readonly found: boolean;
  /** Which check failed, when `ok` is false. */
  readonly failedCheck?: number;
  /** The partition. */
  readonly partition: number;
  /** The log index of the entry. */
  readonly index: number;
}

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
  #tickTimer: number | undefined;
  #rounds: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #failed: Error | undefined;
  #nextContext = 1;
  #ticks = 0;

  private constructor(options: HostOptions) {
    this.#o = { tickMs: 100, electionTick: 10, requestTimeoutMs: 5000, ...options };
    this.#clock = options.clock ?? systemClock;
    this.#utilization = new LoopUtilization(this.#clock);
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
      }, state);
      host.#replicas.set(p, new Replica(p, node, state.snapshot?.data));
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
    return this.#failed;
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
    return [...this.#replicas.values()].map((r) => ({
      partition: r.partition,
      replicas: this.map.replicas(r.partition),
      raft: r.node.status(),
      applied: r.sm.appliedIndex,
      ...(r.fatal ? { fatal: r.fatal.message } : {}),
    }));
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
    this.#schedule();
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
  put(key: Uint8Array, value: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    return this.atomic(conditions(key, options), [{ type: "set", key, value }], options);
  }

  /**
   * Deletes a key, once a quorum has the deletion.
   *
   * @param key The key.
   * @param options Session, condition, cancellation.
   * @returns Whether it was applied, whether the key existed, partition and log index.
   */
  delete(key: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    return this.atomic(conditions(key, options), [{ type: "delete", key }], options);
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
    mutations: readonly Mutation[],
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
      mutations,
    }), options.signal);
    if (result.op !== "write") throw new RangeError(`Entry ${index} is not a write`);
    const o = result.outcome;
    switch (o.kind) {
      case "ok":
        return {
          ok: true,
          version: formatVersion(partition, o.index),
          found: o.found[0] ?? false,
          partition,
          index,
        };
      case "checkFailed":
        return { ok: false, found: false, failedCheck: o.check, partition, index };
      case "sessionExpired":
        throw new SessionExpiredError(partition, options.session?.id ?? 0);
      case "staleRequest":
        throw new StaleRequestError(partition, options.session?.id ?? 0, options.session?.seq ?? 0);
    }
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
    const partition = this.map.partitionOf(key);
    const replica = this.#replica(partition);
    if (mode !== "stale") {
      if (mode === "linearizable" && !replica.node.isLeader) {
        throw new WrongNodeError(partition, replica.node.leaderId, "is not the leader");
      }
      const context = this.#nextContext++;
      try {
        replica.node.readIndex(context);
      } catch (error) {
        if (error instanceof NotLeaderError) {
          throw new UnavailableError(`Partition ${partition} has no leader yet; retry shortly`);
        }
        throw error;
      }
      await awaitRequest<void>(
        this.#clock,
        this.#o.requestTimeoutMs,
        `Read from partition ${partition}`,
        signal,
        (resolve, reject) => {
          replica.reads.set(context, { index: 0, resolve, reject });
          this.#schedule();
          return () => replica.reads.delete(context);
        },
      );
    }
    return replica.sm.read(key);
  }

  /** Advances every partition's Raft clock by one tick, and balances leaders now and then. */
  tick(): void {
    this.#ticks++;
    for (const r of this.#replicas.values()) if (!r.fatal) r.node.tick();
    if (this.#o.balanceLeaders !== false && this.#ticks % (this.#o.electionTick * 3) === 0) {
      balanceLeaders(this.#replicas.values(), this.map, this.nodeId);
    }
    this.#schedule();
  }

  /** Runs rounds until no partition has work. With `drive: "manual"`, the caller's only way to make progress. */
  async flush(): Promise<void> {
    while (this.#rounds) await this.#rounds;
    if (this.#failed || this.#stopped) return;
    this.#again = true;
    await (this.#rounds = this.#runRounds());
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
    while (this.#rounds) await this.#rounds;
    const stopped = "The node is shutting down";
    for (const r of this.#replicas.values()) {
      r.failAll(new OutcomeUnknownError(stopped), new UnavailableError(stopped));
    }
    await this.#o.transport.close();
    await this.#o.storage.close();
  }

  #scheduleTick(): void {
    this.#tickTimer = this.#clock.setTimeout(() => {
      if (this.#stopped || this.#failed) return;
      this.tick();
      this.#scheduleTick();
    }, this.#o.tickMs);
  }

  #replica(partition: number): Replica {
    if (this.#failed) {
      throw new UnavailableError(
        `This node stopped serving after a storage failure: ${this.#failed.message}`,
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
  async #propose(
    partition: number,
    command: (time: number) => Parameters<typeof encodeCommand>[0],
    signal: AbortSignal | undefined,
  ): Promise<{ result: ApplyResult; index: number }> {
    const started = this.#clock.now();
    const outcome = (o: ProposalOutcome) =>
      this.#o.observer?.proposal?.(partition, o, (this.#clock.now() - started) / 1000);
    let replica: Replica;
    let position: { index: number; term: number };
    try {
      // Validated before it is appended: an entry that does not decode never reaches the log.
      const data = encodeCommand(command(Math.floor(this.#clock.now())));
      replica = this.#replica(partition);
      position = replica.node.propose(data);
    } catch (error) {
      outcome("rejected");
      if (error instanceof NotLeaderError) {
        throw new WrongNodeError(partition, error.leaderId, "is not the leader");
      }
      if (error instanceof ProposalDroppedError) {
        throw new UnavailableError(`Partition ${partition}: ${error.message}`);
      }
      throw error;
    }
    try {
      const result = await awaitRequest<ApplyResult>(
        this.#clock,
        this.#o.requestTimeoutMs,
        `Write to partition ${partition}`,
        signal,
        (resolve, reject) => {
          const untrack = replica.trackWrite(position.index, {
            term: position.term,
            resolve,
            reject,
          });
          this.#schedule();
          return untrack;
        },
      );
      outcome("committed");
      return { result, index: position.index };
    } catch (error) {
      outcome(error instanceof TimeoutError ? "timeout" : "lost");
      throw error;
    }
  }

  /**
   * Runs rounds until no partition has work; never two at once. Everything that creates work
   * (messages, proposals, reads, ticks) calls this, and a call during a round asks for one more.
   */
  #schedule(): void {
    if (this.#stopped || this.#failed) return;
    this.#again = true;
    if (this.#o.drive === "manual" || this.#rounds) return;
    this.#rounds = this.#runRounds();
  }

  async #runRounds(): Promise<void> {
    // Start in a microtask, so that work arriving in the same turn joins the first round.
    await Promise.resolve();
    try {
      while (this.#again && !this.#failed) {
        this.#again = false;
        const started = this.#clock.now();
        const worked = await runRound(this.#replicas.values(), {
          storage: this.#o.storage,
          transport: this.#o.transport,
          now: () => this.#clock.now(),
          compaction: this.#o.compaction,
          lag: this.#lag,
          observer: this.#o.observer,
        });
        this.#utilization.busy(this.#clock.now() - started);
        // A round that compacted or released work may leave more: check once more.
        if (worked) this.#again = true;
      }
    } catch (error) {
      // Storage failed: stop serving rather than acknowledge anything on top of a lost write.
      this.#failed = error as Error;
      if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
      const failure = `Storage failed: ${(error as Error).message}`;
      for (const r of this.#replicas.values()) {
        r.failAll(new OutcomeUnknownError(failure), new UnavailableError(failure));
      }
    } finally {
      this.#rounds = undefined;
    }
  }
}

/** The check a write's `ifVersion` option stands for. */
function conditions(key: Uint8Array, options: WriteOptions): Check[] {
  return options.ifVersion === undefined ? [] : [{ key, version: options.ifVersion }];
}
