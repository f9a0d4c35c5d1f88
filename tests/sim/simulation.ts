/**
 * The deterministic cluster simulation: the real runtime ({@linkcode MultiRaftHost}, the same
 * code a node runs) on hand-driven clocks, over {@linkcode SimNetwork}, with crashes and
 * restarts, partitions, pauses, and clients that use sessions and retry the way the real client
 * does. Every step is checked against Raft's safety properties; at the end every key's history,
 * as the clients saw it, is checked for linearizability. So the check covers what clients are
 * told: write outcomes, read release, writes lost in leader changes or swallowed by snapshots,
 * and retried or duplicated writes.
 *
 * Everything random comes from one seed, so a failure replays exactly.
 *
 * @module
 */
import { type MembershipChange, type Message, SeededRandom } from "../../raft/mod.ts";
import { RaftEventCounter } from "../../telemetry/mod.ts";
import { FileStorage } from "../../storage/file_storage.ts";
import { KvStorage } from "../../storage/kv_storage.ts";
import { MemoryStorage } from "../../storage/memory_storage.ts";
import { MutablePartitionState } from "../../storage/partition_state.ts";
import type { RaftStorage } from "../../storage/raft_storage.ts";
import { SafetyChecker } from "./invariants.ts";
import { checkHistory, type KvOperation } from "./linearizability.ts";
import { type NetworkFaults, SimNetwork } from "./network.ts";
import { type ClientStats, type Settled, SimClient } from "./sim_client.ts";
import { CheckedStorage, SimNode } from "./sim_node.ts";
import { checkWatch, SimWatcher } from "./sim_watcher.ts";
import { SimLister } from "./sim_lister.ts";

/** What to simulate. */
export interface SimulationOptions {
  readonly seed: number;
  /** Cluster size (3 or 5 in CI). */
  readonly nodes: number;
  /** Where nodes persist: the memory backend (default), real files, or Deno KV. */
  readonly storage?: "memory" | "file" | "kv";
  /** Compact once this many entries are applied past the snapshot; `0` never. Default: 8 to 60, by seed. */
  readonly compactEvery?: number;
  /** How many time units of faults and traffic. Each node ticks every 10 units. */
  readonly units?: number;
  readonly clients?: number;
  readonly keys?: number;
  readonly network?: Partial<NetworkFaults>;
  /** Per-unit probabilities of faults. */
  readonly crashRate?: number;
  readonly restartRate?: number;
  readonly partitionRate?: number;
  readonly healRate?: number;
  /**
   * Per-write probability that the node crashes during a storage write: the write never lands,
   * after its round already sent a leader's AppendEntries. Default 0.002.
   */
  readonly writeCrashRate?: number;
  /** Per-unit probability that a node pauses (a GC pause, SIGSTOP) for 5 to 40 ticks. */
  readonly pauseRate?: number;
  /**
   * Per-unit probability that the leader starts a single-server membership change: remove a
   * voter (itself included), add a node back as a learner, or promote a learner.
   */
  readonly membershipRate?: number;
  /**
   * A deliberate storage bug, so tests can show the checks catch it: `ackBeforeFsync` persists
   * each write only when the next one comes (a missing fsync); a crash loses it. Runtime bugs
   * are injected by the tests themselves, into the runtime's classes.
   */
  readonly bugs?: { readonly ackBeforeFsync?: boolean };
  /**
   * Clients write through one application node that moves to another every
   * {@linkcode FOLLOW_PERIOD_UNITS}: each write is counted where the server counts it (at that
   * node, and at the node it was sent to as passed on by that node), so leadership follows it
   * around the cluster, through every fault. Off by default: with it, every seed runs differently.
   */
  readonly followWrites?: boolean;
  /**
   * The share of puts (those without a time to live) that a client sends without a session to
   * any node, which passes them on to the leader as the server does and may answer them itself
   * on the leader's durable notice (see `runtime/durability.ts`). Default 0.25.
   */
  readonly passedOnPuts?: number;
}

/** The share of puts passed on without a session, by default. */
const DEFAULT_PASSED_ON_PUTS = 0.25;

/** How long the clients' application node stays on one node, with `followWrites`. */
export const FOLLOW_PERIOD_UNITS = 2500;

