/**
 * The consensus state machine of one node: the state every role shares, the rules every role
 * applies first, and the role transitions. Role-specific behaviour lives in `roles/`.
 *
 * Internal: applications drive it through {@linkcode RaftNode}.
 *
 * @module
 */
import { type RaftConfig, resolveConfig, type ResolvedConfig } from "./config.ts";
import type { Entry } from "./entry.ts";
import { IllegalTransitionError } from "./errors.ts";
import type { RaftEvent } from "./events.ts";
import { RaftLog } from "./log.ts";
import type {
  AppendEntries,
  AppendEntriesResponse,
  Heartbeat,
  Message,
  ReadIndexRequest,
  VoteRequest,
} from "./message.ts";
import { Candidate } from "./roles/candidate.ts";
import { Follower } from "./roles/follower.ts";
import { Leader } from "./roles/leader.ts";
import type { Role } from "./roles/role.ts";
import { type HardState, type NodeId, NONE, type ReadState, type Snapshot } from "./types.ts";

/** A message as a role writes it: the core fills in the sender. */
export type Outgoing = Message extends infer M ? M extends Message ? Omit<M, "from"> : never
  : never;

/**
 * What a restarted node recovers from storage: the same shape storage's `load` returns.
 *
 * @example Usage
 * ```ts
 * import type { RestoredState } from "@prkdb/prkdb/raft";
 * const fresh: RestoredState = { hardState: { term: 0, votedFor: 0, commitIndex: 0 }, snapshot: undefined, entries: [] };
 * ```
 */
export interface RestoredState {
  /** The persisted hard state. */
  readonly hardState: HardState;
  /** The latest persisted snapshot, if any. */
  readonly snapshot: Snapshot | undefined;
  /** The persisted entries after the snapshot. */
  readonly entries: readonly Entry[];
}

/** One node's Raft state and the rules shared by all roles. */
export class Raft {
  readonly config: ResolvedConfig;
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  readonly log: RaftLog;
  /** The latest term seen (persistent). */
  term: number;
  /** Who this node voted for in `term` (persistent). */
  votedFor: NodeId;
  /** The leader of `term` this node knows of. */
  leaderId: NodeId = NONE;
  role: Role;

  /** The latest snapshot: what a leader sends followers behind its compaction point. */
  snapshot: Snapshot | undefined;

  /** Outputs accumulated until the next Ready. */
  readonly messages: Message[] = [];
  /** A snapshot to persist (and, if installed from the leader, to restore). */
  pendingSnapshot: Snapshot | undefined;
  /** Stored entries from this index on must go (an installed snapshot replaced the log). */
  pendingTruncateFrom: number | undefined;
  readonly events: RaftEvent[] = [];
  readonly readStates: ReadState[] = [];
  readonly droppedReads: number[] = [];

  constructor(config: RaftConfig, restored?: RestoredState) {
    this.config = resolveConfig(config);
    this.id = this.config.id;
    this.voters = this.config.voters;
    this.term = restored?.hardState.term ?? 0;
    this.votedFor = restored?.hardState.votedFor ?? NONE;
    this.snapshot = restored?.snapshot;
    const snapshotMeta = restored?.snapshot?.meta ?? { index: 0, term: 0 };
    this.log = new RaftLog(
      {
        snapshotIndex: snapshotMeta.index,
        snapshotTerm: snapshotMeta.term,
        entries: restored?.entries ?? [],
      },
      restored?.hardState.commitIndex ?? 0,
    );
    this.role = new Follower(this.randomElectionTimeout());
  }

  /** Votes needed to win: a majority of the voters. */
  get quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  /** The other voters. */
  get peers(): NodeId[] {
    return this.voters.filter((v) => v !== this.id);
  }

