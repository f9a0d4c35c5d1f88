/**
 * {@linkcode RaftNode}: the public face of the Raft core. It has five verbs, like etcd's raft:
 * `tick`, `step`, `propose` (plus `readIndex`), `ready` and `advance`.
 *
 * @module
 */
import type { RaftConfig } from "./config.ts";
import type { Membership, MembershipChange } from "./membership.ts";
import { InvalidMessageError, NotLeaderError, RaftError } from "./errors.ts";
import { type Message, MESSAGE_TYPES } from "./message.ts";
import type { Entry } from "./entry.ts";
import type { ProgressState } from "./progress.ts";
import { Raft, type RestoredState } from "./raft.ts";
import type { Ready } from "./ready.ts";
import { Candidate } from "./roles/candidate.ts";
import { Follower } from "./roles/follower.ts";
import { Leader } from "./roles/leader.ts";
import type { HardState, NodeId, RoleName } from "./types.ts";

export type { RestoredState } from "./raft.ts";

/**
 * Where a proposal landed in the log. It is committed (and the write may be acknowledged) once
 * the entry at `index` is applied **with this `term`**; if another entry is applied at `index`,
 * the proposal was lost in a leader change and may be retried.
 *
 * @example Usage
 * ```ts
 * import type { ProposalPosition } from "@prkdb/prkdb/raft";
 * const p: ProposalPosition = { index: 12, term: 3 };
 * ```
 */
export interface ProposalPosition {
  /** The entry's log index. */
  readonly index: number;
  /** The entry's term. */
  readonly term: number;
}

/**
 * What a leader knows about one follower.
 *
 * @example Usage
 * ```ts
 * import type { FollowerStatus } from "@prkdb/prkdb/raft";
 * const f: FollowerStatus = { id: 2, voter: true, matchIndex: 9, nextIndex: 10, state: "replicate",
 *   inflight: 0, recentActive: true };
 * ```
 */
export interface FollowerStatus {
  /** The follower's id. */
  readonly id: NodeId;
  /** Whether it votes (`false` for a learner). */
  readonly voter: boolean;
  /** The highest index known replicated on it. */
  readonly matchIndex: number;
  /** The next index to send it. */
  readonly nextIndex: number;
  /** How the leader replicates to it. */
  readonly state: ProgressState;
  /** AppendEntries messages in flight to it. */
  readonly inflight: number;
  /**
   * Whether it answered during the current or the previous CheckQuorum period. The previous
   * one counts too, so the answer does not drop to false for everyone each time a period
   * begins and the leader forgets who it heard from.
   */
  readonly recentActive: boolean;
}

/**
 * A node's election timer: ticks elapsed and the timeout they run towards. A follower or
 * candidate starts an election when `elapsed` reaches `timeout` (randomized, Raft section 5.2);
 * at a leader it is the CheckQuorum period (`electionTick`).
 *
 * @example Usage
 * ```ts
 * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * const node = new RaftNode({ id: 1, voters: [1, 2, 3], random: new SeededRandom(1) });
 * node.tick();
 * console.log(node.electionTimer().elapsed); // 1
 * ```
 */
export interface ElectionTimer {
  /** Ticks since the timer was last reset. */
  readonly elapsed: number;
  /** Ticks after which it fires. */
  readonly timeout: number;
}

/**
 * A snapshot of a node's Raft state, for telemetry, health checks and tests.
 *
 * @example Usage
 * ```ts
 * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
 * console.log(node.status().role); // "Follower"
 * ```
 */
export interface RaftStatus {
  /** This node's id. */
  readonly id: NodeId;
  /** Its current role. */
  readonly role: RoleName;
  /** The current term. */
  readonly term: number;
  /** Who it voted for in the current term, `0` for nobody. */
  readonly votedFor: NodeId;
  /** The leader it knows of, `0` for none. */
  readonly leaderId: NodeId;
  /** The highest index known committed. */
  readonly commitIndex: number;
  /** The highest index handed to the state machine. */
  readonly lastApplied: number;
  /** The index of its last log entry. */
  readonly lastLogIndex: number;
  /** The term of its last log entry. */
  readonly lastLogTerm: number;
  /** The first index still in the log (after compaction). */
  readonly firstIndex: number;
  /** Bytes held by the log after the snapshot: with `lastApplied - firstIndex`, when to compact. */
  readonly logBytes: number;
  /** The membership in force (the latest in the log, committed or not). */
  readonly membership: Membership;
  /** The index of the latest membership change in the log, `0` for none. */
  readonly membershipIndex: number;
  /** Whether the group is quiet here (see {@linkcode RaftNode.quiescent}). */
  readonly quiescent: boolean;
  /** Per-follower progress, when this node is the leader. */
  readonly followers: readonly FollowerStatus[];
}

