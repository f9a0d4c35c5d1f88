/**
 * The Candidate role (Raft section 5.2), and its PreVote phase (thesis section 9.6). A
 * pre-candidate asks "would you vote for me?" without raising its term; only with a quorum of
 * yeses does it become a real candidate, raise the term and ask for real votes. A node cut off
 * from the cluster therefore never inflates its term and never disrupts the leader when it
 * comes back.
 *
 * @module
 */
import type { Message } from "../message.ts";
import { voteResult } from "../quorum.ts";
import type { Raft } from "../raft.ts";
import { type NodeId, NONE, type RoleName } from "../types.ts";
import type { Role } from "./role.ts";

/** A candidate (or pre-candidate) and the votes it has collected. */
export class Candidate implements Role {
  readonly name: RoleName;
  /** Whether this is the PreVote phase. */
  readonly preVote: boolean;
  /** Answers received, by voter: granted or refused. The first answer of each voter counts. */
  readonly votes: Map<NodeId, boolean> = new Map();
  electionElapsed = 0;
  readonly electionTimeout: number;

  constructor(preVote: boolean, electionTimeout: number) {
    this.preVote = preVote;
    this.name = preVote ? "PreCandidate" : "Candidate";
    this.electionTimeout = electionTimeout;
  }

  tick(raft: Raft): void {
    this.electionElapsed++;
    // Split vote or lost messages: try again with a fresh random timeout.
    if (this.electionElapsed >= this.electionTimeout) raft.campaign(false);
  }

  step(raft: Raft, m: Message): void {
    switch (m.type) {
      case "AppendEntries":
      case "Heartbeat":
      case "InstallSnapshot":
        // A leader of our term exists (section 5.2): step down and let the follower handle it.
        raft.becomeFollower(m.term, m.from);
        raft.role.step(raft, m);
        return;
      case "VoteResponse":
        if (m.preVote === this.preVote) this.recordVote(raft, m.from, m.granted);
        return;
      case "ReadIndex":
        raft.refuseRead(m);
        return;
      default:
        return;
    }
  }

  /**
   * Counts one answer and acts on the outcome. Only voters' answers count (a majority of the
   * voters in this node's membership).
   *
   * @returns `true` when the election was decided (won or lost).
   */
  recordVote(raft: Raft, voter: NodeId, granted: boolean): boolean {
    if (!this.votes.has(voter)) this.votes.set(voter, granted);
    switch (voteResult(raft.voters, this.votes)) {
      case "won":
        raft.wonElection(this.preVote);
        return true;
      case "lost":
        raft.becomeFollower(raft.term, NONE);
        return true;
      case "pending":
        return false;
    }
  }

  inLease(): boolean {
    return false;
  }

  leave(): void {}
}
