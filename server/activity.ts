/**
 * What a node has been doing lately, for the status document and the cluster view: Raft
 * messages sent and received, client proposals, and a short list of recent elections,
 * leader changes and leadership transfers. Counts are kept in one-second buckets so a rate
 * over the last few seconds costs nothing to compute.
 *
 * @module
 */
import type { RaftEvent } from "../raft/events.ts";

/** One noteworthy thing a partition's replica on this node did. */
export interface ActivityEvent {
  /** ISO time it was recorded. */
  time: string;
  /** The partition. */
  partition: number;
  /** The term it happened in; 0 for a transfer (its event carries no term). */
  term: number;
  /**
   * `election` (this replica became a candidate), `leader` (it learned of a new leader, `node`),
   * `transfer` (a leadership transfer to `node` started, was handed over or aborted: `detail`),
   * `quorum-lost` (a leader stepped down under CheckQuorum).
   */
  kind: "election" | "leader" | "transfer" | "quorum-lost";
  /** The leader learned of, or the transfer's target. */
  node?: number;
  /** More about it (a transfer's outcome). */
  detail?: string;
}

/** Cumulative counts and their recent per-second rates. */
export interface ActivityCounts {
  /** Raft messages handed to the transport for peers. */
  messagesSent: number;
  /** Raft messages received from peers. */
  messagesReceived: number;
  /** Client writes that finished (committed or not). */
  proposals: number;
}

const KEYS = ["messagesSent", "messagesReceived", "proposals"] as const;

/**
 * Counts a node's traffic and remembers its recent Raft events.
 *
 * @example Usage
 * ```ts
 * import { ActivityRecorder } from "@prkdb/prkdb/server";
 * const activity = new ActivityRecorder();
 * activity.sent(3);
 * console.log(activity.totals().messagesSent); // 3
 * ```
 */
export class ActivityRecorder {
  readonly #now: () => number;
  readonly #limit: number;
  readonly #events: ActivityEvent[] = [];
  readonly #totals: ActivityCounts = { messagesSent: 0, messagesReceived: 0, proposals: 0 };
  /** Per-second buckets, newest last: [second, counts]. */
  readonly #buckets: [number, ActivityCounts][] = [];
  /** Seconds the rates average over. */
  readonly windowSeconds: number;

  /**
   * Makes an empty recorder.
   *
   * @param options `now` in milliseconds (default `Date.now`), how many events to keep
   *   (default 50), and the rate window in seconds (default 5).
   */
  constructor(options: { now?: () => number; events?: number; windowSeconds?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#limit = options.events ?? 50;
    this.windowSeconds = options.windowSeconds ?? 5;
  }

  #add(key: keyof ActivityCounts, n: number): void {
    this.#totals[key] += n;
    const second = Math.floor(this.#now() / 1000);
    let last = this.#buckets.at(-1);
    if (!last || last[0] !== second) {
      last = [second, { messagesSent: 0, messagesReceived: 0, proposals: 0 }];
      this.#buckets.push(last);
      while (this.#buckets.length > this.windowSeconds + 1) this.#buckets.shift();
    }
    last[1][key] += n;
  }

  /**
   * Counts messages sent to peers.
   *
   * @param n How many.
   */
  sent(n: number): void {
    this.#add("messagesSent", n);
  }

  /**
   * Counts messages received from peers.
   *
   * @param n How many.
   */
  received(n: number): void {
    this.#add("messagesReceived", n);
  }

  /** Counts a finished client write. */
  proposal(): void {
    this.#add("proposals", 1);
  }

  /**
   * Remembers the events worth showing from one partition's round.
   *
   * @param partition The partition.
   * @param events The core's events.
   */
  events(partition: number, events: readonly RaftEvent[]): void {
    const time = new Date(this.#now()).toISOString();
    for (const e of events) {
      let event: ActivityEvent | undefined;
      if (e.type === "ElectionStarted" && !e.preVote) {
        event = { time, partition, term: e.term, kind: "election" };
      } else if (e.type === "LeaderChanged" && e.leaderId !== 0) {
        event = { time, partition, term: e.term, kind: "leader", node: e.leaderId };
      } else if (e.type === "QuorumLost") {
        event = { time, partition, term: e.term, kind: "quorum-lost" };
      } else if (e.type === "LeadershipTransfer") {
        event = { time, partition, term: 0, kind: "transfer", node: e.to, detail: e.outcome };
      }
      if (!event) continue;
      this.#events.push(event);
      if (this.#events.length > this.#limit) this.#events.shift();
    }
  }

  /**
   * The counts since start.
   *
   * @returns A copy of the totals.
   */
  totals(): ActivityCounts {
    return { ...this.#totals };
  }

  /**
   * Per-second rates over the last `windowSeconds` complete seconds.
   *
   * @returns Each count divided by the window.
   */
  rates(): ActivityCounts {
    const now = Math.floor(this.#now() / 1000);
    const rates: ActivityCounts = { messagesSent: 0, messagesReceived: 0, proposals: 0 };
    for (const [second, counts] of this.#buckets) {
      if (second >= now || second < now - this.windowSeconds) continue;
      for (const k of KEYS) rates[k] += counts[k] / this.windowSeconds;
    }
    return rates;
  }

  /**
   * The recent events, oldest first.
   *
   * @returns A copy of the list.
   */
  recent(): ActivityEvent[] {
    return [...this.#events];
  }
}