/**
 * One member of a Raft group, as a pure state machine: no I/O, no timers, no clock. The
 * runtime feeds it ticks, messages and requests, and performs the work it returns.
 *
 * @example A one-node group elects itself and commits a proposal
 * ```ts
 * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * import { assertEquals } from "@std/assert";
 *
 * const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(7) });
 * node.campaign();
 * const { index } = node.propose(new TextEncoder().encode("x=1"));
 * const rd = node.ready();
 * // 1. persist rd.hardState and rd.entries, 2. send rd.messages, 3. apply:
 * assertEquals(rd.committedEntries.at(-1)?.index, index);
 * node.advance(rd);
 * ```
 */
export class RaftNode {
  #raft: Raft;
  #lastHardState: HardState;
  #outstanding: Ready | undefined;

  /**
   * Creates a node, fresh or restored from what storage held.
   *
   * @param config The node's configuration.
   * @param restored The persisted hard state and log, after a restart.
   */
  constructor(config: RaftConfig, restored?: RestoredState) {
    this.#raft = new Raft(config, restored);
    this.#lastHardState = this.#raft.hardState;
  }

  /** This node's id. */
  get id(): NodeId {
    return this.#raft.id;
  }

  /** Whether this node is currently the leader. */
  get isLeader(): boolean {
    return this.#raft.role instanceof Leader;
  }

  /** The leader this node knows of, `0` for none. */
  get leaderId(): NodeId {
    return this.#raft.leaderId;
  }

  /**
   * The index of the last entry handed out to apply (`lastApplied`), as in {@linkcode status}
   * but without building it: the runtime reads it every round.
   */
  get lastApplied(): number {
    return this.#raft.log.lastApplied;
  }

  /** The first index still in the log (after the snapshot), as in {@linkcode status}. */
  get firstIndex(): number {
    return this.#raft.log.firstIndex;
  }

  /** The bytes of entry data the log holds, as in {@linkcode status}. */
  get logBytes(): number {
    return this.#raft.log.bytes;
  }

  /**
   * At a leader, the lowest `matchIndex` of its followers: every entry up to it is on every
   * member. `Infinity` at a leader without followers, and at a node that does not lead.
   *
   * @example Usage
   * ```ts
   * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
   * const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
   * node.campaign();
   * console.log(node.lowestMatchIndex()); // Infinity
   * ```
   */
  lowestMatchIndex(): number {
    const role = this.#raft.role;
    if (!(role instanceof Leader)) return Infinity;
    let lowest = Infinity;
    for (const pr of role.progress.values()) if (pr.matchIndex < lowest) lowest = pr.matchIndex;
    return lowest;
  }

  /**
   * Whether the group went quiet here (`RaftConfig.quiesce`): a quiet leader sends nothing and a
   * quiet follower's election timer stands still, until something wakes them.
   */
  get quiescent(): boolean {
    const role = this.#raft.role;
    return (role instanceof Leader || role instanceof Follower) && role.quiescent;
  }

