/**
 * One partition's replica on this node: its Raft node, its state machine, and the client
 * requests waiting on them. It carries out steps 3 and 4 of the Ready contract for its
 * partition (apply, then settle writes and release reads); the round does the steps that all
 * partitions share (persist in one write, send in one batch per peer).
 *
 * @module
 */
import type { ReadBatch } from "./read_batch.ts";
import type { RaftNode } from "../raft/node.ts";
import type { RaftStatus } from "../raft/mod.ts";
import type { HardState, NodeId } from "../raft/types.ts";
import type { Ready } from "../raft/ready.ts";
import { type CompactionPolicy, shouldCompact } from "../partition/compaction.ts";
import { OutcomeUnknownError, UnavailableError } from "../partition/errors.ts";
import { type ApplyResult, KvStateMachine } from "../partition/kv_state_machine.ts";
import type { Entry } from "../raft/entry.ts";
import { ChangeHistory } from "./change_history.ts";
import { Durability } from "./durability.ts";
import type { PendingRead, PendingWrite } from "./requests.ts";

/**
 * What applying a Ready did, for the host's telemetry.
 *
 * @example Usage
 * ```ts
 * import type { AppliedSummary } from "@prkdb/prkdb/runtime";
 * const s: AppliedSummary = { writes: 0, duplicates: 0 };
 * ```
 */
export interface AppliedSummary {
  /** Client writes applied. */
  readonly writes: number;
  /** Session duplicates answered from the session table. */
  readonly duplicates: number;
}

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
  /** Client sessions the state machine holds. */
  readonly sessions: number;
  /** Why this replica stopped, when an entry could not be applied. */
  readonly fatal?: string;
}

/**
 * A partition replica.
 *
 * @example Usage
 * ```ts
 * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * import { Replica } from "@prkdb/prkdb/runtime";
 * const replica = new Replica(0, new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) }));
 * console.log(replica.sm.appliedIndex); // 0
 * ```
 */
export class Replica {
  /** The partition. */
  readonly partition: number;
  /** Its Raft node. */
  readonly node: RaftNode;
  /** Its state machine. */
  readonly sm: KvStateMachine;
  /** Writes waiting for their entry, by log index. */
  readonly writes: Map<number, PendingWrite> = new Map();
  /** Reads waiting for their read index, by read context. */
  readonly reads: Map<number, PendingRead> = new Map();
  /** What each applied entry changed since the last snapshot, for watchers. */
  readonly history: ChangeHistory;
  /** What of the log is on disk, and the notices and answers waiting for it. */
  readonly durability: Durability;
  /** The hard state last written to storage (term and vote must reach disk before use). */
  persistedHardState: HardState | undefined;
  /** Set when an entry could not be applied: the replica stops, and health says why. */
  fatal: Error | undefined;
  /** Reads that will share the read-index request not sent yet (see read_batch.ts). */
  openReads: ReadBatch | undefined;
  #appliedWaiters: (() => void)[] = [];

  /**
   * Creates the replica.
   *
   * @param partition The partition.
   * @param node Its Raft node, already recovered from storage.
   * @param snapshot The recovered snapshot's state machine data, if any.
   * @param keep How much change history to keep for watchers after a compaction.
   */
  constructor(
    partition: number,
    node: RaftNode,
    snapshot?: Uint8Array,
    keep?: { entries?: number; bytes?: number },
  ) {
    this.partition = partition;
    this.node = node;
    this.sm = new KvStateMachine(partition);
    if (snapshot) this.sm.restore(snapshot);
    this.history = new ChangeHistory(this.sm.appliedIndex, keep);
    this.durability = new Durability(partition, node);
  }

