/**
 * The Leader role (Raft sections 5.3 and 5.4): it replicates its log to every follower,
 * decides what is committed, confirms linearizable reads (ReadIndex, thesis section 6.4), checks
 * that a quorum still follows it (CheckQuorum, thesis section 6.2), and can hand leadership to
 * another node (TimeoutNow, thesis section 3.10).
 *
 * @module
 */
import { entrySize } from "../entry.ts";
import type { Entry } from "../entry.ts";
import { ProposalDroppedError, RaftError } from "../errors.ts";
import { changeMembership, encodeMembership, type MembershipChange } from "../membership.ts";
import type {
  AppendEntriesResponse,
  HeartbeatResponse,
  InstallSnapshotResponse,
  Message,
} from "../message.ts";
import { Progress } from "../progress.ts";
import { hasQuorum, quorumValue } from "../quorum.ts";
import { newEntries, type Raft } from "../raft.ts";
import { type NodeId, NONE, type RoleName } from "../types.ts";
import type { Role } from "./role.ts";

/** A linearizable read waiting for its ReadIndex round to be confirmed. */
interface PendingRead {
  readonly context: number;
  /** The node that asked: this leader, or a follower that forwarded it. */
  readonly from: NodeId;
  /** The commit index when the read was admitted (0 until the leader committed in its term). */
  index: number;
  /** The heartbeat round that confirms it (0 until one is started). */
  round: number;
}

/** A leader, its view of every follower, and its pending reads and transfer. */
export class Leader implements Role {
  readonly name: RoleName = "Leader";
  /** Replication progress, by follower. Only a leader has this. */
  readonly progress: Map<NodeId, Progress> = new Map();
  heartbeatElapsed = 0;
  /** Ticks in the current CheckQuorum period. */
  electionElapsed = 0;
  /** The node leadership is being transferred to, or `0`. */
  transferee: NodeId = NONE;
  transferElapsed = 0;
  /** Whether TimeoutNow already went to the transferee. */
  timeoutNowSent = false;
  /** Bytes of entries not yet known committed, bounded by `maxUncommittedBytes`. */
  uncommittedBytes = 0;
  /** The latest ReadIndex round started. */
  readRound = 0;
  /**
   * The lowest read index a new read may get: the highest entry this leader told a follower it
   * holds durably (see `RaftNode.announceDurable`). That follower may answer for the entry
   * before this leader learns it committed, so a read started afterwards must wait for it.
   */
  readFloor = 0;
  readonly pendingReads: PendingRead[] = [];
  /**
   * Idle and fully replicated (`RaftConfig.quiesce`): ticks do nothing, no heartbeats and no
   * CheckQuorum, until {@linkcode wake}.
   */
  quiescent = false;

  constructor(raft: Raft) {
    this.trackMembers(raft, false);
    for (let i = raft.log.commitIndex + 1; i <= raft.log.lastIndex; i++) {
      this.uncommittedBytes += entrySize(raft.log.entry(i)!);
    }
  }

  /**
   * Replicates to exactly {@linkcode Raft.peers}: the other members, plus those an uncommitted
   * change removes. A new member gets a progress whose `nextIndex` starts just after the
   * leader's last entry (section 5.3); a removed one is forgotten once its removal commits.
   *
   * @param joining Whether new members joined while leading (not at election).
   */
  trackMembers(raft: Raft, joining = true): void {
    const peers = new Set(raft.peers);
    for (const id of this.progress.keys()) if (!peers.has(id)) this.progress.delete(id);
    for (const id of peers) {
      if (this.progress.has(id)) continue;
      const pr = new Progress(raft.log.lastIndex + 1, raft.config.maxInflightMessages);
      // A member added while leading has nothing to receive yet (the change is already in the
      // log before it is tracked): probe it at once instead of waiting for a heartbeat.
      pr.resync = joining;
      this.progress.set(id, pr);
    }
    if (this.transferee !== NONE && !raft.isVoter(this.transferee)) {
      raft.emit({ type: "LeadershipTransfer", to: this.transferee, outcome: "aborted" });
      this.transferee = NONE;
    }
  }