  get hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.log.commitIndex };
  }

  /** A fresh election timeout in `[electionTick, 2 * electionTick)` (Raft section 5.2). */
  randomElectionTimeout(): number {
    return this.config.electionTick + this.config.random.nextInt(this.config.electionTick);
  }

  send(message: Outgoing): void {
    this.messages.push({ ...message, from: this.id } as Message);
  }

  emit(event: RaftEvent): void {
    this.events.push(event);
  }

  tick(): void {
    this.role.tick(this);
  }

  /**
   * Handles a message: first the rules every role shares (Raft section 5.1: a higher term makes
   * any node a follower, a lower term is stale), then the role's own rules.
   */
  step(m: Message): void {
    if (m.term > this.term) {
      // Thesis section 4.2.3: a node that heard from a leader within the minimum election
      // timeout ignores vote requests, so a removed or partitioned node cannot depose a
      // healthy leader. A transfer-triggered election is the leader's own wish, so it passes.
      if (m.type === "Vote" && !m.leadershipTransfer && this.role.inLease(this)) return;
      const preVoteTraffic = (m.type === "Vote" && m.preVote) ||
        (m.type === "VoteResponse" && m.preVote && m.granted);
      // A PreVote (and a granted PreVote answer) carries a future term and changes no state.
      if (!preVoteTraffic) {
        const fromLeader = m.type === "AppendEntries" || m.type === "Heartbeat" ||
          m.type === "InstallSnapshot";
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if (
        (m.type === "AppendEntries" || m.type === "Heartbeat" || m.type === "InstallSnapshot") &&
        (this.config.checkQuorum || this.config.preVote)
      ) {
        // A stale leader would otherwise never learn the new term: with PreVote or
        // CheckQuorum nobody sends it a higher-term vote request. Tell it.
        this.send(appendRejection(m.from, this.term));
      } else if (m.type === "Vote" && m.preVote) {
        this.send({
          type: "VoteResponse",
          to: m.from,
          term: this.term,
          preVote: true,
          granted: false,
        });
      }
      return;
    }
    if (m.type === "Vote") {
      this.#handleVote(m);
      return;
    }
    this.role.step(this, m);
  }

  /** Grants or refuses a vote (Raft section 5.2 and 5.4.1), the same for every role. */
  #handleVote(m: VoteRequest): void {
    const canVote = this.votedFor === m.from ||
      (this.votedFor === NONE && this.leaderId === NONE) ||
      (m.preVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      this.send({
        type: "VoteResponse",
        to: m.from,
        term: m.term,
        preVote: m.preVote,
        granted: true,
      });
      if (!m.preVote) {
        this.votedFor = m.from;
        if (this.role instanceof Follower) this.role.electionElapsed = 0;
      }
    } else {
      this.send({
        type: "VoteResponse",
        to: m.from,
        term: this.term,
        preVote: m.preVote,
        granted: false,
      });
    }
  }

  /** The follower side of AppendEntries (Raft section 5.3). */
  handleAppendEntries(m: AppendEntries): void {
    const log = this.log;
    if (m.prevLogIndex < log.commitIndex) {
      // Everything up to our commit index is already agreed; say so and let the leader move on.
      this.send({
        ...appendRejection(m.from, this.term),
        success: true,
        matchIndex: log.commitIndex,
      });
      return;
    }
    const lastNew = log.tryAppend(m.prevLogIndex, m.prevLogTerm, m.leaderCommit, m.entries);
    if (lastNew !== undefined) {
      this.send({ ...appendRejection(m.from, this.term), success: true, matchIndex: lastNew });
      return;
    }
    // Consistency check failed. Point the leader at the last entry that could possibly match,
    // skipping every entry of a term newer than prevLogTerm (the "fast back-off" of section 5.3).
    const hint = log.findConflictByTerm(Math.min(m.prevLogIndex, log.lastIndex), m.prevLogTerm);
    this.send({
      ...appendRejection(m.from, this.term),
      rejectedIndex: m.prevLogIndex,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  /** The follower side of a heartbeat: learn the commit index, echo the read round. */
  handleHeartbeat(m: Heartbeat): void {
    this.log.commitTo(Math.min(m.leaderCommit, this.log.lastIndex));
    this.send({ type: "HeartbeatResponse", to: m.from, term: this.term, readRound: m.readRound });
  }

  /**
   * Records a snapshot of the state machine through `index` (taken by the runtime) and drops
   * the log entries it covers.
   */
  compact(index: number, data: Uint8Array): void {
    if (index <= this.log.snapshotIndex) return;
    const term = this.log.term(index);
    this.log.compact(index);
    this.snapshot = { meta: { index, term: term! }, data };
    this.pendingSnapshot = this.snapshot;
  }

  /** Installs a complete snapshot received from the leader (Raft section 7). */
  installSnapshot(snapshot: Snapshot): void {
    if (this.log.restore(snapshot.meta.index, snapshot.meta.term)) {
      this.pendingTruncateFrom = snapshot.meta.index + 1;
    }
    this.snapshot = snapshot;
    this.pendingSnapshot = snapshot;
    this.emit({
      type: "SnapshotInstalled",
      index: snapshot.meta.index,
      bytes: snapshot.data.length,
    });
  }

  /** Only a leader can confirm a read index: refuse a forwarded read so its asker fails fast. */
  refuseRead(m: ReadIndexRequest): void {
    this.send({
      type: "ReadIndexResponse",
      to: m.from,
      term: this.term,
      context: m.context,
      index: 0,
    });
  }

  /** Records the leader of the current term, emitting an event when it changes. */
  setLeader(leaderId: NodeId): void {
    if (this.leaderId === leaderId) return;
    this.leaderId = leaderId;
    this.emit({ type: "LeaderChanged", leaderId, term: this.term });
  }

  /** Starts an election now: a PreVote round first unless disabled or asked by TimeoutNow. */
  campaign(leadershipTransfer: boolean): void {
    if (this.role instanceof Leader) throw new IllegalTransitionError("Leader", "Candidate");
    this.#startElection(this.config.preVote && !leadershipTransfer, leadershipTransfer);
  }

  /** Called by a candidate that collected a quorum of votes. */
  wonElection(preVote: boolean): void {
    if (preVote) this.#startElection(false, false);
    else this.becomeLeader();
  }

  #startElection(preVote: boolean, leadershipTransfer: boolean): void {
    if (preVote) this.#setRole(new Candidate(true, this.randomElectionTimeout()));
    else {
      this.term += 1;
      this.votedFor = this.id;
      this.#setRole(new Candidate(false, this.randomElectionTimeout()));
    }
    this.setLeader(NONE);
    const term = preVote ? this.term + 1 : this.term;
    this.emit({ type: "ElectionStarted", preVote, term });
    const candidate = this.role as Candidate;
    if (candidate.recordVote(this, this.id, true)) return;
    for (const peer of this.peers) {
      this.send({
        type: "Vote",
        to: peer,
        term,
        preVote,
        lastLogIndex: this.log.lastIndex,
        lastLogTerm: this.log.lastTerm,
        leadershipTransfer,
      });
    }
  }

  /** Becomes a follower in `term`; the vote is kept only if the term does not change. */
  becomeFollower(term: number, leaderId: NodeId): void {
    if (term < this.term) {
      throw new IllegalTransitionError(
        `${this.role.name} at term ${this.term}`,
        `Follower at older term ${term}`,
      );
    }
    if (term > this.term) {
      this.term = term;
      this.votedFor = NONE;
    }
    this.#setRole(new Follower(this.randomElectionTimeout()));
    this.setLeader(leaderId);
  }

  /** Becomes leader after winning an election: only a Candidate may (Raft section 5.2). */
  becomeLeader(): void {
    if (this.role.name !== "Candidate") throw new IllegalTransitionError(this.role.name, "Leader");
    const leader = new Leader(this);
    this.#setRole(leader);
    this.setLeader(this.id);
    // Section 5.4.2 / 8: a leader only counts replicas for entries of its own term, so it
    // appends an empty entry at once; committing it also commits everything before it.
    leader.appendEntries(this, [{ type: "noop", data: new Uint8Array() }]);
  }

  #setRole(next: Role): void {
    const previous = this.role;
    previous.leave(this);
    this.role = next;
    if (previous.name !== next.name) {
      this.emit({ type: "RoleChanged", from: previous.name, to: next.name, term: this.term });
    }
  }
}

/** An AppendEntriesResponse template: a rejection carrying only the term. */
function appendRejection(to: NodeId, term: number): Omit<AppendEntriesResponse, "from"> {
  return {
    type: "AppendEntriesResponse",
    to,
    term,
    success: false,
    matchIndex: 0,
    rejectedIndex: 0,
    hintIndex: 0,
    hintTerm: 0,
  };
}

/** Builds entries for the leader's log from payloads. */
export function newEntries(
  first: number,
  term: number,
  items: readonly Pick<Entry, "type" | "data">[],
): Entry[] {
  return items.map((item, i) => ({ index: first + i, term, type: item.type, data: item.data }));
}
