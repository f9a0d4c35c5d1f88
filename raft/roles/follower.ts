/**
 * The Follower role (Raft section 5.2): passive. It answers the leader, grants votes, and
 * starts an election when the leader has been silent for a randomized election timeout.
 *
 * @module
 */
import type { Message } from "../message.ts";
import type { Raft } from "../raft.ts";
import { NONE, type RoleName } from "../types.ts";
import type { Role } from "./role.ts";

/** A follower and its election timer. */
export class Follower implements Role {
  readonly name: RoleName = "Follower";
  /** Ticks since the leader (or a candidate we voted for) was last heard from. */
  electionElapsed = 0;
  /** This term's randomized election timeout, in ticks. */
  readonly electionTimeout: number;

  constructor(electionTimeout: number) {
    this.electionTimeout = electionTimeout;
  }

  tick(raft: Raft): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) raft.campaign(false);
  }

  step(raft: Raft, m: Message): void {
    switch (m.type) {
      case "AppendEntries":
        this.electionElapsed = 0;
        raft.setLeader(m.from);
        raft.handleAppendEntries(m);
        return;
      case "Heartbeat":
        this.electionElapsed = 0;
        raft.setLeader(m.from);
        raft.handleHeartbeat(m);
        return;
      case "TimeoutNow":
        // The leader is handing over (thesis section 3.10): campaign now, without PreVote.
        raft.campaign(true);
        return;
      case "ReadIndex":
        // Only a leader can confirm a read index; refuse so the asker fails fast.
        raft.send({
          type: "ReadIndexResponse",
          to: m.from,
          term: raft.term,
          context: m.context,
          index: 0,
        });
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

  inLease(raft: Raft): boolean {
    return raft.config.checkQuorum && raft.leaderId !== NONE &&
      this.electionElapsed < raft.config.electionTick;
  }

  leave(): void {}
}
