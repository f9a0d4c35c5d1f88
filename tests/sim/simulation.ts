/**
 * The deterministic cluster simulation: Raft nodes over {@linkcode SimNetwork}, with crashes and
 * restarts, partitions, and clients running puts, deletes and linearizable reads (at the leader
 * and at followers) against the key-value state machine. Every step is checked against Raft's
 * safety properties; at the end every key's history is checked for linearizability.
 *
 * Everything random comes from one seed, so a failure replays exactly.
 *
 * @module
 */
import {
  type Entry,
  type Message,
  NotLeaderError,
  ProposalDroppedError,
  type RaftConfig,
  RaftNode,
  type Ready,
  SeededRandom,
} from "../../raft/mod.ts";
import { encodeCommand, fnv1a32, KvStateMachine, shouldCompact } from "../../partition/mod.ts";
import { RaftEventCounter } from "../../telemetry/mod.ts";
import { FileStorage } from "../../storage/file_storage.ts";
import { KvStorage } from "../../storage/kv_storage.ts";
import { MemoryStorage } from "../../storage/memory_storage.ts";
import { MutablePartitionState } from "../../storage/partition_state.ts";
import type { PartitionWrite, RaftStorage } from "../../storage/raft_storage.ts";
import { SafetyChecker } from "./invariants.ts";
import { checkHistory, type KvOperation } from "./linearizability.ts";
import { type NetworkFaults, SimNetwork } from "./network.ts";

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
  /** Per-unit probability that a node pauses (a GC pause, SIGSTOP) for 5 to 40 ticks. */
  readonly pauseRate?: number;
  /**
   * Deliberate runtime bugs, so tests can show the checks catch them:
   * - `readBeforeApply`: serve a read as soon as its read index is known, before applying it.
   * - `ackBeforeFsync`: persist each Ready's writes only at the next Ready (a missing fsync),
   *   while sending its messages at once; a crash loses the unsynced writes.
   */
  readonly bugs?: { readonly readBeforeApply?: boolean; readonly ackBeforeFsync?: boolean };
}

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
  readonly events: Record<string, number>;
}

/** Thrown when a run breaks a property; carries the command that replays it. */
export class SimulationFailure extends Error {
  constructor(seed: number, nodes: number, unit: number, cause: string) {
    super(
      `Simulation failed (seed ${seed}, ${nodes} nodes, at unit ${unit}): ${cause}\n` +
        `Replay: deno task sim --seed ${seed} --nodes ${nodes}`,
    );
    this.name = "SimulationFailure";
  }
}

const TICK_UNITS = 10;
const OP_TIMEOUT_UNITS = 400;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Pending =
  | {
    kind: "write";
    opIndex: number;
    client: number;
    index: number;
    term: number;
    deadline: number;
  }
  | { kind: "read"; opIndex: number; client: number; key: string; index: number; deadline: number };

/** One simulated server: a Raft node, its state machine, and its pending client requests. */
class SimServer {
  readonly node: RaftNode;
  readonly sm = new KvStateMachine();
  readonly writes = new Map<number, Pending & { kind: "write" }>(); // by log index
  readonly reads = new Map<number, Pending & { kind: "read" }>(); // by context
  /** While `now < pausedUntil` the node neither ticks nor runs; messages to it wait. */
  pausedUntil = 0;
  /** With the `ackBeforeFsync` bug: the last Ready's writes, not yet on the disk. */
  unsynced: Ready | undefined;

  constructor(node: RaftNode) {
    this.node = node;
  }
}

interface Client {
  readonly id: number;
  busy: boolean;
  leaderGuess: number;
}

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
}

/** A seeded simulation run. */
export class Simulation {
  readonly #o: Required<Omit<SimulationOptions, "network">> & { network: NetworkFaults };
  readonly #random: SeededRandom;
  readonly #net: SimNetwork;
  /** What each node has written, applied with the storage layer's semantics: the checker's view. */
  readonly #disks = new Map<number, MutablePartitionState>();
  readonly #storages = new Map<number, RaftStorage>();
  #tempDir: string | undefined;
  #snapshotsTaken = 0;
  readonly #servers = new Map<number, SimServer | undefined>();
  readonly #checker = new SafetyChecker();
  readonly #events = new RaftEventCounter();
  readonly #ops: Draft[] = [];
  readonly #clients: Client[];
  readonly #ids: number[];
  #now = 0;
  #clock = 0; // unique logical timestamps for invocations and responses
  #restarts = 0;
  #crashes = 0;
  #partitions = 0;
  #pauses = 0;
  #nextContext = 1;
  #putCounter = 0;