/** What a finished run saw. */
export interface SimulationReport {
  readonly seed: number;
  readonly nodes: number;
  readonly units: number;
  readonly operations: { ok: number; failed: number; unknown: number; reads: number };
  readonly committed: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly snapshots: { taken: number; installed: number };
  readonly pauses: number;
  readonly messages: { sent: number; dropped: number };
  readonly clients: ClientStats;
  /** What the watcher saw: changes, and how often compaction made it start over. */
  readonly watch: { changes: number; restarts: number };
  /** Paged listings checked for skipped or repeated keys, and those cut short by a fault. */
  readonly lists: { completed: number; abandoned: number };
  /** Time units during which some node's replica was quiet (see `RaftConfig.quiesce`). */
  readonly quietUnits: number;
  /** Membership changes proposed, applied at the leader, and refused or lost. */
  readonly membership: { proposed: number; applied: number; failed: number };
  /** Leadership transfers leader balancing started, by reason. */
  readonly handOffs: { preferred: number; writes: number };
  readonly events: Record<string, number>;
}

/**
 * A liveness ping as it crosses the simulated network: shaped like a message so the network can
 * drop, delay, duplicate and partition it, delivered to the host as an empty batch.
 */
type Ping = Message & { leading?: Uint8Array };

function ping(from: number, to: number, leading?: Uint8Array): Ping {
  return { type: "Heartbeat", from, to, term: -1, leaderCommit: 0, readRound: 0, leading };
}

function isPing(m: Message): boolean {
  return m.term === -1;
}

/** Thrown when a run breaks a property; carries the command that replays it. */
export class SimulationFailure extends Error {
  /**
   * @param flags The run's other non-default options, as command-line flags (` --storage file`).
   */
  constructor(seed: number, nodes: number, unit: number, cause: string, flags = "") {
    super(
      `Simulation failed (seed ${seed}, ${nodes} nodes, at unit ${unit}): ${cause}\n` +
        `Replay: deno task sim --seed ${seed} --nodes ${nodes}${flags}`,
    );
    this.name = "SimulationFailure";
  }
}

const TICK_UNITS = 10;
const DEFAULT_UNITS = 6000;
const DEFAULT_WRITE_CRASH_RATE = 0.002;
/** Longer than a client's attempt: the runtime's own deadline for a waiting request. */
const REQUEST_TIMEOUT_UNITS = 400;

/** An operation as it is being recorded; `ret` and the result are filled in as it completes. */
interface Draft {
  readonly id: number;
  readonly client: number;
  readonly call: number;
  readonly kind: "put" | "delete" | "get";
  readonly key: string;
  /** The value written (put) or read (get; `null` for absent). */
  value: string | null;
  /** Whether a delete found the key; `undefined` until known. */
  found: boolean | undefined;
  /** A timestamp, `Infinity` (outcome unknown) or -1 (refused or failed: no effect). */
  ret: number;
  /** The log index an acknowledged write was applied at. */
  index?: number;
}

