/**
 * The Follower role (Raft section 5.2): passive. It answers the leader, and starts an election
 * when the leader has been silent for a randomized election timeout. The receiver rules of
 * AppendEntries (Figure 2, section 5.3), heartbeats and InstallSnapshot (section 7) live here.
 * Granting votes is the same for every role, so it lives in `Raft`.
 *
 * @module
 */
import type { AppendEntries, Heartbeat, InstallSnapshot, Message } from "../message.ts";
import { appendRejection, type Raft } from "../raft.ts";
import type { Membership } from "../membership.ts";
import { NONE, type RoleName } from "../types.ts";
import type { Role } from "./role.ts";

/** A follower and its election timer. */
export class Follower implements Role {
  readonly name: RoleName = "Follower";
  /** Ticks since the leader (or a candidate we voted for) was last heard from. */
  electionElapsed = 0;
  /** This term's randomized election timeout, in ticks. */
  readonly electionTimeout: number;
  /**
   * The leader said the group is idle and this follower holds everything: the election timer
   * stops until a message from the leader, or {@linkcode wake}.
   */
  quiescent = false;
  /** The chunks of a snapshot being received from the leader. */
  #incoming: {
    index: number;
    term: number;
    membership: Membership | undefined;
    parts: Uint8Array[];
    received: number;
  } | undefined;

  constructor(electionTimeout: number) {
    this.electionTimeout = electionTimeout;
  }

  /**
   * Ends quiescence because the leader is presumed gone (its node stopped answering): see
   * {@linkcode leaderGone}.
   */
  wake(raft: Raft): void {
    if (this.quiescent) this.leaderGone(raft);
  }

  /**
   * The leader is gone: the election timer runs again and the lease is over at once, so this
   * follower grants votes to whoever campaigns first instead of protecting a leader that no
   * longer leads.
   */
  leaderGone(raft: Raft): void {
    this.quiescent = false;
    this.electionElapsed = Math.max(this.electionElapsed, raft.config.electionTick);
  }

  tick(raft: Raft): void {
    if (this.quiescent) return;
    this.electionElapsed++;
    // A learner, or a node removed from the group, waits: `campaign` does nothing for it.
    if (this.electionElapsed >= this.electionTimeout) raft.campaign(false);
  }

  step(raft: Raft, m: Message): void {
    switch (m.type) {
      case "AppendEntries":
        this.quiescent = false;
        this.electionElapsed = 0;
        raft.setLeader(m.from);
        this.#receiveAppendEntries(raft, m);
        return;
      case "Heartbeat":
        this.electionElapsed = 0;
        raft.setLeader(m.from);
        this.#receiveHeartbeat(raft, m);
        // Quiet only when it holds everything the leader committed, and nothing more.
        this.quiescent = m.quiesce === true && raft.log.commitIndex === m.leaderCommit &&
          raft.log.lastIndex === m.leaderCommit;
        return;
      case "InstallSnapshot":
        this.quiescent = false;
        this.electionElapsed = 0;
        raft.setLeader(m.from);
        this.#receiveSnapshotChunk(raft, m);
        return;
      case "TimeoutNow":
        // The leader is handing over (thesis section 3.10): campaign now, without PreVote.
        raft.campaign(true);
        return;
      case "ReadIndex":
        raft.refuseRead(m);
        return;
      case "ReadIndexResponse":
        if (m.index > 0) raft.readStates.push({ context: m.context, index: m.index });
        else raft.droppedReads.push(m.context);
        return;
      default:
        // Answers to messages this node sent in another role: stale, ignore.
        return;
    }
  }

  /**
   * The AppendEntries receiver rules of Figure 2 (section 5.3). Rule 1 (reply false to a stale
   * term) is applied for every role in `Raft.step`. Rule 2: reply false if the log has no entry
   * at `prevLogIndex` with `prevLogTerm`. Rules 3 and 4: delete a conflicting suffix, append
   * what is new (`RaftLog.tryAppend`). Rule 5: advance the commit index to
   * `min(leaderCommit, index of last new entry)`.
   */
  #receiveAppendEntries(raft: Raft, m: AppendEntries): void {
    const log = raft.log;
    if (m.prevLogIndex < log.commitIndex) {
      // Everything up to our commit index is already agreed; say so and let the leader move on.
      raft.send({
        ...appendRejection(m.from, raft.term),
        success: true,
        matchIndex: log.commitIndex,
      });
      return;
    }
    const lastNew = log.tryAppend(m.prevLogIndex, m.prevLogTerm, m.leaderCommit, m.entries);
    if (lastNew !== undefined) {
      raft.send({ ...appendRejection(m.from, raft.term), success: true, matchIndex: lastNew });
      return;
    }
    // Rule 2 failed. Point the leader at the last entry that could possibly match, skipping
    // every entry of a term newer than prevLogTerm (the "fast back-off" of section 5.3).
    const hint = log.findConflictByTerm(Math.min(m.prevLogIndex, log.lastIndex), m.prevLogTerm);
    raft.send({
      ...appendRejection(m.from, raft.term),
      rejectedIndex: m.prevLogIndex,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  /**
   * A heartbeat: learn the commit index (never past the log's end, since the heartbeat does not
   * prove the entries match) and echo the ReadIndex round, unless the leader sent it only to
   * move the commit index (`commitOnly`) and wants no answer.
   */
  #receiveHeartbeat(raft: Raft, m: Heartbeat): void {
    raft.log.commitTo(Math.min(m.leaderCommit, raft.log.lastIndex));
    if (m.commitOnly) return;
    raft.send({ type: "HeartbeatResponse", to: m.from, term: raft.term, readRound: m.readRound });
  }

  /** Collects a snapshot chunk; installs the snapshot when the last one arrives. */
  #receiveSnapshotChunk(raft: Raft, m: InstallSnapshot): void {
    const reply = (nextOffset: number, installed: boolean) =>
      raft.send({
        type: "InstallSnapshotResponse",
        to: m.from,
        term: raft.term,
        snapshotIndex: m.snapshotIndex,
        nextOffset,
        installed,
      });
    if (m.snapshotIndex <= raft.log.commitIndex) {
      // Everything it covers is already committed here (and so matches the leader's log).
      this.#incoming = undefined;
      return reply(0, true);
    }
    if (m.offset === 0) {
      this.#incoming = {
        index: m.snapshotIndex,
        term: m.snapshotTerm,
        membership: m.membership,
        parts: [],
        received: 0,
      };
    }
    const incoming = this.#incoming;
    if (!incoming || incoming.index !== m.snapshotIndex || incoming.term !== m.snapshotTerm) {
      return reply(0, false);
    }
    // A duplicate or a chunk after a lost one: say where we are, the leader resends from there.
    if (m.offset !== incoming.received) return reply(incoming.received, false);
    incoming.parts.push(m.data);
    incoming.received += m.data.length;
    if (!m.done) return reply(incoming.received, false);
    const data = new Uint8Array(incoming.received);
    let offset = 0;
    for (const part of incoming.parts) {
      data.set(part, offset);
      offset += part.length;
    }
    this.#incoming = undefined;
    // A snapshot that would not restore is refused before the log or state is touched.
    if (raft.config.validateSnapshot(data) !== undefined) return reply(0, false);
    raft.installSnapshot({
      meta: { index: incoming.index, term: incoming.term, membership: incoming.membership },
      data,
    });
    reply(incoming.received, true);
  }

  inLease(raft: Raft): boolean {
    return raft.config.checkQuorum && raft.leaderId !== NONE &&
      this.electionElapsed < raft.config.electionTick;
  }

  leave(): void {}
}