  /** Ends quiescence: timers start again from zero. */
  wake(): void {
    if (!this.quiescent) return;
    this.quiescent = false;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // A fresh CheckQuorum period: what followers did before the quiet does not count.
    for (const pr of this.progress.values()) pr.recentActive = false;
  }

  /**
   * Whether the group may go quiet: nothing pending here, everything committed in this term,
   * and every member active, holding the whole log and knowing it is committed.
   */
  #canQuiesce(raft: Raft): boolean {
    const log = raft.log;
    if (this.transferee !== NONE || this.pendingReads.length > 0) return false;
    if (log.commitIndex !== log.lastIndex || log.term(log.commitIndex) !== raft.term) return false;
    for (const pr of this.progress.values()) {
      if (
        pr.matchIndex !== log.lastIndex || pr.sentCommit < log.commitIndex ||
        pr.state !== "replicate" || pr.inflights.count > 0 || !pr.recentActive
      ) {
        return false;
      }
    }
    return true;
  }

  tick(raft: Raft): void {
    if (this.quiescent) return;
    this.electionElapsed++;
    this.heartbeatElapsed++;
    if (this.electionElapsed >= raft.config.electionTick) {
      this.electionElapsed = 0;
      if (raft.config.checkQuorum && !this.#quorumActive(raft)) {
        raft.emit({ type: "QuorumLost", term: raft.term });
        raft.becomeFollower(raft.term, NONE);
        return;
      }
    }
    if (this.transferee !== NONE && ++this.transferElapsed >= raft.config.electionTick) {
      raft.emit({ type: "LeadershipTransfer", to: this.transferee, outcome: "aborted" });
      this.transferee = NONE;
    }
    if (this.heartbeatElapsed >= raft.config.heartbeatTick) {
      this.heartbeatElapsed = 0;
      const quiesce = raft.config.quiesce && this.#canQuiesce(raft);
      this.#broadcastHeartbeat(raft, quiesce);
      if (quiesce) this.quiescent = true;
    }
  }

  step(raft: Raft, m: Message): void {
    switch (m.type) {
      case "AppendEntriesResponse":
        this.#handleAppendResponse(raft, m);
        return;
      case "HeartbeatResponse":
        this.#handleHeartbeatResponse(raft, m);
        return;
      case "ReadIndex":
        this.addRead(raft, m.context, m.from);
        return;
      case "InstallSnapshotResponse":
        this.#handleSnapshotResponse(raft, m);
        return;
      default:
        return;
    }
  }

  inLease(): boolean {
    return true;
  }

  leave(raft: Raft): void {
    // Reads this leader could not confirm must fail now, not time out later.
    for (const read of this.pendingReads) {
      if (read.from === raft.id) raft.droppedReads.push(read.context);
      else {
        raft.send({
          type: "ReadIndexResponse",
          to: read.from,
          term: raft.term,
          context: read.context,
          index: 0,
        });
      }
    }
    this.pendingReads.length = 0;
  }

  /** Appends new entries of this term, as for a proposal or the election no-op. */
  appendEntries(raft: Raft, items: readonly Pick<Entry, "type" | "data">[]): Entry[] {
    this.wake();
    if (this.transferee !== NONE) {
      throw new ProposalDroppedError(`leadership transfer to node ${this.transferee} in progress`);
    }
    let bytes = 0;
    for (const item of items) bytes += item.data.byteLength;
    if (
      this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > raft.config.maxUncommittedBytes
    ) {
      throw new ProposalDroppedError(
        `${this.uncommittedBytes} bytes are uncommitted, the limit is ${raft.config.maxUncommittedBytes}`,
      );
    }
    const entries = newEntries(raft.log.lastIndex + 1, raft.term, items);
    raft.log.append(entries);
    for (const e of entries) this.uncommittedBytes += entrySize(e);
    this.#maybeCommit(raft); // a single-node group commits at once
    return entries;
  }

  /**
   * Appends a single-server membership change (thesis section 4.1). The new membership is in
   * force as soon as it is in the log. Two rules keep single-server changes safe: only one
   * change may be uncommitted at a time, and a leader makes none before it has committed an
   * entry of its own term (otherwise a change from a deposed leader's term could be lost while
   * this one commits with a majority that does not overlap it).
   *
   * @throws {ProposalDroppedError} While another change is uncommitted, before the leader
   *   committed in its term, while a learner to promote is catching up, or during a transfer:
   *   retry later.
   * @throws {MembershipChangeError} When the change makes no sense for the current membership.
   */
  changeMembership(raft: Raft, change: MembershipChange): Entry {
    const log = raft.log;
    if (log.lastConfigIndex() > log.commitIndex) {
      throw new ProposalDroppedError(
        `the membership change at index ${log.lastConfigIndex()} is not committed yet`,
      );
    }
    if (log.term(log.commitIndex) !== raft.term) {
      throw new ProposalDroppedError(`no entry of term ${raft.term} is committed yet`);
    }
    const next = changeMembership(raft.membership, change);
    if (change.type === "promote") {
      const pr = this.progress.get(change.node)!;
      // Caught up: it holds the whole log, or it is streaming (so it answers) and is at most
      // one message of entries behind the commit index.
      const streaming = pr.state === "replicate" &&
        log.commitIndex - pr.matchIndex <= raft.config.maxEntriesPerMessage;
      if (pr.matchIndex < log.lastIndex && !streaming) {
        throw new ProposalDroppedError(
          `learner ${change.node} has not caught up (holds ${pr.matchIndex}, commit ${log.commitIndex})`,
        );
      }
    }
    const [entry] = this.appendEntries(raft, [{ type: "config", data: encodeMembership(next) }]);
    raft.noteMembership();
    return entry;
  }

  /**
   * Admits a linearizable read (from this node or forwarded by a follower). Its round starts at
   * the next {@linkcode flush}, shared with every read admitted until then.
   */
  addRead(_raft: Raft, context: number, from: NodeId): void {
    this.wake();
    this.pendingReads.push({ context, from, index: 0, round: 0 });
  }

  /** Starts a transfer of leadership to `to` (thesis section 3.10). */
  transferLeadership(raft: Raft, to: NodeId): void {
    this.wake();
    const pr = this.progress.get(to);
    if (!pr || !raft.isVoter(to)) {
      throw new RaftError(`Cannot transfer leadership to node ${to}: not a voter of this group`);
    }
    if (this.transferee === to) return;
    if (this.transferee !== NONE) {
      raft.emit({ type: "LeadershipTransfer", to: this.transferee, outcome: "aborted" });
    }
    this.transferee = to;
    this.transferElapsed = 0;
    this.timeoutNowSent = false;
    raft.emit({ type: "LeadershipTransfer", to, outcome: "started" });
    this.#maybeSendTimeoutNow(raft, to, pr);
  }

  /**
   * Sends what each follower is missing: as many batched AppendEntries as its pipeline window
   * allows, or a heartbeat when only the commit index moved. Called once per Ready, so every
   * proposal made since the last Ready travels in the same messages, and every read admitted
   * since the last Ready shares one heartbeat round.
   */
  flush(raft: Raft): void {
    this.#startReadRound(raft);
    for (const [id, pr] of this.progress) this.#sendAppends(raft, id, pr);
  }

  /**
   * Whether {@linkcode flush} would send anything, without sending it: reads waiting for a
   * round, entries or snapshot chunks a follower's window has room for, or a commit index a
   * follower has not heard. The same conditions as `#sendAppends` and `#startReadRound`.
   */
  hasUnsent(raft: Raft): boolean {
    const log = raft.log;
    if (log.term(log.commitIndex) === raft.term && this.pendingReads.some((r) => r.round === 0)) {
      return true;
    }
    for (const pr of this.progress.values()) {
      if (!pr.paused) {
        if (pr.state === "snapshot" || pr.nextIndex <= log.lastIndex) return true;
        if (pr.resync && pr.matchIndex < log.lastIndex) return true;
      }
      if (pr.state !== "snapshot" && pr.sentCommit < Math.min(log.commitIndex, pr.matchIndex)) {
        return true;
      }
    }
    return false;
  }

  #sendAppends(raft: Raft, to: NodeId, pr: Progress): void {
    const log = raft.log;
    const { maxEntriesPerMessage, maxBytesPerMessage } = raft.config;
    // In replicate state a lost message leaves a gap the follower cannot see until the next
    // AppendEntries arrives, so after a heartbeat answer that shows it behind, send one even if
    // it is empty: the follower accepts it, or rejects it and the leader falls back to probing.
    if (pr.state === "snapshot") {
      if (!pr.paused) this.#sendSnapshotChunk(raft, to, pr);
      return;
    }
    let forceEmpty = pr.resync && pr.matchIndex < log.lastIndex;
    pr.resync = false;
    while (!pr.paused && (pr.nextIndex <= log.lastIndex || forceEmpty)) {
      forceEmpty = false;
      const prevLogIndex = pr.nextIndex - 1;
      const prevLogTerm = log.term(prevLogIndex);
      if (prevLogTerm === undefined) {
        // The follower needs entries compacted into a snapshot: InstallSnapshot takes over.
        pr.becomeSnapshot(raft.snapshot!.meta.index);
        this.#sendSnapshotChunk(raft, to, pr);
        return;
      }
      const entries = pr.nextIndex > log.lastIndex
        ? []
        : log.slice(pr.nextIndex, log.lastIndex + 1, maxEntriesPerMessage, maxBytesPerMessage);
      const lastSent = prevLogIndex + entries.length;
      raft.send({
        type: "AppendEntries",
        to,
        term: raft.term,
        prevLogIndex,
        prevLogTerm,
        entries,
        leaderCommit: log.commitIndex,
      });
      pr.sent(lastSent, entries.length);
      pr.sentCommit = Math.max(pr.sentCommit, Math.min(log.commitIndex, lastSent));
    }
    // Nothing (more) to send, but the follower has not heard of the latest commit index. A
    // follower that holds everything and owes no read round has nothing to tell the leader, so
    // the notice asks for no answer: at one write at a time, that saves a message per follower
    // per write. (Holding everything, it has nothing in flight either.) Periodic heartbeats are
    // still answered: that is how the leader keeps learning that a follower is alive, and resumes
    // a probe or frees a window slot whose messages may have been lost.
    const commit = Math.min(log.commitIndex, pr.matchIndex);
    if (pr.sentCommit < commit) {
      const commitOnly = pr.state === "replicate" && pr.matchIndex === log.lastIndex &&
        pr.readRound >= this.readRound;
      this.#sendHeartbeat(raft, to, pr, { commitOnly });
    }
  }

  /**
   * Sends the next chunk of the snapshot, one at a time, so a large snapshot never floods the
   * link or delays other followers (each Ready sends at most one chunk per follower).
   */
  #sendSnapshotChunk(raft: Raft, to: NodeId, pr: Progress): void {
    const snapshot = raft.snapshot!;
    if (snapshot.meta.index !== pr.snapshotIndex) pr.becomeSnapshot(snapshot.meta.index); // compacted again: restart
    const offset = pr.snapshotAcked;
    const data = snapshot.data.subarray(offset, offset + raft.config.snapshotChunkBytes);
    raft.send({
      type: "InstallSnapshot",
      to,
      term: raft.term,
      snapshotIndex: snapshot.meta.index,
      snapshotTerm: snapshot.meta.term,
      offset,
      data,
      done: offset + data.length >= snapshot.data.length,
      membership: snapshot.meta.membership,
    });
    pr.snapshotSent = offset + Math.max(data.length, 1);
  }

  #handleSnapshotResponse(raft: Raft, m: InstallSnapshotResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.installed) {
      if (pr.update(m.snapshotIndex) || pr.state === "snapshot") {
        if (pr.state === "snapshot") {
          raft.emit({ type: "SnapshotSent", follower: m.from, index: m.snapshotIndex });
        }
        pr.becomeProbe();
        this.#maybeCommit(raft);
      }
      return;
    }
    if (pr.state !== "snapshot" || m.snapshotIndex !== pr.snapshotIndex) return;
    // The next chunk starts where the follower says it is (after a lost or duplicate chunk too).
    pr.snapshotAcked = m.nextOffset;
    pr.snapshotSent = m.nextOffset;
  }

  #sendHeartbeat(
    raft: Raft,
    to: NodeId,
    pr: Progress,
    { quiesce = false, commitOnly = false } = {},
  ): void {
    // Never tell a follower to commit past what it is known to hold.
    const leaderCommit = Math.min(raft.log.commitIndex, pr.matchIndex);
    pr.sentCommit = Math.max(pr.sentCommit, leaderCommit);
    raft.send({
      type: "Heartbeat",
      to,
      term: raft.term,
      leaderCommit,
      readRound: this.readRound,
      ...(quiesce && { quiesce: true }),
      ...(commitOnly && { commitOnly: true }),
    });
  }

  #broadcastHeartbeat(raft: Raft, quiesce = false): void {
    for (const [id, pr] of this.progress) this.#sendHeartbeat(raft, id, pr, { quiesce });
  }

  #handleAppendResponse(raft: Raft, m: AppendEntriesResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (!m.success) {
      this.wake(); // a follower behind: catch it up
      raft.emit({ type: "AppendRejected", follower: m.from, rejectedIndex: m.rejectedIndex });
      // With a term in the hint, skip every leader entry of a newer term than the follower's.
      const probe = m.hintTerm > 0
        ? raft.log.findConflictByTerm(m.hintIndex, m.hintTerm).index
        : m.hintIndex;
      pr.decreaseTo(m.rejectedIndex, probe);
      return;
    }
    if (!pr.update(m.matchIndex)) return;
    if (pr.state === "probe") pr.becomeReplicate();
    this.#maybeCommit(raft);
    if (m.from === this.transferee) this.#maybeSendTimeoutNow(raft, m.from, pr);
  }

  #handleHeartbeatResponse(raft: Raft, m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    // The follower is alive: resume a probe whose message may have been lost, and open one
    // slot of a full window whose messages may have been lost.
    pr.probeSent = false;
    if (pr.state === "replicate" && pr.inflights.full) pr.inflights.freeFirst();
    if (pr.state === "snapshot") pr.snapshotSent = pr.snapshotAcked; // resend a chunk that may be lost
    pr.resync = pr.matchIndex < raft.log.lastIndex;
    if (pr.resync) this.wake(); // a follower behind: catch it up
    if (m.readRound > pr.readRound) {
      pr.readRound = m.readRound;
      this.#releaseReads(raft);
    }
  }

  /**
   * Advances the commit index to the highest index a majority of the voters hold, but only if
   * that entry is of the current term (Raft section 5.4.2: older entries are committed
   * indirectly). The leader counts its own log only while it is a voter: a leader that is
   * removing itself manages the group without being part of it (thesis section 4.2.2).
   */
  #maybeCommit(raft: Raft): void {
    const log = raft.log;
    const index = quorumValue(
      raft.voters,
      (id) => id === raft.id ? log.lastIndex : this.progress.get(id)?.matchIndex ?? 0,
    );
    if (index <= log.commitIndex || log.term(index) !== raft.term) return;
    for (let i = log.commitIndex + 1; i <= index; i++) {
      this.uncommittedBytes -= entrySize(log.entry(i)!);
    }
    const changeCommitted = log.commitIndex < log.lastConfigIndex() &&
      log.lastConfigIndex() <= index;
    log.commitTo(index);
    if (changeCommitted) this.trackMembers(raft); // stop replicating to removed members
    this.#maybeStepDownRemoved(raft);
  }

  /**
   * Once the change that removed this leader commits, it steps down (thesis section 4.2.2),
   * first handing leadership to a caught-up voter so the group does not wait for a timeout.
   */
  #maybeStepDownRemoved(raft: Raft): void {
    if (raft.isVoter(raft.id) || raft.log.commitIndex < raft.log.lastConfigIndex()) return;
    for (const id of raft.voters) {
      if (this.progress.get(id)?.matchIndex === raft.log.lastIndex) {
        raft.send({ type: "TimeoutNow", to: id, term: raft.term });
        break;
      }
    }
    raft.emit({ type: "RemovedFromGroup", term: raft.term });
    raft.becomeFollower(raft.term, NONE);
  }

  /**
   * Gives every unassigned read the current commit index (or the read floor, if higher) and one
   * new heartbeat round; all reads admitted since the last round share it. Reads wait until this
   * leader has committed an entry of its term: before that its commit index may lag what earlier
   * leaders committed.
   */
  #startReadRound(raft: Raft): void {
    if (raft.log.term(raft.log.commitIndex) !== raft.term) return;
    let added = false;
    const index = Math.max(raft.log.commitIndex, this.readFloor);
    for (const read of this.pendingReads) {
      if (read.round !== 0) continue;
      read.index = index;
      read.round = this.readRound + 1;
      added = true;
    }
    if (!added) return;
    this.readRound++;
    this.#broadcastHeartbeat(raft);
    this.#releaseReads(raft); // a group whose only voter is this leader needs no answers
  }

  /** Serves every read whose round a majority of the voters (this leader included) acknowledged. */
  #releaseReads(raft: Raft): void {
    const confirmed = quorumValue(
      raft.voters,
      (id) => id === raft.id ? this.readRound : this.progress.get(id)?.readRound ?? 0,
    );
    let released = 0;
    while (this.pendingReads.length > 0) {
      const read = this.pendingReads[0];
      if (read.round === 0 || read.round > confirmed) break;
      this.pendingReads.shift();
      released++;
      if (read.from === raft.id) raft.readStates.push({ context: read.context, index: read.index });
      else {
        raft.send({
          type: "ReadIndexResponse",
          to: read.from,
          term: raft.term,
          context: read.context,
          index: read.index,
        });
      }
    }
    if (released > 0) raft.emit({ type: "ReadIndexConfirmed", round: confirmed, reads: released });
  }

  #maybeSendTimeoutNow(raft: Raft, to: NodeId, pr: Progress): void {
    // Not caught up yet: keep replicating; this is retried on each acknowledgement.
    if (this.timeoutNowSent || pr.matchIndex !== raft.log.lastIndex) return;
    this.timeoutNowSent = true;
    raft.send({ type: "TimeoutNow", to, term: raft.term });
    raft.emit({ type: "LeadershipTransfer", to, outcome: "timeout-now-sent" });
  }

  /** CheckQuorum: has a majority of the voters (this leader included) been heard this period? */
  #quorumActive(raft: Raft): boolean {
    const active = hasQuorum(
      raft.voters,
      (id) => id === raft.id || this.progress.get(id)?.recentActive === true,
    );
    for (const pr of this.progress.values()) {
      pr.activeLastPeriod = pr.recentActive;
      pr.recentActive = false;
    }
    return active;
  }
}
