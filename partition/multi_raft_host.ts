/**
 * The Multi-Raft host: one node's runtime for all the partitions it replicates. It turns the
 * pure Raft core into a key-value service: one tick loop, one storage write per round for all
 * partitions (group commit), one batch per peer per round, and the state machines.
 *
 * A round does the Ready contract for every partition that has work:
 *
 * 1. persist every partition's hard state, snapshot and entries in **one** storage write;
 * 2. send every message, grouped by peer;
 * 3. restore snapshots, apply committed entries, settle proposals and reads;
 * 4. advance, then compact partitions whose log passed the compaction policy.
 *
 * While a round waits on its fsync, new proposals and messages accumulate and go out together
 * in the next round: batching and pipelining come from the loop's shape, not from timers.
 *
 * @module
 */
import {
  NotLeaderError,
  ProposalDroppedError,
  RaftNode,
  type RaftStatus,
  type Ready,
  SeededRandom,
} from "../raft/mod.ts";
import type { RaftEvent } from "../raft/events.ts";
import type { NodeId } from "../raft/types.ts";
import type { PartitionWrite, RaftStorage } from "../storage/raft_storage.ts";
import { decodeCommand, encodeCommand, type KvCommand, validateCommand } from "./command.ts";
import { type CompactionPolicy, shouldCompact } from "./compaction.ts";
import { TimeoutError, UnavailableError, WrongNodeError } from "./errors.ts";
import { KvStateMachine } from "./kv_state_machine.ts";
import { PartitionMap } from "./placement.ts";
import type { PartitionMessage, RaftTransport } from "./transport.ts";

/**
 * How a read is served.
 *
 * - `linearizable`: at the leader, confirmed by a ReadIndex heartbeat round.
 * - `follower`: at any replica, which gets a read index from the leader and waits to apply it;
 *   linearizable too.
 * - `stale`: from the local replica's state, which may lag.
 *
 * @example Usage
 * ```ts
 * import type { ReadMode } from "@prkdb/prkdb/partition";
 * const mode: ReadMode = "follower";
 * ```
 */
export type ReadMode = "linearizable" | "follower" | "stale";

/**
 * Options for {@linkcode MultiRaftHost.start}.
 *
 * @example Usage
 * ```ts
 * import type { HostOptions } from "@prkdb/prkdb/partition";
 * ```
 */
export interface HostOptions {
  /** This node's id. */
  nodeId: NodeId;
  /** Every member of the cluster, this node included. */
  members: readonly NodeId[];
  /** How many partitions the cluster has. Default 8. */
  partitions?: number;
  /** Replicas per partition. Default 3. */
  replicationFactor?: number;
  /** Durable storage for this node's partitions. */
  storage: RaftStorage;
  /** Sends messages to peers. */
  transport: RaftTransport;
  /** Milliseconds per Raft tick. Default 100. */
  tickMs?: number;
  /** Ticks before a follower campaigns (randomized up to twice this). Default 10. */
  electionTick?: number;
  /** When to compact a partition's log. */
  compaction?: CompactionPolicy;
  /** How long a request may wait for commit or a read index. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** Receives what the host does, for telemetry. */
  observer?: HostObserver;
}

/**
 * Receives what a host does, for metrics: the core's events, proposal outcomes and latency,
 * storage write durations, and applied changes.
 *
 * @example Usage
 * ```ts
 * import type { HostObserver } from "@prkdb/prkdb/partition";
 * const quiet: HostObserver = {};
 * ```
 */
export interface HostObserver {
  /** The Raft events a partition's core emitted in one round. */
  events?(partition: number, events: readonly RaftEvent[]): void;
  /** A client write finished: committed, rejected, lost (leader changed) or timeout. */
  proposal?(
    partition: number,
    outcome: "committed" | "rejected" | "lost" | "timeout",
    seconds: number,
  ): void;
  /** One durable storage write (a whole round) took this long. */
  storageWrite?(seconds: number): void;
  /** A partition applied this many changes (client writes), up to `index`. */
  applied?(partition: number, count: number, index: number): void;
  /** A partition took a snapshot of its state machine. */
  snapshotTaken?(partition: number): void;
}

/**
 * How one follower of a partition this node leads is doing.
 *
 * @example Usage
 * ```ts
 * import type { FollowerReplication } from "@prkdb/prkdb/partition";
 * ```
 */