/** A seeded simulation run. */
export class Simulation {
  readonly #o: Required<Omit<SimulationOptions, "network">> & { network: NetworkFaults };
  readonly #random: SeededRandom;
  readonly #writeCrashes: SeededRandom;
  readonly #net: SimNetwork;
  /** What each node has written, applied with the storage layer's semantics: the checker's view. */
  readonly #disks = new Map<number, MutablePartitionState>();
  readonly #storages = new Map<number, RaftStorage>();
  #tempDir: string | undefined;
  #snapshotsTaken = 0;
  readonly #nodes = new Map<number, SimNode | undefined>();
  readonly #checker = new SafetyChecker();
  readonly #events = new RaftEventCounter();
  readonly #ops: Draft[] = [];
  readonly #clients: SimClient[];
  readonly #stats: ClientStats = {
    retries: 0,
    duplicatesSent: 0,
    heldRequests: 0,
    sessionsOpened: 0,
    durableAnswers: 0,
  };
  readonly #ids: number[];
  readonly #sleepers: { at: number; wake: () => void }[] = [];
  readonly #watcher = new SimWatcher();
  readonly #lister = new SimLister();
  #now = 0;
  #clock = 0; // unique logical timestamps for invocations and responses
  #restarts = 0;
  #crashes = 0;
  #partitions = 0;
  #pauses = 0;
  /** Faults are injected while true: during the run, not while the healed cluster settles. */
  #faulting = true;
  #putCounter = 0;
  readonly #membership = { proposed: 0, applied: 0, failed: 0 };
  readonly #handOffs = { preferred: 0, writes: 0 };
  #quietUnits = 0;

  /** The options a replay must repeat: those a command line can set, where they differ. */
  #replayFlags(): string {
    const o = this.#o;
    return [
      o.storage !== "memory" ? ` --storage ${o.storage}` : "",
      o.units !== DEFAULT_UNITS ? ` --units ${o.units}` : "",
      o.writeCrashRate !== DEFAULT_WRITE_CRASH_RATE
        ? ` --write-crash-rate ${o.writeCrashRate}`
        : "",
      o.followWrites ? " --follow-writes" : "",
      o.passedOnPuts !== DEFAULT_PASSED_ON_PUTS ? ` --passed-on-puts ${o.passedOnPuts}` : "",
    ].join("");
  }

  constructor(options: SimulationOptions) {
    this.#o = {
      units: DEFAULT_UNITS,
      clients: 4,
      keys: 3,
      crashRate: 0.0015,
      restartRate: 0.01,
      partitionRate: 0.0015,
      healRate: 0.004,
      pauseRate: 0.001,
      writeCrashRate: DEFAULT_WRITE_CRASH_RATE,
      membershipRate: 0.002,
      bugs: {},
      followWrites: false,
      passedOnPuts: DEFAULT_PASSED_ON_PUTS,
      storage: "memory",
      compactEvery: 8 + (options.seed % 53),
      ...options,
      network: {
        dropRate: 0.02,
        duplicateRate: 0.01,
        maxDelay: 4,
        slowRate: 0.01,
        ...options.network,
      },
    };
    this.#random = new SeededRandom(options.seed);
    this.#writeCrashes = new SeededRandom(options.seed ^ 0xc7a5);
    this.#net = new SimNetwork(new SeededRandom(options.seed ^ 0x5eed), this.#o.network);
    this.#ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    const relayDelays = new SeededRandom(options.seed ^ 0xd0ab);
    const world = {
      random: new SeededRandom(options.seed ^ 0xc11e),
      ids: this.#ids,
      node: (id: number) => this.#nodes.get(id),
      now: () => this.#now,
      sleep: (units: number) =>
        new Promise<void>((wake) => this.#sleepers.push({ at: this.#now + units, wake })),
      stamp: () => ++this.#clock,
      home: this.#o.followWrites
        ? () => this.#ids[Math.floor(this.#now / FOLLOW_PERIOD_UNITS) % this.#ids.length]
        : undefined,
      passedOnPuts: this.#o.passedOnPuts,
      relay: (from: number, to: number, deliver: (node: SimNode) => void) => {
        const delay = 1 + relayDelays.nextInt(this.#o.network.maxDelay);
        this.#sleepers.push({
          at: this.#now + delay,
          wake: () => {
            const node = this.#nodes.get(to);
            if (!node?.running(this.#now) || !this.#nodes.get(from)) return;
            if (this.#net.connected(from, to)) deliver(node);
          },
        });
      },
    };
    this.#clients = Array.from(
      { length: this.#o.clients },
      (_, i) => new SimClient(i + 1, world, this.#stats),
    );
  }

  /** Runs the scenario, checks the history, and reports. Throws {@linkcode SimulationFailure}. */
  async run(): Promise<SimulationReport> {
    try {
      if (this.#o.storage !== "memory") {
        this.#tempDir = await Deno.makeTempDir({ prefix: "prkdb-sim-" });
      }
      for (const id of this.#ids) {
        this.#disks.set(id, new MutablePartitionState());
        await this.#start(id);
      }
      for (; this.#now < this.#o.units; this.#now++) {
        await this.#injectFaults();
        await this.#step(true);
      }
      await this.#settle();
      const failure = checkHistory(this.#historyByKey());
      if (failure) throw new Error(`history is not linearizable: ${failure}`);
      const acked = this.#ops.flatMap((o) =>
        o.kind === "put" && o.ret > 0 && o.ret !== Infinity && o.index !== undefined
          ? [{ key: o.key, value: o.value!, index: o.index }]
          : []
      );
      const watchFailure = checkWatch(this.#watcher.report(), acked);
      if (watchFailure) throw new Error(`watch: ${watchFailure}`);
    } catch (error) {
      if (error instanceof SimulationFailure) throw error;
      await this.#cleanup();
      throw new SimulationFailure(
        this.#o.seed,
        this.#o.nodes,
        this.#now,
        (error as Error).stack ?? String(error),
        this.#replayFlags(),
      );
    }
    await this.#cleanup();
    const completed = (o: Draft) => o.ret > 0 && o.ret !== Infinity;
    return {
      seed: this.#o.seed,
      nodes: this.#o.nodes,
      units: this.#now,
      operations: {
        ok: this.#ops.filter((o) => completed(o) && o.kind !== "get").length,
        failed: this.#ops.filter((o) => o.ret === -1).length,
        unknown: this.#ops.filter((o) => o.kind !== "get" && o.ret === Infinity).length,
        reads: this.#ops.filter((o) => completed(o) && o.kind === "get").length,
      },
      committed: this.#checker.committedIndex,
      crashes: this.#crashes,
      partitions: this.#partitions,
      pauses: this.#pauses,
      snapshots: {
        taken: this.#snapshotsTaken,
        installed: this.#events.count("SnapshotInstalled"),
      },
      messages: { sent: this.#net.sent, dropped: this.#net.dropped },
      clients: { ...this.#stats },
      watch: {
        changes: this.#watcher.report().seen.length,
        restarts: this.#watcher.report().restarts,
      },
      lists: { completed: this.#lister.listings, abandoned: this.#lister.abandoned },
      membership: { ...this.#membership },
      quietUnits: this.#quietUnits,
      handOffs: { ...this.#handOffs },
      events: this.#events.snapshot(),
    };
  }

  /**
   * Heals the network, restarts and wakes every node and lets the cluster settle: a leader
   * must emerge (liveness), every pending operation must finish, and each key is read once
   * more, so that a lost acknowledged write shows up in the history.
   */
  async #settle(): Promise<void> {
    this.#faulting = false;
    this.#net.heal();
    for (const id of this.#ids) {
      const node = this.#nodes.get(id);
      if (!node) await this.#start(id);
      else node.pausedUntil = Math.min(node.pausedUntil, this.#now);
    }
    const deadline = this.#now + 300 * TICK_UNITS;
    let finalReads = false;
    for (; this.#now < deadline; this.#now++) {
      await this.#step(false);
      const busy = this.#clients.some((c) => c.busy);
      if (!busy && !finalReads && this.#leader() !== undefined) {
        finalReads = true;
        for (let k = 0; k < this.#o.keys; k++) {
          this.#invoke(this.#clients[k % this.#clients.length], "get", `k${k}`);
        }
      } else if (!busy && finalReads) {
        if (this.#ops.slice(-this.#o.keys).every((o) => o.kind === "get" && o.ret > 0)) return;
        finalReads = false; // a final read failed (leadership moved): read again
      }
    }
    const stuck = this.#ids.map((id) => {
      const node = this.#nodes.get(id);
      if (!node) return `node ${id}: down`;
      const s = node.host.status()[0].raft;
      return `node ${id}: ${s.role} term ${s.term} commit ${s.commitIndex} applied ${s.lastApplied} last ${s.lastLogIndex} followers ${
        JSON.stringify(s.followers)
      }`;
    });
    throw new Error(
      `liveness: the healed cluster did not finish its work within 300 ticks:\n${stuck.join("\n")}`,
    );
  }

  #leader(): number | undefined {
    return this.#ids.find((id) => {
      const node = this.#nodes.get(id);
      return node && node.host.leaderOf(0) === id;
    });
  }

  /**
   * Starts (or restarts) a node from what its storage recovers, which must be exactly what was
   * written to it: a restart of a file or KV store really closes and reopens it.
   */
  async #start(id: number): Promise<void> {
    const old = this.#storages.get(id);
    if (old && this.#o.storage !== "memory") await old.close();
    const storage = !old || this.#o.storage !== "memory" ? await this.#openStorage(id) : old;
    this.#storages.set(id, storage);
    this.#restarts++;
    const every = this.#o.compactEvery;
    const checked = new CheckedStorage(
      storage,
      id,
      this.#disks.get(id)!,
      this.#checker,
      this.#o.bugs.ackBeforeFsync ?? false,
    );
    // The fault draws from its own random stream, so it does not shift the other faults.
    const crashes = this.#writeCrashes;
    checked.crashDuringWrite = () => this.#faulting && crashes.chance(this.#o.writeCrashRate);
    const node = await SimNode.start(id, this.#now, checked, {
      members: this.#ids,
      partitions: 1,
      replicationFactor: this.#ids.length,
      transport: {
        send: (_to, batch) => {
          for (const { message } of batch) this.#net.send(this.#now, message);
        },
        // Liveness pings cross the same faulty network as everything else.
        ping: (to, leading) => this.#net.send(this.#now, ping(id, to, leading)),
        close: () => Promise.resolve(),
      },
      tickMs: TICK_UNITS,
      requestTimeoutMs: REQUEST_TIMEOUT_UNITS,
      seed: this.#o.seed * 1009 + this.#restarts,
      raft: { maxInflightMessages: 8, maxEntriesPerMessage: 16 },
      compaction: every > 0 ? { entries: every, bytes: every * 400 } : undefined,
      observer: {
        events: (_p, events) => this.#events.record(0, events),
        snapshotTaken: () => this.#snapshotsTaken++,
        handedOff: (_p, _to, reason) => this.#handOffs[reason]++,
      },
    });
    this.#nodes.set(id, node);
  }

  #openStorage(id: number): Promise<RaftStorage> {
    switch (this.#o.storage) {
      case "memory":
        return Promise.resolve(new MemoryStorage());
      case "file":
        return FileStorage.open(`${this.#tempDir}/node-${id}`, {
          segmentBytes: 64 * 1024,
          onWarning: () => {},
        });
      case "kv":
        return KvStorage.open(`${this.#tempDir}/node-${id}.sqlite`);
    }
  }

  async #cleanup(): Promise<void> {
    for (const storage of this.#storages.values()) await storage.close().catch(() => {});
    this.#storages.clear();
    if (this.#tempDir) await Deno.remove(this.#tempDir, { recursive: true }).catch(() => {});
    this.#tempDir = undefined;
  }

  async #injectFaults(): Promise<void> {
    const r = this.#random;
    const live = this.#ids.filter((id) => this.#nodes.get(id));
    if (r.chance(this.#o.crashRate) && live.length > 0) {
      this.#crash(live[r.nextInt(live.length)]);
    }
    const down = this.#ids.filter((id) => !this.#nodes.get(id));
    if (down.length > 0 && r.chance(this.#o.restartRate)) {
      await this.#start(down[r.nextInt(down.length)]);
    }
    if (r.chance(this.#o.partitionRate)) {
      // Half the partitions cut the leader off into a minority: the case where a deposed leader
      // that does not know it yet must not acknowledge writes or serve stale reads.
      const leader = this.#leader();
      const minority = leader === undefined || r.chance(0.5)
        ? undefined
        : [leader, ...this.#ids.filter((id) => id !== leader && r.chance(0.2))].slice(
          0,
          Math.floor((this.#ids.length - 1) / 2),
        );
      this.#net.partition(this.#ids, minority);
      this.#partitions++;
    }
    if (this.#net.partitioned && r.chance(this.#o.healRate)) this.#net.heal();
    if (r.chance(this.#o.membershipRate)) this.#changeMembership();
    if (live.length > 0 && r.chance(this.#o.pauseRate)) {
      // Pausing the leader is the interesting case: it wakes up still believing it leads.
      const leader = this.#leader();
      const id = leader !== undefined && r.chance(0.6) ? leader : live[r.nextInt(live.length)];
      const node = this.#nodes.get(id);
      if (node) {
        node.pausedUntil = this.#now + (5 + r.nextInt(36)) * TICK_UNITS;
        this.#pauses++;
      }
    }
  }

  /**
   * Asks the leader for one single-server change, cycling nodes out and back in: promote a
   * learner if there is one, else add a node that is not a voter as a learner, or remove a
   * voter (possibly the leader itself). At least 2 voters remain (3 with 5 nodes or more).
   */
  #changeMembership(): void {
    const r = this.#random;
    const leader = this.#leader();
    const node = leader === undefined ? undefined : this.#nodes.get(leader);
    if (!node || !node.running(this.#now)) return;
    const { voters, learners } = node.host.status()[0].raft.membership;
    const floor = this.#ids.length >= 5 ? 3 : 2;
    const outside = this.#ids.filter((id) => !voters.includes(id) && !learners.includes(id));
    const pick = (ids: readonly number[]) => ids[r.nextInt(ids.length)];
    let change: MembershipChange | undefined;
    if (learners.length > 0) change = { type: "promote", node: pick(learners) };
    else if (outside.length > 0 && (voters.length <= floor || r.chance(0.5))) {
      change = { type: "addLearner", node: pick(outside) };
    } else if (voters.length > floor) change = { type: "remove", node: pick(voters) };
    if (!change) return;
    this.#membership.proposed++;
    node.host.changeMembership(0, change).then(
      () => this.#membership.applied++,
      () => this.#membership.failed++,
    );
  }

  /** A crash loses everything not persisted: in-memory state, waiting requests. */
  #crash(id: number): void {
    this.#crashes++;
    this.#nodes.set(id, undefined);
  }

  /** One time unit: clients, delivery, ticks, rounds, then the safety checks. */
  async #step(traffic: boolean): Promise<void> {
    for (const s of this.#sleepers.splice(0)) {
      if (s.at <= this.#now) s.wake();
      else this.#sleepers.push(s);
    }
    await this.#drain();
    // Clients first: a node waking from a pause may get a request before its message backlog.
    if (traffic) this.#runClients();
    for (const m of this.#net.deliverable(this.#now)) {
      const node = this.#nodes.get(m.to);
      if (node && !node.running(this.#now)) this.#net.hold(m, node.pausedUntil);
      else if (isPing(m)) node?.receive(m.from, [], (m as Ping).leading);
      else node?.receive(m.from, [{ partition: 0, message: m as Message }]);
    }
    for (const id of this.#ids) {
      // Nodes tick at staggered offsets, like real nodes started at different times.
      const node = this.#nodes.get(id);
      if (node?.running(this.#now) && (this.#now + id * 3) % TICK_UNITS === 0) node.host.tick();
    }
    for (const id of this.#ids) {
      const node = this.#nodes.get(id);
      if (node?.running(this.#now)) await node.run(this.#now);
      if (node?.storage.crashedMidWrite) this.#crash(id); // its last write never landed
    }
    await this.#drain();
    this.#watcher.step(this.#ids, (id) => this.#nodes.get(id), this.#now);
    // Every fifth unit: a page per five units still overlaps plenty of concurrent writes.
    if (this.#now % 5 === 0) {
      await this.#lister.step(this.#ids, (id) => this.#nodes.get(id), this.#now);
    }
    if (this.#lister.failure) throw new Error(`list: ${this.#lister.failure}`);
    let quiet = false;
    for (const id of this.#ids) {
      const node = this.#nodes.get(id);
      if (!node) continue;
      const raft = node.host.status()[0].raft;
      this.#checker.observe(raft);
      quiet ||= raft.quiescent;
    }
    if (quiet) this.#quietUnits++;
  }

  /** Lets every promise callback that is ready run (clients react within the same unit). */
  async #drain(): Promise<void> {
    for (let i = 0; i < 8; i++) await Promise.resolve();
  }

  #runClients(): void {
    for (const client of this.#clients) {
      if (client.busy || !this.#random.chance(0.05)) continue;
      const roll = this.#random.nextInt(12);
      if (roll >= 10) {
        // Keys with a time to live, outside the checked registers: replicas must agree on
        // when they expire (snapshots are compared), and the watcher sees them come and go.
        this.#invoke(client, "put", `t${this.#random.nextInt(3)}`, 20 + this.#random.nextInt(400));
        continue;
      }
      const key = `k${this.#random.nextInt(this.#o.keys)}`;
      this.#invoke(client, roll < 4 ? "put" : roll < 5 ? "delete" : "get", key);
    }
  }

  #invoke(
    client: SimClient,
    kind: "put" | "delete" | "get",
    key: string,
    expireInMs?: number,
  ): void {
    const opIndex = this.#ops.length;
    const value = kind === "put" ? `c${client.id}-${++this.#putCounter}` : null;
    this.#ops.push({
      id: opIndex,
      client: client.id,
      call: ++this.#clock,
      kind,
      key,
      value,
      found: undefined,
      ret: -1,
    });
    client.busy = true;
    const done = kind === "get" ? client.read(key) : client.write(kind, key, value, expireInMs);
    done.then((settled: Settled) => {
      const op = this.#ops[opIndex];
      op.ret = settled.ret;
      if (settled.found !== undefined) op.found = settled.found;
      if (settled.value !== undefined) op.value = settled.value;
      if (settled.index !== undefined) op.index = settled.index;
      client.busy = false;
    });
  }

  #historyByKey(): Map<string, KvOperation[]> {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of this.#ops) {
      if (op.ret === -1) continue; // refused or definitely failed: no effect
      if (op.key.startsWith("t")) continue; // keys with a time to live are not registers
      if (op.kind === "get" && op.ret === Infinity) continue; // a lost read has no effect
      const common = { id: op.id, client: op.client, call: op.call, ret: op.ret };
      const recorded: KvOperation = op.kind === "put"
        ? { ...common, kind: "put", value: op.value! }
        : op.kind === "delete"
        ? { ...common, kind: "delete", found: op.ret === Infinity ? undefined : op.found }
        : { ...common, kind: "get", value: op.value };
      const list = byKey.get(op.key) ?? [];
      list.push(recorded);
      byKey.set(op.key, list);
    }
    return byKey;
  }
}
