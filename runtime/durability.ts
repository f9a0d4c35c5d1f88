/**
 * What of a replica's log is on disk, and the answers that wait for it: a follower that passed a
 * write on can answer its client as soon as the write's entry is durable on the leader and on
 * itself, one round trip before the leader's own answer would arrive.
 *
 * Why that is safe. In a group of three voters (or two), the leader and this follower are a
 * majority. An entry of the leader's term that both hold durably is committed (Raft section
 * 5.4.2): every later leader has it. So:
 *
 * 1. the leader, once its log write holding the entry has finished, asks its Raft node
 *    (`RaftNode.announceDurable`), which agrees only while it leads in the entry's term, the two
 *    nodes are a majority and no membership change is pending; the node also raises its read
 *    floor, so that no linearizable read admitted from then on, anywhere, misses the entry;
 * 2. the leader tells the follower (a notice on its peer stream);
 * 3. the follower answers its client once its own log holds that entry, in that term, written.
 *
 * The follower's answer is the one the leader would send: only writes whose answer follows from
 * their position alone get a notice (a put without a session or condition: it always applies,
 * and its version is its index). The leader still sends its own answer; whichever arrives first
 * settles the write.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import type { RaftNode } from "../raft/node.ts";
import type { Ready } from "../raft/ready.ts";

/**
 * Where a leader sends the notice that a write's entry is durable on it.
 *
 * @example Usage
 * ```ts
 * import type { DurableNotice } from "@prkdb/prkdb/runtime";
 * const notice: DurableNotice = {
 *   to: 2,
 *   send: (partition, index, term) => console.log(partition, index, term),
 * };
 * ```
 */
export interface DurableNotice {
  /** The follower that passed the write on. */
  readonly to: NodeId;
  /** Sends the notice: the write's partition, its entry and the entry's term. */
  readonly send: (partition: number, index: number, term: number) => void;
}

/** A notice a leader sends once its entry is durable. */
interface Announcement {
  readonly index: number;
  readonly term: number;
  readonly notice: DurableNotice;
}

/** A follower's answer waiting for its own copy of the entry to be durable. */
interface Waiter {
  readonly index: number;
  readonly term: number;
  readonly durable: () => void;
}

/**
 * A replica's durable log end, and the notices and answers waiting on it. The round tells it
 * when a Ready is handed to storage ({@linkcode handing}) and when that write has finished
 * ({@linkcode written}).
 *
 * @example Usage
 * ```ts
 * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * import { Durability } from "@prkdb/prkdb/runtime";
 * const node = new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) });
 * const durability = new Durability(0, node);
 * console.log(durability.wait(1, 1, () => {})); // a way to stop waiting
 * ```
 */
export class Durability {
  readonly #partition: number;
  readonly #node: RaftNode;
  /** Entries up to here, with the terms the log has for them now, are on disk. */
  #index: number;
  #announcements: Announcement[] = [];
  readonly #waiters = new Set<Waiter>();

  /**
   * Starts from what storage holds: the node's log as restored, all of it on disk.
   *
   * @param partition The replica's partition, named in the notices it sends.
   * @param node The replica's Raft node.
   */
  constructor(partition: number, node: RaftNode) {
    this.#partition = partition;
    this.#node = node;
    this.#index = node.stableIndex;
  }

  /**
   * At the leader: sends `notice` once entry `index` of `term` is durable here, if the node
   * then agrees (`RaftNode.announceDurable`).
   *
   * @param index The write's entry, just proposed.
   * @param term Its term.
   * @param notice Where to send the notice.
   */
  announce(index: number, term: number, notice: DurableNotice): void {
    this.#announcements.push({ index, term, notice });
  }

  /**
   * At a follower: runs `durable` once this log holds entry `index` of `term` on disk (at
   * once if it does now). It never runs when the log holds another entry there on disk, or
   * the entry was compacted away: the leader's answer settles the write then.
   *
   * @param index The entry the leader named.
   * @param term Its term.
   * @param durable What to run.
   * @returns A function that stops waiting.
   */
  wait(index: number, term: number, durable: () => void): () => void {
    const verdict = this.#check(index, term);
    if (verdict === "yes") durable();
    if (verdict !== "later") return () => {};
    const waiter = { index, term, durable };
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  /**
   * A Ready goes to storage: the entries it replaces are no longer known durable.
   *
   * @param rd The Ready.
   */
  handing(rd: Ready): void {
    // A snapshot from the leader that replaces the log comes with `truncateFrom`; a local
    // compaction's snapshot leaves the entries after it where they are, on disk.
    const from = rd.truncateFrom ?? rd.entries[0]?.index;
    if (from !== undefined) this.#index = Math.min(this.#index, from - 1);
  }

  /**
   * The Ready's write finished: its entries are durable. Sends the notices and runs the answers
   * that were waiting for them.
   *
   * @param rd The Ready.
   */
  written(rd: Ready): void {
    const last = rd.entries.at(-1)?.index ?? rd.snapshot?.meta.index;
    if (last !== undefined) this.#index = Math.max(this.#index, last);
    if (this.#announcements.length > 0) this.#sendNotices();
    if (this.#waiters.size > 0) this.#runWaiters();
  }

  /** Whether the log holds the entry on disk: yes, no (another entry, or compacted), or later. */
  #check(index: number, term: number): "yes" | "no" | "later" {
    const node = this.#node;
    if (index < node.firstIndex) return "no";
    // The node's stable index drops as soon as its log is cut in memory; this one, when the
    // replacement goes to storage. Past either, the entry there may still change.
    if (index > this.#index || index > node.stableIndex) return "later";
    return node.termAt(index) === term ? "yes" : "no";
  }

  #sendNotices(): void {
    const node = this.#node;
    // Proposals come in log order: the notices due are a prefix.
    const announcements = this.#announcements;
    let due = 0;
    while (due < announcements.length && announcements[due].index <= this.#index) due++;
    for (const { index, term, notice } of announcements.splice(0, due)) {
      if (!node.announceDurable(notice.to, index, term)) continue;
      // This runs inside the node's round: a notice that cannot be sent must not stop the round
      // (the follower then waits for the leader's answer, which follows anyway).
      try {
        notice.send(this.#partition, index, term);
      } catch { /* lost, as a notice may be */ }
    }
    // A node that no longer leads sends none of the rest (and a new term wrote its hard state,
    // so this runs after every change of role).
    if (!node.isLeader) this.#announcements = [];
  }

  #runWaiters(): void {
    for (const w of this.#waiters) {
      const verdict = this.#check(w.index, w.term);
      if (verdict === "later") continue;
      this.#waiters.delete(w);
      if (verdict === "yes") {
        // Inside the node's round, as above: an answer that fails is the waiter's own affair.
        try {
          w.durable();
        } catch { /* the write still gets the leader's answer */ }
      }
    }
  }
}
