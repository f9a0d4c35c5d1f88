/**
 * One simulated server: the real {@linkcode MultiRaftHost} on a hand-driven clock, over storage
 * that records what reached the disk, so the safety checker sees every durable change.
 *
 * @module
 */
import type { Entry } from "../../raft/mod.ts";
import { fnv1a32 } from "../../partition/hash.ts";
import type { PartitionMessage } from "../../partition/transport.ts";
import { ManualClock } from "../../runtime/clock.ts";
import { MultiRaftHost } from "../../runtime/multi_raft_host.ts";
import type { HostOptions } from "../../runtime/options.ts";
import type { MutablePartitionState } from "../../storage/partition_state.ts";
import type { PartitionState, PartitionWrite, RaftStorage } from "../../storage/raft_storage.ts";
import type { SafetyChecker } from "./invariants.ts";

/**
 * Storage that mirrors every durable write into the checker's view of the node's disk. With
 * `ackBeforeFsync`, it acknowledges a write before it is durable (it persists each write only
 * when the next one comes), the bug a missing fsync is: a crash loses the last write.
 */
export class CheckedStorage implements RaftStorage {
  readonly #inner: RaftStorage;
  readonly #id: number;
  readonly #mirror: MutablePartitionState;
  readonly #checker: SafetyChecker;
  readonly #ackBeforeFsync: boolean;
  /** The applied index before the current round, to tell installs from local compaction. */
  appliedIndex: () => number = () => 0;
  #unsynced: PartitionWrite | undefined;
  /** A safety violation the checker found while persisting (the host would see a disk error). */
  violation: Error | undefined;
  /**
   * Decides, per write, whether the node crashes during it: the write never lands and the
   * node is gone, after whatever its round sent before writing (a leader's AppendEntries).
   */
  crashDuringWrite: () => boolean = () => false;
  /** Set when a write was cut short by such a crash: the simulation then crashes the node. */
  crashedMidWrite = false;

  constructor(
    inner: RaftStorage,
    id: number,
    mirror: MutablePartitionState,
    checker: SafetyChecker,
    ackBeforeFsync: boolean,
  ) {
    this.#inner = inner;
    this.#id = id;
    this.#mirror = mirror;
    this.#checker = checker;
    this.#ackBeforeFsync = ackBeforeFsync;
  }

  /** A restart must recover exactly what was written. */
  async load(partition: number): Promise<PartitionState> {
    const state = await this.#inner.load(partition);
    const expected = JSON.stringify(describeState(this.#mirror.freeze()));
    const recovered = JSON.stringify(describeState(state));
    if (expected !== recovered) {
      throw new Error(
        `node ${this.#id}'s storage recovered ${recovered}, but ${expected} was written`,
      );
    }
    return state;
  }

  async write(batch: readonly PartitionWrite[]): Promise<void> {
    if (this.crashedMidWrite || this.crashDuringWrite()) {
      this.crashedMidWrite = true;
      throw new SimulatedCrash();
    }
    try {
      for (const w of batch) {
        if (w.snapshot) {
          this.#checker.snapshotSeen(this.#id, w.snapshot.meta.index, w.snapshot.data);
        }
      }
    } catch (error) {
      this.violation ??= error as Error;
      throw error;
    }
    if (!this.#ackBeforeFsync) {
      for (const w of batch) await this.#persist(w);
      return;
    }
    if (this.#unsynced) await this.#persist(this.#unsynced);
    this.#unsynced = batch[0];
  }

  async #persist(w: PartitionWrite): Promise<void> {
    // A snapshot beyond what the state machine applied came from the leader (an install).
    const installed = w.snapshot !== undefined && w.snapshot.meta.index > this.appliedIndex();
    await this.#inner.write([w]);
    this.#mirror.apply(w);
    const from = Math.min(
      w.entries?.[0]?.index ?? Infinity,
      w.truncateFrom ?? Infinity,
      w.snapshot ? w.snapshot.meta.index + 1 : Infinity,
    );
    try {
      if (from !== Infinity) this.#checker.diskChanged(this.#id, this.#mirror, from, installed);
    } catch (error) {
      this.violation ??= error as Error;
      throw error;
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** The node died in the middle of a write (see {@linkcode CheckedStorage.crashDuringWrite}). */
export class SimulatedCrash extends Error {
  constructor() {
    super("simulated crash during a storage write");
    this.name = "SimulatedCrash";
  }
}

/** A restored state in comparable form. */
function describeState(state: {
  hardState: unknown;
  snapshot?: { meta: unknown } | undefined;
  entries: readonly Entry[];
}): unknown {
  return {
    hardState: state.hardState,
    snapshot: state.snapshot?.meta,
    entries: state.entries.map((e) => [e.index, e.term, e.type, fnv1a32(e.data)]),
  };
}

/** A running server of the simulation. */
export class SimNode {
  readonly id: number;
  readonly host: MultiRaftHost;
  readonly clock: ManualClock;
  readonly storage: CheckedStorage;
  /** While `now < pausedUntil` the node neither ticks nor runs; messages and requests wait. */
  pausedUntil = 0;
  /** Client requests that reached the node while it was paused, run when it resumes. */
  readonly held: (() => void)[] = [];

  private constructor(
    id: number,
    host: MultiRaftHost,
    clock: ManualClock,
    storage: CheckedStorage,
  ) {
    this.id = id;
    this.host = host;
    this.clock = clock;
    this.storage = storage;
  }

  /** Starts a node (recovering from its storage) at simulated time `now`. */
  static async start(
    id: number,
    now: number,
    storage: CheckedStorage,
    options: Omit<HostOptions, "nodeId" | "storage" | "clock" | "drive">,
  ): Promise<SimNode> {
    const clock = new ManualClock(EPOCH + now);
    const host = await MultiRaftHost.start({
      ...options,
      nodeId: id,
      storage,
      clock,
      drive: "manual",
    });
    storage.appliedIndex = () => host.status()[0]?.applied ?? 0;
    return new SimNode(id, host, clock, storage);
  }

  /** Whether the node runs at `now`. */
  running(now: number): boolean {
    return this.pausedUntil <= now;
  }

  /** Delivers messages from a peer (with a liveness ping, the partitions it leads). */
  receive(from: number, messages: readonly PartitionMessage[], leading?: Uint8Array): void {
    this.host.receive(from, messages, leading);
  }

  /** Brings the clock to `now` (firing request timeouts) and runs every round that is due. */
  async run(now: number): Promise<void> {
    this.clock.advanceTo(EPOCH + now);
    for (const call of this.held.splice(0)) call();
    await this.host.flush();
    if (this.storage.violation) throw this.storage.violation;
    if (this.storage.crashedMidWrite) return; // the simulation crashes it now
    if (this.host.failure) throw new Error(`node ${this.id} stopped: ${this.host.failure.message}`);
  }
}

/** Simulated time 0 on the nodes' clocks (milliseconds since the epoch, for session times). */
export const EPOCH = 1_700_000_000_000;