export interface FollowerReplication {
  /** The follower. */
  readonly follower: NodeId;
  /** Entries it has not acknowledged. */
  readonly pending: number;
  /** Age of the oldest entry it lacks, 0 when caught up. */
  readonly lagSeconds: number;
  /** Whether it answered within the current CheckQuorum period. */
  readonly active: boolean;
}

interface PendingWrite {
  readonly term: number;
  readonly resolve: (found: boolean) => void;
  readonly reject: (error: Error) => void;
}

interface PendingRead {
  index: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** One partition this node replicates: its Raft node, its state machine, its waiting requests. */
class Replica {
  readonly partition: number;
  readonly node: RaftNode;
  readonly sm = new KvStateMachine();
  readonly writes = new Map<number, PendingWrite>();
  readonly reads = new Map<number, PendingRead>();

  constructor(partition: number, node: RaftNode) {
    this.partition = partition;
    this.node = node;
  }
}

/**
 * A partition's state as this node sees it.
 *
 * @example Usage
 * ```ts
 * import type { PartitionStatus } from "@prkdb/prkdb/partition";
 * ```
 */
export interface PartitionStatus {
  /** The partition. */
  readonly partition: number;
  /** Its replicas, preferred leader first. */
  readonly replicas: readonly NodeId[];
  /** This node's Raft view of it. */
  readonly raft: RaftStatus;
}

/**
 * A node's runtime for all its partitions.
 *
 * @example A one-node cluster in memory
 * ```ts
 * import { MemoryNetwork, MultiRaftHost } from "@prkdb/prkdb/partition";
 * import { MemoryStorage } from "@prkdb/prkdb/storage";
 * const net = new MemoryNetwork();
 * const host = await MultiRaftHost.start({
 *   nodeId: 1, members: [1], partitions: 2, storage: new MemoryStorage(), transport: net.transport(1), tickMs: 10,
 * });
 * net.register(1, (from, msgs) => host.receive(from, msgs));
 * await host.waitForLeaders(5000);
 * await host.put(new TextEncoder().encode("k"), new TextEncoder().encode("v"));
 * console.log(new TextDecoder().decode(await host.get(new TextEncoder().encode("k")))); // "v"
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
    & Required<Omit<HostOptions, "observer" | "compaction">>
    & Pick<HostOptions, "observer" | "compaction">;
  /** Per partition this node leads: when each appended index arrived, for time-based lag. */
  readonly #appendTimes = new Map<number, [index: number, ms: number][]>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;
  #again = false;
  #stopped = false;
  #failed: Error | undefined;
  #nextContext = 1;
  #ticks = 0;
  #busyMs = 0;
  #roundStarted = performance.now();