  constructor(options: SimulationOptions) {
    this.#o = {
      units: 6000,
      clients: 4,
      keys: 3,
      crashRate: 0.0015,
      restartRate: 0.01,
      partitionRate: 0.0015,
      healRate: 0.004,
      pauseRate: 0.001,
      bugs: {},
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
    this.#net = new SimNetwork(new SeededRandom(options.seed ^ 0x5eed), this.#o.network);
    this.#ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.#clients = Array.from(
      { length: this.#o.clients },
      (_, i) => ({ id: i + 1, busy: false, leaderGuess: 1 }),
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
    } catch (error) {
      if (error instanceof SimulationFailure) throw error;
      await this.#cleanup();
      throw new SimulationFailure(
        this.#o.seed,
        this.#o.nodes,
        this.#now,
        (error as Error).stack ?? String(error),
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
      events: this.#events.snapshot(),
    };
  }

  /**
   * Heals the network, restarts every node and lets the cluster settle: a leader must emerge
   * (liveness), every pending operation must finish, and each key is read once more, so that a
   * lost acknowledged write shows up in the history.
   */
  async #settle(): Promise<void> {
    this.#net.heal();
    for (const id of this.#ids) {
      const server = this.#servers.get(id);
      if (!server) await this.#start(id);
      else server.pausedUntil = Math.min(server.pausedUntil, this.#now);
    }
    const deadline = this.#now + 200 * TICK_UNITS;
    let finalReads = false;
    for (; this.#now < deadline; this.#now++) {
      await this.#step(false);
      const busy = this.#clients.some((c) => c.busy);
      if (!busy && !finalReads && this.#leader() !== undefined) {
        finalReads = true;
        for (let k = 0; k < this.#o.keys; k++) {
          this.#invoke(this.#clients[k % this.#clients.length], "get", `k${k}`);
        }
      } else if (!busy && finalReads) return;
    }
    const stuck = this.#ids.flatMap((id) => {
      const server = this.#servers.get(id)!;
      const s = server.node.status();
      const pending = [...server.writes.values(), ...server.reads.values()].map((p) =>
        `${p.kind}@${p.index}`
      );
      return [
        `node ${id}: ${s.role} term ${s.term} commit ${s.commitIndex} applied ${s.lastApplied} last ${s.lastLogIndex} pending [${
          pending.join(" ")
        }] followers ${JSON.stringify(s.followers)}`,
      ];
    });
    throw new Error(
      `liveness: the healed cluster did not finish its work within 200 ticks:\n${stuck.join("\n")}`,
    );
  }

  #leader(): number | undefined {
    return this.#ids.find((id) => this.#servers.get(id)?.node.isLeader);
  }

  #config(id: number): RaftConfig {
    return {
      id,
      voters: this.#ids,
      random: new SeededRandom(this.#o.seed * 31 + id * 7 + this.#restarts * 131),
      maxInflightMessages: 8,
      maxEntriesPerMessage: 16,
    };
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
    const state = await storage.load(0);
    const mirror = this.#disks.get(id)!;
    const expected = JSON.stringify(describeState(mirror.freeze()));
    const recovered = JSON.stringify(describeState(state));
    if (expected !== recovered) {
      throw new Error(`node ${id}'s storage recovered ${recovered}, but ${expected} was written`);
    }
    this.#restarts++;
    const server = new SimServer(new RaftNode(this.#config(id), state));
    if (state.snapshot) server.sm.restore(state.snapshot.data);
    this.#servers.set(id, server);
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
    const live = this.#ids.filter((id) => this.#servers.get(id));
    if (r.chance(this.#o.crashRate) && live.length > 0) {
      const id = live[r.nextInt(live.length)];
      this.#crash(id);
    }
    const down = this.#ids.filter((id) => !this.#servers.get(id));
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
    if (live.length > 0 && r.chance(this.#o.pauseRate)) {
      // Pausing the leader is the interesting case: it wakes up still believing it leads.
      const leader = this.#leader();
      const id = leader !== undefined && r.chance(0.6) ? leader : live[r.nextInt(live.length)];
      const server = this.#servers.get(id);
      if (server) {
        server.pausedUntil = this.#now + (5 + r.nextInt(36)) * TICK_UNITS;
        this.#pauses++;
      }
    }
  }

  /** The node, if it is up and not paused. */
  #running(id: number): SimServer | undefined {
    const server = this.#servers.get(id);
    return server && server.pausedUntil <= this.#now ? server : undefined;
  }

  /** A crash loses everything not persisted: in-memory state, pending requests. */
  #crash(id: number): void {
    const server = this.#servers.get(id)!;
    this.#crashes++;
    for (const w of server.writes.values()) this.#settleOp(w.opIndex, w.client, Infinity); // outcome unknown
    for (const r of server.reads.values()) this.#settleOp(r.opIndex, r.client, Infinity);
    this.#servers.set(id, undefined);
  }

  /** One time unit: deliver, tick, run clients, handle Readies, check. */
  async #step(traffic: boolean): Promise<void> {
    // Clients first: a node waking from a pause may get a request before its message backlog.
    if (traffic) this.#runClients();
    for (const m of this.#net.deliverable(this.#now)) {
      const server = this.#servers.get(m.to);
      if (server && server.pausedUntil > this.#now) this.#net.hold(m, server.pausedUntil);
      else server?.node.step(m);
    }
    for (const id of this.#ids) {
      // Nodes tick at staggered offsets, like real nodes started at different times.
      if ((this.#now + id * 3) % TICK_UNITS === 0) this.#running(id)?.node.tick();
    }
    for (const id of this.#ids) {
      const server = this.#running(id);
      if (server?.node.hasReady()) await this.#handleReady(id, server, server.node.ready());
    }
    this.#expireRequests();
    for (const id of this.#ids) {
      const server = this.#servers.get(id);
      if (server) this.#checker.observe(server.node.status());
    }
  }

  /** The Ready contract: persist, then send, then apply, then serve reads, then advance. */
  async #handleReady(id: number, server: SimServer, rd: Ready): Promise<void> {
    if (this.#o.bugs.ackBeforeFsync) {
      if (server.unsynced) await this.#persist(id, server.unsynced);
      server.unsynced = rd;
    } else {
      await this.#persist(id, rd);
    }
    for (const m of rd.messages) this.#net.send(this.#now, m as Message);
    if (rd.snapshot) {
      this.#checker.snapshotSeen(id, rd.snapshot.meta.index, rd.snapshot.data);
      if (rd.snapshot.meta.index > server.sm.appliedIndex) {
        server.sm.restore(rd.snapshot.data);
        // Our own proposals the snapshot swallowed: we cannot tell whether they committed.
        for (const [index, w] of server.writes) {
          if (index > rd.snapshot.meta.index) continue;
          server.writes.delete(index);
          this.#settleOp(w.opIndex, w.client, Infinity);
        }
      }
    }
    for (const e of rd.committedEntries) this.#apply(server, e);
    for (const rs of rd.readStates) {
      const read = server.reads.get(rs.context);
      if (read) read.index = rs.index;
    }
    for (const context of rd.droppedReads) {
      const read = server.reads.get(context);
      if (read) {
        server.reads.delete(context);
        this.#settleOp(read.opIndex, read.client, -1);
      }
    }
    this.#events.record(0, rd.events);
    server.node.advance(rd);
    this.#serveReads(server);
    this.#maybeCompact(id, server);
  }

  /** Step 1 of the Ready contract: the node's storage durably holds the Ready's writes. */
  async #persist(id: number, rd: Ready): Promise<void> {
    const write: PartitionWrite = {
      partition: 0,
      hardState: rd.hardState,
      snapshot: rd.snapshot,
      truncateFrom: rd.truncateFrom,
      entries: rd.entries,
    };
    if (!rd.hardState && !rd.snapshot && rd.truncateFrom === undefined && rd.entries.length === 0) {
      return;
    }
    await this.#storages.get(id)!.write([write]);
    const disk = this.#disks.get(id)!;
    disk.apply(write);
    const from = Math.min(
      rd.entries[0]?.index ?? Infinity,
      rd.truncateFrom ?? Infinity,
      rd.snapshot ? rd.snapshot.meta.index + 1 : Infinity,
    );
    // A snapshot beyond what the state machine applied came from the leader (an install).
    const installed = rd.snapshot !== undefined &&
      rd.snapshot.meta.index > this.#servers.get(id)!.sm.appliedIndex;
    if (from !== Infinity) this.#checker.diskChanged(id, disk, from, installed);
  }

  /** Log compaction: snapshot the state machine once enough entries were applied past the last one. */
  #maybeCompact(id: number, server: SimServer): void {
    const every = this.#o.compactEvery;
    const status = server.node.status();
    if (every <= 0 || !shouldCompact(status, { entries: every, bytes: every * 400 })) return;
    const data = server.sm.snapshot();
    this.#checker.snapshotSeen(id, status.lastApplied, data);
    server.node.compact(status.lastApplied, data);
    this.#snapshotsTaken++;
  }

  #apply(server: SimServer, e: Entry): void {
    const result = server.sm.apply(e);
    const write = server.writes.get(e.index);
    if (!write) return;
    server.writes.delete(e.index);
    if (e.term === write.term) {
      const op = this.#ops[write.opIndex];
      op.found = result.found;
      this.#settleOp(write.opIndex, write.client, this.#tick());
    } else {
      // Another entry was committed at our index: ours was overwritten and can never commit.
      this.#settleOp(write.opIndex, write.client, -1);
    }
  }

  #serveReads(server: SimServer): void {
    for (const [context, read] of server.reads) {
      if (read.index === 0) continue;
      if (server.sm.appliedIndex < read.index && !this.#o.bugs.readBeforeApply) continue;
      server.reads.delete(context);
      const value = server.sm.get(encoder.encode(read.key));
      const op = this.#ops[read.opIndex];
      op.value = value === undefined ? null : decoder.decode(value);
      this.#settleOp(read.opIndex, read.client, this.#tick());
    }
  }

  #expireRequests(): void {
    for (const id of this.#ids) {
      const server = this.#servers.get(id);
      if (!server) continue;
      for (const [index, w] of server.writes) {
        if (w.deadline > this.#now) continue;
        server.writes.delete(index);
        this.#settleOp(w.opIndex, w.client, Infinity);
      }
      for (const [context, r] of server.reads) {
        if (r.deadline > this.#now) continue;
        server.reads.delete(context);
        this.#settleOp(r.opIndex, r.client, Infinity);
      }
    }
  }

  #runClients(): void {
    for (const client of this.#clients) {
      if (client.busy || !this.#random.chance(0.05)) continue;
      const key = `k${this.#random.nextInt(this.#o.keys)}`;
      const roll = this.#random.nextInt(10);
      this.#invoke(client, roll < 4 ? "put" : roll < 5 ? "delete" : "get", key);
    }
  }

  #tick(): number {
    return ++this.#clock;
  }

  #invoke(client: Client, kind: "put" | "delete" | "get", key: string): void {
    // Mostly ask the node believed to lead; sometimes any node (exercising follower reads).
    const target = this.#random.chance(0.7)
      ? client.leaderGuess
      : this.#ids[this.#random.nextInt(this.#ids.length)];
    const server = this.#running(target);
    const opIndex = this.#ops.length;
    const value = kind === "put" ? `c${client.id}-${++this.#putCounter}` : null;
    const op: Draft = {
      id: opIndex,
      client: client.id,
      call: this.#tick(),
      kind,
      key,
      value,
      found: undefined,
      ret: -1,
    };
    this.#ops.push(op);
    client.busy = true;
    if (!server) return this.#settleOp(opIndex, client.id, -1);
    const deadline = this.#now + OP_TIMEOUT_UNITS;
    try {
      if (kind === "get") {
        const context = this.#nextContext++;
        server.node.readIndex(context);
        server.reads.set(context, {
          kind: "read",
          opIndex,
          client: client.id,
          key,
          index: 0,
          deadline,
        });
      } else {
        const command = kind === "put"
          ? { op: "put" as const, key: encoder.encode(key), value: encoder.encode(value!) }
          : { op: "delete" as const, key: encoder.encode(key) };
        const { index, term } = server.node.propose(encodeCommand(command));
        // A re-elected leader can reuse the index of an older proposal of its own that was cut
        // from its log. That entry may survive on other nodes and still commit: unknown outcome.
        const older = server.writes.get(index);
        if (older) this.#settleOp(older.opIndex, older.client, Infinity);
        server.writes.set(index, {
          kind: "write",
          opIndex,
          client: client.id,
          index,
          term,
          deadline,
        });
      }
    } catch (error) {
      if (error instanceof NotLeaderError) {
        client.leaderGuess = error.leaderId || this.#ids[this.#random.nextInt(this.#ids.length)];
      } else if (!(error instanceof ProposalDroppedError)) throw error;
      this.#settleOp(opIndex, client.id, -1); // refused: it never took effect
    }
  }

  /** Completes an operation: `ret` is a timestamp, `Infinity` (unknown outcome) or -1 (failed). */
  #settleOp(opIndex: number, clientId: number, ret: number): void {
    this.#ops[opIndex].ret = ret;
    const client = this.#clients[clientId - 1];
    client.busy = false;
    // After a failure, sometimes look for the leader elsewhere; sometimes stay (stale routes).
    if ((ret === -1 || ret === Infinity) && this.#random.chance(0.5)) {
      client.leaderGuess = this.#ids[this.#random.nextInt(this.#ids.length)];
    }
  }

  #historyByKey(): Map<string, KvOperation[]> {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of this.#ops) {
      if (op.ret === -1) continue; // refused or definitely failed: no effect
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

/** A restored state in comparable form. */
function describeState(
  state: {
    hardState: unknown;
    snapshot?: { meta: unknown } | undefined;
    entries: readonly Entry[];
  },
): unknown {
  return {
    hardState: state.hardState,
    snapshot: state.snapshot?.meta,
    entries: state.entries.map((e) => [e.index, e.term, e.type, fnv1a32(e.data)]),
  };
}
