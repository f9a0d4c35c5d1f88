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
import {
  decodeMembership,
  members,
  type Membership,
  membership,
  sameMembership,
} from "./membership.ts";
import type { AppendEntriesResponse, Message, ReadIndexRequest, VoteRequest } from "./message.ts";
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

  /** The membership the configuration starts the group with. */
  readonly #initialMembership: Membership;
  /** The decoded latest `config` entry, keyed by its index and term. */
  #configCache: { index: number; term: number; membership: Membership } | undefined;
  /** The membership last reported in a `MembershipChanged` event. */
  #reportedMembership: Membership;

  constructor(config: RaftConfig, restored?: RestoredState) {
    this.config = resolveConfig(config);
    this.id = this.config.id;
    this.#initialMembership = membership(this.config.voters, this.config.learners);
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
    this.#reportedMembership = this.membership;
  }

  /**
   * The membership in force: the latest `config` entry in the log, committed or not (thesis
   * section 4.1), else the snapshot's, else the configured one.
   */
  get membership(): Membership {
    return this.membershipAt(this.log.lastIndex);
  }

  /** The voters of the membership in force. */
  get voters(): readonly NodeId[] {
    return this.membership.voters;
  }

  /** Whether `id` is a voter of the membership in force. */
  isVoter(id: NodeId): boolean {
    return this.membership.voters.includes(id);
  }

  /**
   * The nodes a leader replicates to: every other member (voters and learners) and, while a
   * change is uncommitted, the members it removes too, so that they learn of their removal and
   * stop campaigning.
   */
  get peers(): NodeId[] {
    const ids = new Set(members(this.membership));
    const at = this.log.lastConfigIndex();
    if (at > this.log.commitIndex) {
      for (const id of members(this.membershipAt(at - 1))) ids.add(id);
    }
    ids.delete(this.id);
    return [...ids].sort((a, b) => a - b);
  }

  /** The membership as of log index `index`: what a snapshot through `index` records. */
  membershipAt(index: number): Membership {
    const at = this.log.lastConfigIndex(index);
    if (at === 0) return this.snapshot?.meta.membership ?? this.#initialMembership;
    const entry = this.log.entry(at)!;
    const cached = this.#configCache;
    if (cached?.index === at && cached.term === entry.term) return cached.membership;
    const decoded = decodeMembership(entry.data);
    this.#configCache = { index: at, term: entry.term, membership: decoded };
    return decoded;
  }

  /**
   * Reports a change of membership (appended, cut away with a conflicting suffix, or installed
   * with a snapshot) and lets a leader start or stop replicating to the nodes concerned.
   */
  noteMembership(): void {
    const current = this.membership;
    if (sameMembership(current, this.#reportedMembership)) return;
    this.#reportedMembership = current;
    this.emit({
      type: "MembershipChanged",
      voters: current.voters,
      learners: current.learners,
      index: this.log.lastConfigIndex(),
    });
    if (this.role instanceof Leader) this.role.trackMembers(this);
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
      if (m.type === "Vote" && !m.leadershipTransfer && this.role.inLease(this)) {
        if (this.role instanceof Follower && m.from === this.leaderId) {
          // The leader itself asks for votes: it restarted or stepped down, so there is no
          // leader to protect. Without this, quiet followers (whose lease never runs out)
          // would refuse a leader that restarted faster than its silence was noticed.
          this.role.leaderGone(this);
        } else {
          // Someone wants an election: a quiet leader resumes heartbeats, which answers them.
          if (this.role instanceof Leader) this.role.wake();
          return;
        }
      }
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
    this.noteMembership();
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
        // Section 5.2: a follower that grants a vote restarts its election timer.
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

  /**
   * Records a snapshot of the state machine through `index` (taken by the runtime) and drops
   * the log entries it covers.
   */
  compact(index: number, data: Uint8Array): void {
    if (index <= this.log.snapshotIndex) return;
    const term = this.log.term(index)!;
    const membership = this.membershipAt(index);
    this.log.compact(index);
    this.snapshot = { meta: { index, term, membership }, data };
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

  /**
   * Starts an election now: a PreVote round first unless disabled or asked by TimeoutNow. Only
   * a voter campaigns: a learner, or a node removed from the group, never does.
   */
  campaign(leadershipTransfer: boolean): void {
    if (this.role instanceof Leader) throw new IllegalTransitionError("Leader", "Candidate");
    if (!this.isVoter(this.id)) return;
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
    for (const peer of this.voters) {
      if (peer === this.id) continue;
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

/**
 * An AppendEntriesResponse template: a rejection carrying only the term.
 *
 * @param to The leader to answer.
 * @param term The term to report.
 * @returns The message, without its sender.
 */
export function appendRejection(to: NodeId, term: number): Omit<AppendEntriesResponse, "from"> {
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