  /**
   * Ends quiescence here. The runtime calls it at a follower whose leader's node stopped
   * answering: its election timer runs again and its lease ends, so the group elects a new
   * leader about as fast as after a leader that stopped sending heartbeats.
   */
  wake(): void {
    const role = this.#raft.role;
    if (role instanceof Leader) role.wake();
    else if (role instanceof Follower) role.wake(this.#raft);
  }

  /** The membership in force: the latest in the log (or snapshot), committed or not. */
  get membership(): Membership {
    return this.#raft.membership;
  }

  /** Advances the logical clock by one tick (election and heartbeat timers). */
  tick(): void {
    this.#raft.tick();
  }

  /**
   * Handles a message from another member.
   *
   * @param message The message, as decoded by the transport.
   * @throws {InvalidMessageError} When it is malformed, not for this node, or from a stranger.
   */
  step(message: Message): void {
    this.#validate(message);
    this.#raft.step(message);
  }

  /**
   * Starts an election now, as if the election timeout had fired.
   *
   * @throws {RaftError} When this node is not a voter (a learner, or removed from the group).
   */
  campaign(): void {
    const raft = this.#raft;
    if (!raft.isVoter(raft.id)) throw new RaftError(`Node ${raft.id} is not a voter of its group`);
    raft.campaign(false);
  }

  /**
   * Appends a command to the leader's log.
   *
   * @param data The command, opaque to Raft.
   * @returns Where the entry landed; see {@linkcode ProposalPosition} for when it is committed.
   * @throws {NotLeaderError} When this node is not the leader.
   * @throws {ProposalDroppedError} During a leadership transfer, or with too much uncommitted.
   */
  propose(data: Uint8Array): ProposalPosition {
    const [entry] = this.#leader().appendEntries(this.#raft, [{ type: "normal", data }]);
    return { index: entry.index, term: entry.term };
  }

  /**
   * Appends many commands at once (one log append, one replication round).
   *
   * @param batch The commands.
   * @returns The position of each, in order.
   */
  proposeBatch(batch: readonly Uint8Array[]): ProposalPosition[] {
    const items = batch.map((data) => ({ type: "normal" as const, data }));
    return this.#leader().appendEntries(this.#raft, items).map((e) => ({
      index: e.index,
      term: e.term,
    }));
  }

  /**
   * Proposes a single-server membership change (thesis section 4.1): add a learner, promote a
   * learner that has caught up, or remove a member. The new membership is in force from the
   * moment it is in the log; the change is done when the entry at the returned position is
   * applied. A leader that removes itself steps down once the change commits.
   *
   * @param change What to change.
   * @returns Where the `config` entry landed.
   * @throws {NotLeaderError} When this node is not the leader.
   * @throws {ProposalDroppedError} While another change is uncommitted, before the leader
   *   committed an entry of its term, or while the learner to promote is catching up: retry.
   * @throws {MembershipChangeError} When the change is not possible.
   *
   * @example Grow a one-node group to two voters
   * ```ts
   * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
   * const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
   * node.campaign();
   * node.advance(node.ready()); // commits the leader's no-op
   * const { index } = node.changeMembership({ type: "addLearner", node: 2 });
   * console.log(index, node.status().membership.learners); // 2 [2]
   * ```
   */
  changeMembership(change: MembershipChange): ProposalPosition {
    const entry = this.#leader().changeMembership(this.#raft, change);
    return { index: entry.index, term: entry.term };
  }

  /**
   * Requests a linearizable read. At the leader, it is confirmed by one heartbeat round to a
   * quorum (shared with every other read admitted before the next Ready). At a follower, it is
   * forwarded to the leader (follower reads). Either way a `ReadState` with this `context`
   * arrives in a later Ready, or the context appears in `droppedReads`; a forwarded read whose
   * messages are lost simply never returns, so callers need a timeout.
   *
   * @param context The caller's identifier for the read, unique among its pending reads.
   * @throws {NotLeaderError} At a follower that knows no leader, or a candidate.
   */
  readIndex(context: number): void {
    const raft = this.#raft;
    if (raft.role instanceof Leader) raft.role.addRead(raft, context, raft.id);
    else if (raft.role.name === "Follower" && raft.leaderId !== 0) {
      raft.send({ type: "ReadIndex", to: raft.leaderId, term: raft.term, context });
    } else throw new NotLeaderError(raft.id, raft.leaderId);
  }

  /**
   * At the leader, once entry `index` of `term` is on this node's disk: whether `peer`, once it
   * holds that entry durably too, may take it as committed without waiting to hear so. That is
   * so when this node still leads in `term`, this node and `peer` are a majority of the voters,
   * and no membership change is pending. Then the read floor rises to `index`: every
   * linearizable read admitted from now on (here, or asked for by a follower) gets a read index
   * of at least `index`, since `peer` may answer for the entry before this leader learns that
   * it committed.
   *
   * A follower that passed a write on uses this to answer its client one round trip sooner: the
   * leader tells it the write's entry is durable here, and it answers once the entry is durable
   * on itself as well (a majority of three, in the leader's term: committed).
   *
   * @param peer The follower that will be told.
   * @param index The entry, durable on this node.
   * @param term The entry's term (this leader's).
   * @returns Whether `peer` may be told.
   *
   * @example Usage
   * ```ts
   * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
   * const node = new RaftNode({ id: 1, voters: [1, 2, 3], random: new SeededRandom(1) });
   * console.log(node.announceDurable(2, 1, 1)); // false: not the leader
   * ```
   */
  announceDurable(peer: NodeId, index: number, term: number): boolean {
    const raft = this.#raft;
    const role = raft.role;
    if (!(role instanceof Leader) || raft.term !== term || raft.log.term(index) !== term) {
      return false;
    }
    const voters = raft.voters;
    if (voters.length > 3 || !voters.includes(raft.id) || !voters.includes(peer)) return false;
    if (raft.log.lastConfigIndex() > raft.log.commitIndex) return false;
    role.readFloor = Math.max(role.readFloor, index);
    return true;
  }

  /**
   * The term of the log's entry at `index`, if the log still holds it (or its snapshot ends
   * there).
   *
   * @param index The entry's index.
   * @returns Its term, or `undefined`.
   *
   * @example Usage
   * ```ts
   * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
   * const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
   * console.log(node.termAt(1)); // undefined: the log is empty
   * ```
   */
  termAt(index: number): number | undefined {
    return this.#raft.log.term(index);
  }

  /**
   * The highest index handed to storage. It drops when the log is cut in memory (a conflicting
   * suffix replaced), before the replacement is handed over.
   */
  get stableIndex(): number {
    return this.#raft.log.stableIndex;
  }

  /**
   * Asks the leader to hand leadership to `to`. Proposals are refused until the transfer
   * finishes or is abandoned (after an election timeout).
   *
   * @param to The voter that should become leader.
   * @throws {NotLeaderError} When this node is not the leader.
   */
  transferLeadership(to: NodeId): void {
    if (to === this.#raft.id) return;
    this.#leader().transferLeadership(this.#raft, to);
  }

  /**
   * Replaces the log prefix through `index` with a snapshot of the state machine, taken by the
   * runtime after applying `index`. The next Ready carries the snapshot to persist; the leader
   * also sends it to followers that need compacted entries.
   *
   * @param index The last applied index the snapshot covers, at most `status().lastApplied`.
   * @param data The state machine's serialized state at `index`.
   * @throws {RaftError} When `index` has not been applied yet.
   */
  compact(index: number, data: Uint8Array): void {
    this.#raft.compact(index, data);
  }

  /**
   * Applied entries after `afterIndex`: a partition's change feed, for asynchronous readers.
   *
   * @param afterIndex Entries after this index.
   * @param maxCount The most to return.
   * @returns The entries (possibly none), or `"compacted"` when some were compacted into the
   *   snapshot and the reader must start from a snapshot.
   */
  appliedEntries(afterIndex: number, maxCount: number): readonly Entry[] | "compacted" {
    const log = this.#raft.log;
    if (afterIndex < log.snapshotIndex) return "compacted";
    const hi = Math.min(log.lastApplied, afterIndex + maxCount);
    return hi <= afterIndex ? [] : log.slice(afterIndex + 1, hi + 1);
  }

  /**
   * Whether {@linkcode ready} has anything to hand out. It only looks: nothing changes.
   *
   * @returns `true` when there is work.
   */
  hasReady(): boolean {
    const raft = this.#raft;
    if (this.#outstanding) return false;
    if (raft.role instanceof Leader && raft.role.hasUnsent(raft)) return true;
    return raft.messages.length > 0 || raft.events.length > 0 || raft.readStates.length > 0 ||
      raft.droppedReads.length > 0 || raft.log.stableIndex < raft.log.lastIndex ||
      raft.pendingSnapshot !== undefined ||
      raft.log.commitIndex > raft.log.lastApplied ||
      !sameHardState(this.#lastHardState, raft.hardState);
  }

  /**
   * Hands out the accumulated work. Process it in the order {@linkcode Ready} documents, then
   * call {@linkcode advance}. Messages may be stepped in between; `ready` may not be called
   * again until `advance`.
   *
   * @returns The work to do.
   */
  ready(): Ready {
    if (this.#outstanding) throw new RaftError("ready() called again before advance()");
    const raft = this.#raft;
    if (raft.role instanceof Leader) raft.role.flush(raft);
    const hardState = raft.hardState;
    const rd: Ready = {
      hardState: sameHardState(this.#lastHardState, hardState) ? undefined : hardState,
      snapshot: raft.pendingSnapshot,
      truncateFrom: raft.pendingTruncateFrom,
      entries: raft.log.unstableEntries(),
      messages: raft.messages.splice(0),
      committedEntries: raft.log.committedEntries(),
      readStates: raft.readStates.splice(0),
      droppedReads: raft.droppedReads.splice(0),
      events: raft.events.splice(0),
    };
    this.#lastHardState = hardState;
    raft.pendingSnapshot = undefined;
    raft.pendingTruncateFrom = undefined;
    raft.log.markStable();
    this.#outstanding = rd;
    return rd;
  }

  /**
   * Acknowledges that a Ready was fully processed (persisted, sent, applied).
   *
   * @param rd The Ready returned by the last call to {@linkcode ready}.
   */
  advance(rd: Ready): void {
    if (rd !== this.#outstanding) throw new RaftError("advance() must be given the last Ready");
    this.#outstanding = undefined;
    const last = rd.committedEntries.at(-1);
    if (last) this.#raft.log.appliedTo(last.index);
  }

  /**
   * Reads the node's current state.
   *
   * @returns A status snapshot.
   */
  status(): RaftStatus {
    const raft = this.#raft;
    const followers: FollowerStatus[] = [];
    if (raft.role instanceof Leader) {
      for (const [id, pr] of raft.role.progress) {
        followers.push({
          id,
          voter: raft.isVoter(id),
          matchIndex: pr.matchIndex,
          nextIndex: pr.nextIndex,
          state: pr.state,
          inflight: pr.inflights.count,
          recentActive: pr.recentActive || pr.activeLastPeriod,
        });
      }
    }
    return {
      id: raft.id,
      role: raft.role.name,
      term: raft.term,
      votedFor: raft.votedFor,
      leaderId: raft.leaderId,
      commitIndex: raft.log.commitIndex,
      lastApplied: raft.log.lastApplied,
      lastLogIndex: raft.log.lastIndex,
      lastLogTerm: raft.log.lastTerm,
      firstIndex: raft.log.firstIndex,
      logBytes: raft.log.bytes,
      membership: raft.membership,
      membershipIndex: raft.log.lastConfigIndex(),
      quiescent: this.quiescent,
      followers,
    };
  }

  /**
   * Reads the election timer, for visualizations and tests.
   *
   * @returns Ticks elapsed and the timeout.
   */
  electionTimer(): ElectionTimer {
    const role = this.#raft.role;
    if (role instanceof Follower || role instanceof Candidate) {
      return { elapsed: role.electionElapsed, timeout: role.electionTimeout };
    }
    return { elapsed: this.#leader().electionElapsed, timeout: this.#raft.config.electionTick };
  }

  #leader(): Leader {
    const raft = this.#raft;
    if (!(raft.role instanceof Leader)) throw new NotLeaderError(raft.id, raft.leaderId);
    return raft.role;
  }

  #validate(m: Message): void {
    if (typeof m !== "object" || m === null || !MESSAGE_TYPES.includes(m.type)) {
      throw new InvalidMessageError(
        `unknown message type ${JSON.stringify((m as { type?: unknown })?.type)}`,
      );
    }
    if (m.to !== this.#raft.id) {
      throw new InvalidMessageError(`addressed to node ${m.to}, this is node ${this.#raft.id}`);
    }
    // Any other node may write: a node must hear from members its own membership does not
    // know yet, such as a leader added after its log ends (thesis section 4.1). Which nodes may
    // talk at all is decided by the transport (cluster name, certificates).
    if (!Number.isSafeInteger(m.from) || m.from <= 0 || m.from === this.#raft.id) {
      throw new InvalidMessageError(`sender ${m.from} is not another node`);
    }
    if (!Number.isSafeInteger(m.term) || m.term < 0) {
      throw new InvalidMessageError(`term must be a non-negative integer, got ${m.term}`);
    }
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}