  private constructor(options: HostOptions) {
    this.#o = {
      partitions: 8,
      replicationFactor: 3,
      tickMs: 100,
      electionTick: 10,
      requestTimeoutMs: 5000,
      ...options,
    };
    this.nodeId = options.nodeId;
    this.map = new PartitionMap(options.members, this.#o.partitions, this.#o.replicationFactor);
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
        id: host.nodeId,
        voters: host.map.replicas(p),
        // Seeded by node and partition: reproducible, yet different per group.
        random: new SeededRandom(host.nodeId * 7919 + p * 104729),
        electionTick: host.#o.electionTick,
        heartbeatTick: 1,
      }, state);
      const replica = new Replica(p, node);
      if (state.snapshot) replica.sm.restore(state.snapshot.data);
      host.#replicas.set(p, replica);
    }
    host.#timer = setInterval(() => host.#tick(), host.#o.tickMs);
    return host;
  }

  /** The storage failure that stopped this node, if one did: it then refuses every request. */
  get failure(): Error | undefined {
    return this.#failed;
  }

  /** The partitions this node replicates. */
  get partitions(): number[] {
    return [...this.#replicas.keys()];
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
    }));
  }

  /**
   * Replication progress of every follower of every partition this node leads. Lag is measured
   * in time: the age of the oldest entry a follower does not have yet.
   *
   * @returns One entry per led partition.
   */
  replication(): { partition: number; followers: FollowerReplication[] }[] {
    const now = performance.now();
    const out: { partition: number; followers: FollowerReplication[] }[] = [];
    for (const r of this.#replicas.values()) {
      if (!r.node.isLeader) continue;
      const status = r.node.status();
      const times = this.#appendTimes.get(r.partition) ?? [];
      out.push({
        partition: r.partition,
        followers: status.followers.map((f) => {
          const pending = Math.max(0, status.lastLogIndex - f.matchIndex);
          // The oldest entry it lacks is matchIndex + 1: find the batch that appended it.
          let oldest: [number, number] | undefined;
          if (pending > 0) {
            for (const record of times) {
              if (record[0] > f.matchIndex + 1) break;
              oldest = record;
            }
            oldest ??= times[0];
          }
          return {
            follower: f.id,
            pending,
            lagSeconds: oldest ? (now - oldest[1]) / 1000 : 0,
            active: f.recentActive,
          };
        }),
      });
    }
    return out;
  }

  /**
   * A partition's change feed: the commands applied after `afterIndex`, or, when the reader is
   * behind the compaction point, the state machine's snapshot to start from.
   *
   * @param partition The partition (this node must replicate it).
   * @param afterIndex The reader's last applied index.
   * @param limit The most changes to return.
   * @returns Changes with their indexes, and the index the feed has reached.
   */
  changeFeed(partition: number, afterIndex: number, limit: number):
    | {
      kind: "changes";
      changes: { index: number; command: KvCommand | undefined }[];
      appliedIndex: number;
    }
    | { kind: "snapshot"; index: number; data: Uint8Array; appliedIndex: number } {
    const r = this.#replica(partition);
    const entries = r.node.appliedEntries(afterIndex, limit);
    if (entries === "compacted") {
      // The state machine is at its applied index; hand it over whole.
      return {
        kind: "snapshot",
        index: r.sm.appliedIndex,
        data: r.sm.snapshot(),
        appliedIndex: r.sm.appliedIndex,
      };
    }
    return {
      kind: "changes",
      changes: entries.map((e) => ({
        index: e.index,
        command: e.type === "normal" ? decodeCommand(e.data) : undefined,
      })),
      appliedIndex: r.sm.appliedIndex,
    };
  }

  /**
   * The share of wall time the loop spent in rounds since the last call: how busy the node is.
   *
   * @returns A fraction in `[0, 1]`.
   */
  takeLoopUtilization(): number {
    const now = performance.now();
    const elapsed = now - this.#roundStarted;
    const busy = this.#busyMs;
    this.#busyMs = 0;
    this.#roundStarted = now;
    return elapsed > 0 ? Math.min(1, busy / elapsed) : 0;
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
      if (!replica || message.from !== from) {
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
   * @param signal Aborts the wait (the write may still commit).
   * @returns The partition and the log index of the write.
   */
  async put(
    key: Uint8Array,
    value: Uint8Array,
    signal?: AbortSignal,
  ): Promise<{ partition: number; index: number }> {
    const r = await this.#propose({ op: "put", key, value }, signal);
    return { partition: r.partition, index: r.index };
  }

  /**
   * Deletes a key, once a quorum has the deletion.
   *
   * @param key The key.
   * @param signal Aborts the wait.
   * @returns Whether the key existed, the partition and the log index.
   */
  delete(
    key: Uint8Array,
    signal?: AbortSignal,
  ): Promise<{ found: boolean; partition: number; index: number }> {
    return this.#propose({ op: "delete", key }, signal);
  }

  /**
   * Reads a key.
   *
   * @param key The key.
   * @param mode How to read (default linearizable).
   * @param signal Aborts the wait.
   * @returns The value, or `undefined` when absent.
   */
  async get(
    key: Uint8Array,
    mode: ReadMode = "linearizable",
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined> {
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
      await this.#wait(`Read from partition ${partition}`, signal, (resolve, reject) => {
        replica.reads.set(context, { index: 0, resolve, reject });
        this.#schedule();
        return () => replica.reads.delete(context);
      });
    }
    return replica.sm.get(key);
  }

  /**
   * Resolves once every partition this node replicates has a leader.
   *
   * @param timeoutMs How long to wait.
   */
  async waitForLeaders(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.#replicas.values()].some((r) => r.node.leaderId === 0)) {
      if (Date.now() > deadline) {
        throw new TimeoutError(`Not every partition had a leader within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, this.#o.tickMs));
    }
  }

  /** Stops ticking, fails waiting requests, and closes the transport and storage. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    while (this.#running) await new Promise((r) => setTimeout(r, 5));
    const stopped = new UnavailableError("The node is shutting down");
    for (const r of this.#replicas.values()) {
      for (const w of r.writes.values()) w.reject(stopped);
      for (const read of r.reads.values()) read.reject(stopped);
      r.writes.clear();
      r.reads.clear();
    }
    await this.#o.transport.close();
    await this.#o.storage.close();
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
    return replica;
  }

  async #propose(
    command: KvCommand,
    signal?: AbortSignal,
  ): Promise<{ found: boolean; partition: number; index: number }> {
    const partition = this.map.partitionOf(command.key);
    const started = performance.now();
    const outcome = (o: "committed" | "rejected" | "lost" | "timeout") =>
      this.#o.observer?.proposal?.(partition, o, (performance.now() - started) / 1000);
    let replica: Replica;
    let position: { index: number; term: number };
    try {
      validateCommand(command);
      replica = this.#replica(partition);
      position = replica.node.propose(encodeCommand(command));
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
      const found = await this.#wait<boolean>(
        `Write to partition ${partition}`,
        signal,
        (resolve, reject) => {
          replica.writes.set(position.index, { term: position.term, resolve, reject });
          this.#schedule();
          return () => replica.writes.delete(position.index);
        },
      );
      outcome("committed");
      return { found, partition, index: position.index };
    } catch (error) {
      outcome(error instanceof TimeoutError ? "timeout" : "lost");
      throw error;
    }
  }

  /** Waits for a request to settle, bounded by the request timeout and the caller's signal. */
  #wait<T = void>(
    what: string,
    signal: AbortSignal | undefined,
    register: (resolve: (v: T) => void, reject: (e: Error) => void) => () => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`${what} did not finish within ${this.#o.requestTimeoutMs} ms`));
      }, this.#o.requestTimeoutMs);
      const onAbort = () => {
        cleanup();
        reject(signal!.reason ?? new TimeoutError(`${what} was aborted`));
      };
      const unregister = register((v) => {
        cleanup();
        resolve(v);
      }, (e) => {
        cleanup();
        reject(e);
      });
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        unregister();
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort);
    });
  }

  #tick(): void {
    this.#ticks++;
    for (const r of this.#replicas.values()) r.node.tick();
    if (this.#ticks % (this.#o.electionTick * 3) === 0) this.#balanceLeaders();
    this.#schedule();
  }

  /**
   * Spreads leaders: a partition led by a node other than its preferred leader hands
   * leadership over once the preferred replica is caught up and responsive.
   */
  #balanceLeaders(): void {
    for (const r of this.#replicas.values()) {
      if (!r.node.isLeader) continue;
      const preferred = this.map.replicas(r.partition)[0];
      if (preferred === this.nodeId) continue;
      const status = r.node.status();
      const target = status.followers.find((f) => f.id === preferred);
      if (target && target.recentActive && target.matchIndex === status.lastLogIndex) {
        r.node.transferLeadership(preferred);
      }
    }
  }

  /**
   * Runs rounds until no partition has work; never two at once. Everything that creates work
   * (messages, proposals, reads, ticks, compaction) calls this, and a call during a round asks
   * for one more round, so a round never needs to schedule itself.
   */
  #schedule(): void {
    if (this.#stopped && !this.#running) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    queueMicrotask(() => this.#rounds());
  }

  async #rounds(): Promise<void> {
    try {
      do {
        this.#again = false;
        const started = performance.now();
        await this.#round();
        this.#busyMs += performance.now() - started;
      } while (this.#again && !this.#failed);
    } catch (error) {
      // Storage failed: stop serving rather than acknowledge anything on top of a lost write.
      this.#failed = error as Error;
      clearInterval(this.#timer);
      const failure = new UnavailableError(`Storage failed: ${(error as Error).message}`);
      for (const r of this.#replicas.values()) {
        for (const w of r.writes.values()) w.reject(failure);
        for (const read of r.reads.values()) read.reject(failure);
      }
    } finally {
      this.#running = false;
    }
  }

  async #round(): Promise<void> {
    const work: [Replica, Ready][] = [];
    for (const r of this.#replicas.values()) if (r.node.hasReady()) work.push([r, r.node.ready()]);
    if (work.length === 0) return;
    // 1. Persist everything, for every partition, in one durable write.
    const writes: PartitionWrite[] = [];
    for (const [r, rd] of work) {
      if (rd.hardState || rd.snapshot || rd.truncateFrom !== undefined || rd.entries.length > 0) {
        writes.push({
          partition: r.partition,
          hardState: rd.hardState,
          snapshot: rd.snapshot,
          truncateFrom: rd.truncateFrom,
          entries: rd.entries,
        });
      }
    }
    if (writes.length > 0) {
      const started = performance.now();
      await this.#o.storage.write(writes);
      this.#o.observer?.storageWrite?.((performance.now() - started) / 1000);
    }
    this.#recordAppendTimes(work);
    // 2. Send, one batch per peer.
    const outbox = new Map<NodeId, PartitionMessage[]>();
    for (const [r, rd] of work) {
      for (const message of rd.messages) {
        let batch = outbox.get(message.to);
        if (!batch) outbox.set(message.to, batch = []);
        batch.push({ partition: r.partition, message });
      }
    }
    for (const [peer, batch] of outbox) this.#o.transport.send(peer, batch);
    // 3. Apply, settle, and 4. advance.
    for (const [r, rd] of work) {
      this.#apply(r, rd);
      if (rd.events.length > 0) this.#o.observer?.events?.(r.partition, rd.events);
      r.node.advance(rd);
      this.#maybeCompact(r);
    }
  }

  /** Remembers when a leader appended each batch, and forgets what every follower has. */
  #recordAppendTimes(work: readonly [Replica, Ready][]): void {
    const now = performance.now();
    for (const [r, rd] of work) {
      if (!r.node.isLeader) {
        this.#appendTimes.delete(r.partition);
        continue;
      }
      const status = r.node.status();
      let times = this.#appendTimes.get(r.partition);
      if (!times) this.#appendTimes.set(r.partition, times = []);
      if (rd.entries.length > 0) times.push([rd.entries[0].index, now]);
      // Keep only what some follower still lacks (the first kept record may start earlier).
      const acked = Math.min(...status.followers.map((f) => f.matchIndex));
      while (times.length > 1 && times[1][0] <= acked + 1) times.shift();
    }
  }

  #apply(r: Replica, rd: Ready): void {
    if (rd.snapshot && rd.snapshot.meta.index > r.sm.appliedIndex) {
      r.sm.restore(rd.snapshot.data);
      // Proposals the snapshot swallowed cannot be told apart from lost ones.
      for (const [index, w] of r.writes) {
        if (index > rd.snapshot.meta.index) continue;
        r.writes.delete(index);
        w.reject(
          new UnavailableError(
            `Partition ${r.partition}: leadership changed; the write may or may not have been applied`,
          ),
        );
      }
    }
    let applied = 0;
    for (const e of rd.committedEntries) {
      if (e.type === "normal") applied++;
      const result = r.sm.apply(e);
      const w = r.writes.get(e.index);
      if (!w) continue;
      r.writes.delete(e.index);
      if (e.term === w.term) w.resolve(result.found);
      else {
        // Another leader's entry was committed at our index: ours never will be.
        w.reject(
          new UnavailableError(
            `Partition ${r.partition}: the write was lost in a leader change; retry`,
          ),
        );
      }
    }
    if (applied > 0) this.#o.observer?.applied?.(r.partition, applied, r.sm.appliedIndex);
    for (const rs of rd.readStates) {
      const read = r.reads.get(rs.context);
      if (read) read.index = rs.index;
    }
    for (const context of rd.droppedReads) {
      const read = r.reads.get(context);
      if (read) {
        read.reject(
          new UnavailableError(
            `Partition ${r.partition}: leadership changed during the read; retry`,
          ),
        );
      }
    }
    for (const read of r.reads.values()) {
      if (read.index > 0 && r.sm.appliedIndex >= read.index) read.resolve();
    }
  }

  #maybeCompact(r: Replica): void {
    if (!this.#o.compaction) return;
    const status = r.node.status();
    if (!shouldCompact(status, this.#o.compaction)) return;
    r.node.compact(status.lastApplied, r.sm.snapshot());
    this.#o.observer?.snapshotTaken?.(r.partition);
    this.#schedule();
  }
}
