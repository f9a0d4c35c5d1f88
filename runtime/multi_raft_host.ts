/**
 * The Multi-Raft host: one node's runtime for all the partitions it replicates. It composes
 * one {@linkcode Replica} per partition over one storage and one transport, runs the Ready
 * contract for all of them in rounds ({@linkcode runRound}), and offers the key-value API:
 * versioned reads in three modes, writes with conditions, atomic batches and client sessions.
 *
 * Time comes from an injected {@linkcode Clock}, and with `drive: "manual"` nothing happens
 * until the caller ticks and flushes: the deterministic simulation runs this same host.
 *
 * @module
 */
import { members, type Message, RaftNode, type RestoredState, SeededRandom } from "../raft/mod.ts";
import type { MembershipChange } from "../raft/membership.ts";
import type { NodeId } from "../raft/types.ts";
import type { Check } from "../partition/command.ts";
import {
  OutcomeUnknownError,
  TimeoutError,
  UnavailableError,
  WrongNodeError,
} from "../partition/errors.ts";
import { type Change, KvStateMachine, type VersionedValue } from "../partition/kv_state_machine.ts";
import { PartitionMap } from "../partition/placement.ts";
import type { ReadMode } from "../partition/read_mode.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import { changeFeed, type ChangeFeedPage } from "./change_feed.ts";
import type { ChangesPage } from "./change_history.ts";
import { type Clock, systemClock } from "./clock.ts";
import { Deadlines } from "./deadlines.ts";
import {
  changeMembershipAndWait,
  readIndexAndWait,
  type RequestContext,
} from "./client_requests.ts";
import { EXPIRY_SWEEP_TICKS, KvApi, type TimedMutation } from "./kv_api.ts";
import { balanceLeaders } from "./leader_balance.ts";
import { WriteOrigins } from "./write_origins.ts";
import { LoopUtilization } from "./loop_utilization.ts";
import type { HostOptions } from "./options.ts";
import type { KeyRange } from "./reads.ts";
import { type PartitionStatus, Replica } from "./replica.ts";
import { type FollowerReplication, ReplicationLag } from "./replication_lag.ts";
import { runRound } from "./round.ts";
import {
  isLeading,
  leadingBitset,
  NodeLiveness,
  PING_TICKS,
  wakeIsolatedLeaders,
  wakeOrphans,
} from "./node_liveness.ts";
import { RoundLoop } from "./round_loop.ts";
import type { WriteOptions, WriteResult } from "./write_result.ts";

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
 * net.register(1, (from, msgs, leading) => host.receive(from, msgs, leading));
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
  /** When each peer was last heard from, for quiet partitions. */
  readonly #liveness: NodeLiveness;
  /** Replicas that may have work: stepped, proposed to, read from or ticked since their round. */
  readonly #dirty = new Set<Replica>();
  /** Partitions an operator moved here: balancing leaves their leadership with this node. */
  readonly #pinned = new Set<number>();
  /** Where each partition's recent writes came from: leadership follows its writers. */
  readonly #origins: WriteOrigins;
  /** Balancing passes this node has led each partition, for leadership that follows writes. */
  readonly #tenure = new Map<number, number>();
  readonly #o:
    & HostOptions
    & Required<Pick<HostOptions, "tickMs" | "electionTick" | "requestTimeoutMs">>;
  readonly #clock: Clock;
  readonly #lag = new ReplicationLag();
  readonly #utilization: LoopUtilization;
  readonly #requests: RequestContext;
  #tickTimer: number | undefined;
  readonly #loop: RoundLoop;
  readonly #kv: KvApi;
  #stopped = false;
  #ticks = 0;
  /** Read contexts for consistent snapshots: far above the ones KvApi counts up from 1. */
  #nextSnapshotContext = 2 ** 47;

  private constructor(options: HostOptions) {
    this.nodeId = options.nodeId;
    this.#origins = new WriteOrigins(options.nodeId);
    this.map = new PartitionMap(
      options.members,
      options.partitions ?? 8,
      options.replicationFactor ?? 3,
    );
    this.#o = { tickMs: 100, electionTick: 10, requestTimeoutMs: 5000, ...options };
    this.#clock = options.clock ?? systemClock;
    this.#liveness = new NodeLiveness(this.#clock.now());
    this.#utilization = new LoopUtilization(this.#clock);
    this.#requests = {
      clock: this.#clock,
      deadlines: new Deadlines(this.#clock),
      timeoutMs: this.#o.requestTimeoutMs,
      observer: options.observer,
      schedule: (replica) => {
        if (replica) this.#dirty.add(replica);
        else this.#markAll();
        this.#loop.schedule();
      },
    };
    this.#kv = new KvApi({
      map: this.map,
      requests: this.#requests,
      observer: options.observer,
      replica: (p) => this.#replica(p),
      replicas: () => this.#replicas.values(),
    });
    this.#loop = new RoundLoop(async () => {
      // Only replicas something happened to: with many idle partitions, a round costs what
      // the busy ones need, not one look at every partition.
      const batch = [...this.#dirty];
      this.#dirty.clear();
      const worked = await runRound(batch, {
        storage: options.storage,
        transport: options.transport,
        now: () => this.#clock.now(),
        compaction: options.compaction,
        lag: this.#lag,
        observer: options.observer,
      });
      // What a round applied or released may leave more to do for the same replicas.
      if (worked) { for (const r of batch) this.#dirty.add(r); }
      return worked;
    }, {
      clock: this.#clock,
      utilization: this.#utilization,
      manual: options.drive === "manual",
      onFailure: (error) => this.#storageFailed(error),
    });
  }

  /**
   * Recovers this node's partitions from storage and starts ticking.
   *
   * @param options The node's configuration.
   * @returns The running host.
   */
  static async start(options: HostOptions): Promise<MultiRaftHost> {
    const host = new MultiRaftHost(options);
    for (let p = 0; p < host.map.partitions; p++) {
      const placed = host.map.replicas(p).includes(host.nodeId);
      const state = await options.storage.load(p);
      // A replica added by a membership change is not in the initial placement: the node
      // hosts every partition it holds Raft state for.
      const held = state.hardState.term > 0 || state.snapshot !== undefined ||
        state.entries.length > 0;
      if (placed || held) host.#host(p, state);
    }
    if (options.drive !== "manual") host.#scheduleTick();
    return host;
  }

  /**
   * Starts this node's replica of a partition from its stored state. In the initial placement
   * it starts as one of the placement's voters; otherwise it was added by a membership change
   * and starts as a learner: its log or snapshot tells it the real membership.
   */
  #host(partition: number, state: RestoredState, leader?: NodeId): Replica {
    const o = this.#o;
    const placement = this.map.replicas(partition);
    const placed = placement.includes(this.nodeId);
    const node = new RaftNode({
      heartbeatTick: 1,
      ...o.raft,
      id: this.nodeId,
      voters: placed ? placement : leader !== undefined ? [leader] : placement,
      learners: placed ? [] : [this.nodeId],
      // Seeded by node and partition: reproducible, yet different per group.
      random: new SeededRandom((o.seed ?? 0) * 31 + this.nodeId * 7919 + partition * 104729),
      electionTick: o.electionTick,
      quiesce: o.quiesce ?? true,
      // A snapshot from the leader must restore before it replaces anything.
      validateSnapshot: (data) => {
        try {
          new KvStateMachine(partition).restore(data);
          return undefined;
        } catch (error) {
          return (error as Error).message;
        }
      },
    }, state);
    const replica = new Replica(partition, node, state.snapshot?.data, o.watchHistory);
    replica.persistedHardState = state.hardState;
    this.#replicas.set(partition, replica);
    return replica;
  }

  /**
   * The cluster's members now: the nodes that may talk to this one and hold replicas.
   *
   * @returns Their ids.
   */
  members(): readonly NodeId[] {
    return this.#o.clusterMembers?.() ?? this.map.nodes;
  }

  /**
   * The replicas of a partition as this node knows them: its own replica's Raft membership
   * (the preferred leader first, then the other voters, then learners), else the initial
   * placement.
   *
   * @param partition The partition.
   * @returns Node ids, the preferred leader first.
   */
  replicasOf(partition: number): NodeId[] {
    const replica = this.#replicas.get(partition);
    const placement = this.map.replicas(partition);
    if (!replica) return placement;
    const { voters, learners } = replica.node.membership;
    // The preferred leader: the placement's first replica while it votes; once replicas moved
    // it away, a voter chosen by partition number, so moved partitions spread their leaders
    // over the nodes they now live on (new nodes included) instead of piling onto one.
    const first = voters.includes(placement[0]) ? placement[0] : voters[partition % voters.length];
    return [first, ...voters.filter((id) => id !== first), ...learners];
  }

  /** The partitions this node replicates. */
  get partitions(): number[] {
    return [...this.#replicas.values()].filter((r) => this.#isMember(r)).map((r) => r.partition);
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
    const replica = this.#replicas.get(partition);
    return replica !== undefined && this.#isMember(replica);
  }

  /**
   * Whether this node's replica is still in its group: one removed by a membership change
   * keeps its state on disk but serves nothing (it only learns of its own removal, so it must
   * not claim to know the leader or serve reads). A leader removing itself still leads until
   * the change commits, then steps down.
   */
  #isMember(replica: Replica): boolean {
    return replica.node.isLeader || members(replica.node.membership).includes(this.nodeId);
  }

  /**
   * The leader this node knows for a partition (`0` for none or when not a replica).
   *
   * @param partition The partition.
   * @returns The leader's id.
   */
  leaderOf(partition: number): NodeId {
    return this.isReplica(partition) ? this.#replicas.get(partition)!.node.leaderId : 0;
  }

  /**
   * Hands a partition's leadership to another replica (Raft leadership transfer, dissertation
   * section 3.10), as an operator asks. Only the leader can. Leader balancing leaves the
   * partition with `to` afterwards: `to` keeps it instead of handing it back to the preferred
   * replica.
   *
   * @param partition A partition this node replicates.
   * @param to The replica that should lead it.
   * @returns `false` when this node does not lead the partition (nothing happened).
   * @throws {WrongNodeError} When this node does not replicate the partition.
   * @throws {RaftError} When `to` is not a replica of the partition.
   */
  transferLeadership(partition: number, to: NodeId): boolean {
    const replica = this.#replica(partition);
    if (!replica.node.isLeader) return false;
    this.#pinned.delete(partition);
    replica.node.transferLeadership(to);
    this.#dirty.add(replica);
    this.#loop.schedule();
    return true;
  }

  /**
   * Changes a partition's Raft membership by one server (dissertation section 4.1): add a
   * learner, promote a learner that has caught up, or remove a member. Only the leader can; the
   * promise settles once the change is applied on this node.
   *
   * @param partition A partition this node leads.
   * @param change The change.
   * @returns The index of the `config` entry.
   * @throws {WrongNodeError} When this node does not lead the partition.
   * @throws {UnavailableError} When another change is in flight, a learner to promote is still
   *   catching up, or leadership is settling: retry.
   * @throws {MembershipChangeError} When the change is not possible (already a member, not a
   *   learner, the last voter).
   */
  changeMembership(partition: number, change: MembershipChange): Promise<number> {
    return changeMembershipAndWait(this.#requests, this.#replica(partition), change);
  }

  /**
   * A consistent copy of a partition's state: linearizable (a ReadIndex round confirms the
   * leader, and this replica has applied through its read index), taken at one applied index,
   * as the state machine's snapshot bytes. A backup of every partition is one of these each.
   *
   * @param partition A partition this node replicates (a follower is fine).
   * @param signal Aborts the wait.
   * @returns The applied index it was taken at, and the state.
   * @throws {WrongNodeError} When this node does not replicate the partition.
   * @throws {UnavailableError} When no leader is known.
   */
  async consistentSnapshot(
    partition: number,
    signal?: AbortSignal,
  ): Promise<{ index: number; state: Uint8Array }> {
    const replica = this.#replica(partition);
    await readIndexAndWait(this.#requests, replica, this.#nextSnapshotContext++, signal);
    // Synchronous from here: nothing is applied between reading the index and the state.
    return { index: replica.sm.appliedIndex, state: replica.sm.snapshot() };
  }

  /**
   * Makes this node keep a partition's leadership once it has it: leader balancing will not
   * hand it back to the preferred replica (until an operator moves it elsewhere).
   *
   * @param partition A partition this node replicates.
   */
  keepLeadership(partition: number): void {
    this.#replica(partition);
    this.#pinned.add(partition);
  }

  /**
   * Counts a client write to `partition` for leader balancing, which moves a partition's
   * leadership to the node nearly all its writes come through (see `leader_balance.ts`). A node
   * counts the writes its clients send it, whichever node leads, and a leader also those other
   * nodes pass on to it.
   *
   * @param partition The write's partition.
   * @param origin The node that passed it on; default: its client sent it to this node.
   */
  noteWrite(partition: number, origin: NodeId = this.nodeId): void {
    if (this.#o.balanceLeaders === false || this.#o.followWrites === false) return;
    this.#origins.record(partition, origin);
  }

  /**
   * Each replicated partition's status, also of replicas removed from their group (their
   * `raft.membership` does not include this node; see {@linkcode isReplica}).
   *
   * @returns One entry per partition this node holds a replica of.
   */
  status(): PartitionStatus[] {
    return [...this.#replicas.values()].map((r) => r.status(this.replicasOf(r.partition)));
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
   * @param leading With a liveness ping: the partitions the sender leads, as a bitset. Quiet
   *   followers whose leader is the sender wake at once if it no longer leads their partition
   *   (it restarted, or its replica stopped).
   * @returns How many messages were refused (unknown partition, stranger, malformed).
   */
  receive(from: NodeId, messages: readonly PartitionMessage[], leading?: Uint8Array): number {
    if (this.#stopped) return messages.length;
    this.#liveness.heard(from, this.#clock.now());
    if (leading) {
      // Followers of `from` in partitions it says it no longer leads: wake them now.
      const gone = (leader: NodeId, p: number) => leader === from && !isLeading(leading, p);
      for (const r of wakeOrphans(this.#replicas.values(), gone)) this.#dirty.add(r);
    }
    let refused = 0;
    for (const { partition, message } of messages) {
      const replica = this.#replicas.get(partition) ?? this.#joining(partition, from, message);
      if (!replica || replica.fatal || message.from !== from) {
        refused++;
        continue;
      }
      try {
        replica.node.step(message);
        this.#dirty.add(replica);
      } catch {
        refused++; // InvalidMessageError: not for this group, or malformed; nothing changed
      }
    }
    this.#loop.schedule();
    return refused;
  }

  /** Writes a key, once a quorum has it (see {@linkcode KvApi.put}). */
  put(
    key: Uint8Array,
    value: Uint8Array,
    options: WriteOptions & { expireInMs?: number } = {},
  ): Promise<WriteResult> {
    return this.#kv.put(key, value, options);
  }

  /**
   * For a put this node passed on to `partition`'s leader, which said the write's entry (`index`
   * of `term`) is durable there: runs `durable` once this replica holds that entry on disk as
   * well (at once if it does now). The write is then committed, and its answer follows from its
   * position (see `runtime/durability.ts`). Never runs when this node is no replica of the
   * partition, or holds another entry there.
   *
   * @param partition The write's partition.
   * @param index Its entry.
   * @param term The entry's term.
   * @param durable What to run.
   * @returns A function that stops waiting.
   */
  awaitDurable(partition: number, index: number, term: number, durable: () => void): () => void {
    const r = this.#replicas.get(partition);
    if (!r || r.fatal) return () => {};
    return r.durability.wait(index, term, durable);
  }

  /** Deletes a key, once a quorum has the deletion (see {@linkcode KvApi.delete}). */
  delete(key: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    return this.#kv.delete(key, options);
  }

  /** Applies checks and mutations as one log entry, all or nothing (see {@linkcode KvApi.atomic}). */
  atomic(
    checks: readonly Check[],
    mutations: readonly TimedMutation[],
    options: Pick<WriteOptions, "session" | "signal"> = {},
  ): Promise<WriteResult> {
    return this.#kv.atomic(checks, mutations, options);
  }

  /** Opens a client session on a partition, through its log. */
  openSession(partition: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.#kv.openSession(partition, timeoutMs, signal);
  }

  /** Reads a key with its version. */
  get(
    key: Uint8Array,
    mode: ReadMode = "linearizable",
    signal?: AbortSignal,
  ): Promise<VersionedValue | undefined> {
    return this.#kv.get(key, mode, signal);
  }

  /** Reads several keys of one partition (see {@linkcode KvApi.getMany}). */
  getMany(
    partition: number,
    keys: readonly Uint8Array[],
    mode: ReadMode = "linearizable",
    signal?: AbortSignal,
  ): Promise<(VersionedValue | undefined)[]> {
    return this.#kv.getMany(partition, keys, mode, signal);
  }

  /** Reads a range of one partition's keys in byte order (see {@linkcode KvApi.list}). */
  list(
    partition: number,
    range: KeyRange,
    options: { limit: number; reverse?: boolean; mode?: ReadMode; signal?: AbortSignal },
  ): Promise<{ entries: (VersionedValue & { key: Uint8Array })[]; appliedIndex: number }> {
    return this.#kv.list(partition, range, options);
  }

  /** A page of a partition's changes after `afterIndex`, without waiting for more. */
  changes(partition: number, afterIndex: number, limit: number): ChangesPage {
    return this.#kv.changes(partition, afterIndex, limit);
  }

  /** Follows a partition's changes from just after `afterIndex` (see {@linkcode KvApi.watch}). */
  watch(
    partition: number,
    afterIndex: number,
    signal?: AbortSignal,
  ): AsyncGenerator<{ changes: readonly Change[]; through: number }> {
    return this.#kv.watch(partition, afterIndex, signal);
  }

  /** Advances every partition's Raft clock by one tick, and balances leaders now and then. */
  tick(): void {
    if (this.#stopped) return; // a stopped node sends nothing, not even a liveness ping
    this.#ticks++;
    // Quiet followers whose leader's node has been silent for an election timeout: the leader
    // is presumed gone, so they must be able to elect another.
    const now = this.#clock.now();
    const silence = this.#o.electionTick * this.#o.tickMs;
    const silent = (leader: NodeId) =>
      leader === 0 || this.#liveness.silentFor(leader, now) > silence;
    for (const r of wakeOrphans(this.#replicas.values(), silent)) this.#dirty.add(r);
    // Quiet leaders that hear no majority of their voters' nodes: CheckQuorum must run again.
    for (const r of wakeIsolatedLeaders(this.#replicas.values(), silent)) this.#dirty.add(r);
    for (const r of this.#replicas.values()) {
      if (r.fatal) continue;
      // A replica quiet before and after the tick has nothing to do; one that just went quiet
      // still has its last heartbeats to send.
      const wasQuiet = r.node.quiescent;
      r.node.tick();
      if (!wasQuiet || !r.node.quiescent) this.#dirty.add(r);
    }
    if (this.#ticks % PING_TICKS === 0) {
      const leading = leadingBitset(this.#replicas.values(), this.map.partitions);
      for (const id of this.members()) {
        if (id !== this.nodeId) this.#o.transport.ping?.(id, leading);
      }
    }
    if (this.#o.balanceLeaders !== false && this.#ticks % (this.#o.electionTick * 3) === 0) {
      for (const r of this.#replicas.values()) {
        if (r.node.isLeader) {
          this.#tenure.set(r.partition, (this.#tenure.get(r.partition) ?? 0) + 1);
        } else this.#tenure.delete(r.partition);
      }
      balanceLeaders(this.#replicas.values(), (p) => this.replicasOf(p)[0], this.nodeId, {
        keep: this.#pinned,
        origins: this.#o.followWrites === false ? undefined : this.#origins,
        tenure: (p) => this.#tenure.get(p) ?? 0,
        onHandOff: (p, to, reason) => this.#o.observer?.handedOff?.(p, to, reason),
      });
      this.#origins.decay();
      // A transfer wakes a quiet leader: it has a TimeoutNow to send this round.
      for (const r of this.#replicas.values()) {
        if (r.node.isLeader && !r.node.quiescent) this.#dirty.add(r);
      }
    }
    if (this.#ticks % EXPIRY_SWEEP_TICKS === 0) this.#kv.expireKeys();
    this.#loop.schedule();
  }

  /**
   * A leader replicating a partition this node does not host yet: a membership change made it
   * a learner. Starts an empty replica that catches up from the leader (entries, or a snapshot
   * that carries the membership). Only a cluster member's leader traffic creates one.
   */
  #joining(partition: number, from: NodeId, message: Message): Replica | undefined {
    const fromLeader = message.type === "AppendEntries" || message.type === "Heartbeat" ||
      message.type === "InstallSnapshot";
    if (
      !fromLeader || message.from !== from || !this.members().includes(from) ||
      !Number.isSafeInteger(partition) || partition < 0 || partition >= this.map.partitions
    ) {
      return undefined;
    }
    const empty = {
      hardState: { term: 0, votedFor: 0, commitIndex: 0 },
      snapshot: undefined,
      entries: [],
    };
    this.#o.observer?.replicaAdded?.(partition);
    return this.#host(partition, empty, from);
  }

  /** Runs rounds until no partition has work. With `drive: "manual"`, the caller's only way to make progress. */
  flush(): Promise<void> {
    this.#markAll();
    return this.#loop.flush();
  }

  #markAll(): void {
    for (const r of this.#replicas.values()) this.#dirty.add(r);
  }

  /**
   * Resolves once every partition this node replicates has a leader.
   *
   * @param timeoutMs How long to wait.
   */
  async waitForLeaders(timeoutMs: number): Promise<void> {
    const deadline = this.#clock.now() + timeoutMs;
    const waiting = () =>
      [...this.#replicas.values()].some((r) => r.node.leaderId === 0 && this.#isMember(r));
    while (waiting()) {
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
    if (!this.#isMember(replica)) {
      throw new WrongNodeError(partition, 0, "was removed from its group by a membership change");
    }
    if (replica.fatal) {
      throw new UnavailableError(
        `Partition ${partition} stopped on this node: ${replica.fatal.message}`,
      );
    }
    return replica;
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