  /**
   * Resolves once the state machine has applied past `index` (or the replica stopped).
   *
   * @param index The index to pass.
   * @returns A promise for that moment.
   */
  appliedPast(index: number): Promise<void> {
    if (this.sm.appliedIndex > index || this.fatal) return Promise.resolve();
    return new Promise((resolve) => this.#appliedWaiters.push(resolve));
  }

  /** Wakes everyone waiting for applied entries (after applying, or when stopping). */
  wakeWatchers(): void {
    const waiters = this.#appliedWaiters;
    this.#appliedWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Tracks a write proposed at `index` in `term`. A write already waiting at that index was
   * cut from the log by an election that this node won again; its entry may still survive on
   * other nodes and commit, so its fate is unknown.
   *
   * @param index The proposal's log index.
   * @param write Its callbacks.
   * @returns How to stop tracking it.
   */
  trackWrite(index: number, write: PendingWrite): () => void {
    const older = this.writes.get(index);
    if (older) {
      older.reject(
        new OutcomeUnknownError(`Partition ${this.partition}: its log entry was overwritten`),
      );
    }
    this.writes.set(index, write);
    return () => {
      if (this.writes.get(index) === write) this.writes.delete(index);
    };
  }

  /**
   * Steps 3 and 4 of the Ready contract: restore a newer snapshot, apply committed entries and
   * settle the writes waiting on them, then note confirmed read indexes and release the reads
   * whose index is applied.
   *
   * @param rd The Ready, already persisted and sent.
   * @returns What was applied.
   */
  apply(rd: Ready): AppliedSummary {
    if (rd.snapshot && rd.snapshot.meta.index > this.sm.appliedIndex) {
      this.sm.restore(rd.snapshot.data);
      this.history.reset(rd.snapshot.meta.index);
      // Our proposals the snapshot covers: committed or overwritten, we cannot tell which.
      for (const [index, w] of this.writes) {
        if (index > rd.snapshot.meta.index) continue;
        this.writes.delete(index);
        w.reject(
          new OutcomeUnknownError(
            `Partition ${this.partition}: a snapshot from the leader replaced the log`,
          ),
        );
      }
    }
    let writes = 0;
    let duplicates = 0;
    for (const e of rd.committedEntries) {
      const result = this.sm.apply(e);
      // A write's changes are its mutations whenever it made any: the history keeps its bytes.
      if (result.op === "write" && result.changes.length > 0) {
        this.history.recordWrite(e.index, e.data);
      } else if (result.op === "expire") this.history.record(e.index, result.changes);
      if (result.op === "write") {
        if (result.duplicate) duplicates++;
        else writes++;
      }
      this.settleWrite(e, result);
    }
    for (const rs of rd.readStates) {
      const read = this.reads.get(rs.context);
      if (read) read.index = rs.index;
    }
    for (const context of rd.droppedReads) {
      this.reads.get(context)?.reject(
        new UnavailableError(
          `Partition ${this.partition}: leadership changed during the read; retry`,
        ),
      );
    }
    this.releaseReads();
    if (rd.committedEntries.length > 0 || rd.snapshot) this.wakeWatchers();
    return { writes, duplicates };
  }

  /**
   * Settles the write waiting on an applied entry, if any. The entry must be the one the write
   * proposed: if its term differs, another leader's entry won the index, and by Log Matching
   * the write can never commit.
   *
   * @param e The applied entry.
   * @param result What applying it did.
   */
  settleWrite(e: Entry, result: ApplyResult): void {
    const w = this.writes.get(e.index);
    if (!w) return;
    this.writes.delete(e.index);
    if (e.term === w.term) w.resolve(result);
    else {
      w.reject(
        new UnavailableError(
          `Partition ${this.partition}: the write was lost in a leader change and not applied; retry`,
        ),
      );
    }
  }

  /**
   * This replica's status.
   *
   * @param replicas The partition's replicas, preferred leader first.
   * @returns Its Raft view, applied index, and why it stopped if it did.
   */
  status(replicas: readonly NodeId[]): PartitionStatus {
    return {
      partition: this.partition,
      replicas,
      raft: this.node.status(),
      applied: this.sm.appliedIndex,
      sessions: this.sm.sessions,
      ...(this.fatal ? { fatal: this.fatal.message } : {}),
    };
  }

  /** Releases every read whose confirmed index the state machine has applied. */
  releaseReads(): void {
    for (const read of this.reads.values()) {
      if (read.index > 0 && this.sm.appliedIndex >= read.index) read.resolve();
    }
  }

  /**
   * Compacts the log into a snapshot of the state machine when the policy says so.
   *
   * @param policy When to compact.
   * @returns The snapshot's index and data, or `undefined` when it was not time.
   */
  maybeCompact(
    policy: CompactionPolicy | undefined,
  ): { index: number; data: Uint8Array } | undefined {
    // The node has the fields the policy reads: no status object is built each round.
    if (!policy || !shouldCompact(this.node, policy)) return undefined;
    const index = this.node.lastApplied;
    const data = this.sm.snapshot();
    this.node.compact(index, data);
    this.history.compacted(index, this.sm.appliedIndex);
    return { index, data };
  }

  /**
   * Fails every waiting request.
   *
   * @param write The error for waiting writes (their fate is usually unknown).
   * @param read The error for waiting reads.
   */
  failAll(write: Error, read: Error): void {
    this.openReads = undefined;
    for (const w of this.writes.values()) w.reject(write);
    for (const r of this.reads.values()) r.reject(read);
    this.writes.clear();
    this.reads.clear();
    this.wakeWatchers();
  }
}
