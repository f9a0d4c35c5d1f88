/**
 * What a leader knows about one follower's log (Raft section 5.3: `nextIndex`, `matchIndex`)
 * and how it is currently replicating to it.
 *
 * - `probe`: the leader does not know where the follower's log diverges. It sends one
 *   AppendEntries at a time and waits for the answer (or the next heartbeat answer).
 * - `replicate`: the follower is known to match up to `matchIndex`. The leader streams entries
 *   optimistically, up to the in-flight window.
 * - `snapshot`: the follower needs entries the leader has compacted; it must receive a snapshot.
 *
 * @module
 */
import { Inflights } from "./inflights.ts";

/**
 * How the leader replicates to a follower.
 *
 * @example Usage
 * ```ts
 * import type { ProgressState } from "@prkdb/prkdb/raft";
 * const s: ProgressState = "probe";
 * ```
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * One follower's replication progress, owned by the {@linkcode Leader}.
 *
 * @example Usage
 * ```ts
 * import { Progress } from "@prkdb/prkdb/raft";
 * const pr = new Progress(11, 64);
 * pr.update(10);
 * pr.becomeReplicate();
 * console.log(pr.state, pr.nextIndex); // replicate 11
 * ```
 */
export class Progress {
  /** The highest index known to be replicated on the follower. */
  matchIndex = 0;
  /** The next index to send. */
  nextIndex: number;
  /** The replication mode. */
  state: ProgressState = "probe";
  /** In `probe` state: a probe is outstanding, so wait before sending another. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = true;
  /** Heard from during the CheckQuorum period before the current one. */
  activeLastPeriod = true;
  /** The latest ReadIndex round the follower acknowledged. */
  readRound = 0;
  /**
   * A heartbeat answer showed the follower alive but behind while everything was already sent:
   * an AppendEntries may have been lost, so send an empty one at `nextIndex - 1` to find out.
   */
  resync = false;
  /** In `snapshot` state: the snapshot being sent (its last index). */
  snapshotIndex = 0;
  /** In `snapshot` state: bytes of it sent. */
  snapshotSent = 0;
  /** In `snapshot` state: bytes the follower confirmed holding (the next chunk starts here). */
  snapshotAcked = 0;
  /** The commit index last sent to the follower. */
  sentCommit = 0;
  /** The pipeline window. */
  readonly inflights: Inflights;

  /**
   * Creates progress for a follower of a new leader.
   *
   * @param nextIndex The leader's last index plus one (optimistic start, section 5.3).
   * @param maxInflight The pipeline window size.
   */
  constructor(nextIndex: number, maxInflight: number) {
    this.nextIndex = nextIndex;
    this.inflights = new Inflights(maxInflight);
  }

  /** Whether the leader must not send more entries now. */
  get paused(): boolean {
    if (this.state === "probe") return this.probeSent;
    if (this.state === "replicate") return this.inflights.full;
    return this.snapshotSent > this.snapshotAcked; // snapshot: one chunk in flight
  }

  /** Switches to `snapshot`: the follower needs the snapshot ending at `index`. */
  becomeSnapshot(index: number): void {
    this.state = "snapshot";
    this.snapshotIndex = index;
    this.snapshotSent = 0;
    this.snapshotAcked = 0;
    this.inflights.reset();
  }

  /** Switches to `probe`: resend from just after `matchIndex`, one message at a time. */
  becomeProbe(): void {
    this.state = "probe";
    this.probeSent = false;
    this.nextIndex = this.matchIndex + 1;
    this.inflights.reset();
  }

  /** Switches to `replicate`: stream from just after `matchIndex`. */
  becomeReplicate(): void {
    this.state = "replicate";
    this.nextIndex = this.matchIndex + 1;
    this.inflights.reset();
  }

  /**
   * Records an AppendEntries sent with entries up to `lastIndex`.
   *
   * @param lastIndex The last index sent (`nextIndex - 1` for an empty message).
   * @param entryCount How many entries it carried.
   */
  sent(lastIndex: number, entryCount: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.nextIndex = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /**
   * Records a successful AppendEntries response.
   *
   * @param matchIndex The index the follower confirmed.
   * @returns Whether `matchIndex` advanced.
   */
  update(matchIndex: number): boolean {
    this.probeSent = false;
    this.inflights.freeTo(matchIndex);
    this.nextIndex = Math.max(this.nextIndex, matchIndex + 1);
    if (matchIndex <= this.matchIndex) return false;
    this.matchIndex = matchIndex;
    return true;
  }

  /**
   * Records a rejected AppendEntries and moves `nextIndex` back, using the follower's hint.
   *
   * @param rejectedIndex The `prevLogIndex` the follower rejected.
   * @param probeIndex The highest index that may match, computed from the hint.
   * @returns `false` when the rejection is stale (an answer to an older message) and was ignored.
   */
  decreaseTo(rejectedIndex: number, probeIndex: number): boolean {
    if (this.state === "replicate") {
      if (rejectedIndex <= this.matchIndex) return false;
      this.becomeProbe();
      return true;
    }
    if (this.nextIndex - 1 !== rejectedIndex) return false;
    this.nextIndex = Math.max(Math.min(rejectedIndex, probeIndex + 1), this.matchIndex + 1);
    this.probeSent = false;
    return true;
  }
}
