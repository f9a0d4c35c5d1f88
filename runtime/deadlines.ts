/**
 * Deadlines for a host's waiting requests, on one timer. Every write and read waits with a
 * deadline, and almost every one settles long before it; a timer per request would cost a
 * timer set and a timer cleared for nothing. Here a request's deadline is an entry in a queue
 * ordered by time, settling only marks it done, and the one timer is armed for the earliest
 * entry: when it fires, it expires what is due, passes over what settled, and is armed again
 * for the next entry still waiting. When nothing waits, no timer is armed.
 *
 * A host gives every request the same time limit, so deadlines arrive in order and the queue
 * takes each at its tail; one that is earlier than the tail is placed by halving the queue.
 *
 * Settled entries do not wait for their time to be passed over: once they outnumber the waiting
 * ones (and a few hundred more), the queue drops them all in one pass. Under load a request
 * settles in milliseconds, and an entry kept for the whole time limit would live through
 * several young-generation collections only to be garbage in the old one.
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/** One waiting request's deadline. */
interface Entry {
  readonly at: number;
  /** Dropped when the request settles, so the queue does not keep its callbacks alive. */
  expire: () => void;
  done: boolean;
}

/** What a settled entry holds instead of its request's callback. */
const settled = () => {};

/** The longest delay a timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Settled or expired entries the queue may hold beyond as many as are waiting. */
const SETTLED_SLACK = 256;

/**
 * The deadlines of a host's waiting requests.
 *
 * @example Usage
 * ```ts
 * import { Deadlines, ManualClock } from "@prkdb/prkdb/runtime";
 * const clock = new ManualClock();
 * const deadlines = new Deadlines(clock);
 * let expired = 0;
 * deadlines.add(100, () => expired++);
 * const settle = deadlines.add(100, () => expired++);
 * settle(); // the second request settled in time
 * clock.advance(100);
 * console.log(expired, deadlines.waiting); // 1 0
 * ```
 */
export class Deadlines {
  readonly #clock: Clock;
  #queue: Entry[] = [];
  /** Entries before this index have been taken off the queue. */
  #head = 0;
  #waiting = 0;
  #timer: number | undefined;
  /** When the timer fires (Infinity when it is not armed). */
  #armedAt = Infinity;

  /**
   * Creates the deadlines.
   *
   * @param clock The host's clock: deadlines are on its time, and its timer fires them.
   */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Requests still waiting (added, neither settled nor expired). */
  get waiting(): number {
    return this.#waiting;
  }

  /** Entries the queue holds: the waiting ones, and settled or expired ones not dropped yet. */
  get held(): number {
    return this.#queue.length;
  }

  /**
   * Calls `expire` in `ms` milliseconds, unless the returned function is called first.
   *
   * @param ms The time limit.
   * @param expire What to do when the time is up.
   * @returns Settles the request: its deadline is forgotten. Calling it again does nothing.
   */
  add(ms: number, expire: () => void): () => void {
    const entry: Entry = { at: this.#clock.now() + Math.max(0, ms), expire, done: false };
    const q = this.#queue;
    if (q.length === this.#head || q[q.length - 1].at <= entry.at) q.push(entry);
    else {
      // Earlier than the tail (callers may choose their limits): after the last entry due no
      // later, found by halving, so that no pattern of limits makes adding slow.
      let lo = this.#head;
      let hi = q.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (q[mid].at <= entry.at) lo = mid + 1;
        else hi = mid;
      }
      q.splice(lo, 0, entry);
    }
    this.#waiting++;
    if (entry.at < this.#armedAt) this.#arm(entry.at);
    return () => {
      if (entry.done) return;
      entry.done = true;
      entry.expire = settled;
      if (--this.#waiting === 0) this.#idle();
      else this.#dropSettledIfMany();
    };
  }

  /**
   * A signal that aborts when `parent` does, or with a `TimeoutError` once `ms` pass: what
   * `AbortSignal.any([parent, AbortSignal.timeout(ms)])` gives, on this queue's one timer. Both
   * of those cost here: `AbortSignal.any` about 7 µs, and a timeout signal keeps its timer until
   * it fires, long after the call it limited. This costs about 1.5 µs.
   *
   * @param parent The signal it follows, if any.
   * @param ms The time limit.
   * @returns The signal, and `release`, to call as soon as it is no longer needed: its deadline
   *   is forgotten, and `parent` no longer refers to it.
   *
   * @example Usage
   * ```ts
   * import { Deadlines, ManualClock } from "@prkdb/prkdb/runtime";
   * const clock = new ManualClock();
   * const { signal, release } = new Deadlines(clock).signal(new AbortController().signal, 50);
   * clock.advance(50);
   * console.log(signal.aborted, (signal.reason as Error).name); // true "TimeoutError"
   * release();
   * ```
   */
  signal(
    parent: AbortSignal | undefined,
    ms: number,
  ): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    if (parent?.aborted) {
      controller.abort(parent.reason);
      return { signal: controller.signal, release: settled };
    }
    const follow = () => controller.abort(parent?.reason);
    parent?.addEventListener("abort", follow, { once: true });
    const settle = this.add(ms, () => {
      parent?.removeEventListener("abort", follow);
      controller.abort(new DOMException("Signal timed out.", "TimeoutError"));
    });
    return {
      signal: controller.signal,
      release: () => {
        settle();
        parent?.removeEventListener("abort", follow);
      },
    };
  }

  /** Nothing waits: no timer stays armed, and the queue starts afresh. */
  #idle(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
    this.#queue = [];
    this.#head = 0;
  }

  /**
   * Keeps only the waiting entries, in order, once the others outnumber them by
   * {@linkcode SETTLED_SLACK}: each pass is paid for by as many settles or expiries. The timer
   * stays armed for the earliest waiting entry or earlier: fired early, it finds nothing due and
   * is armed again.
   */
  #dropSettledIfMany(): void {
    if (this.#queue.length <= 2 * this.#waiting + SETTLED_SLACK) return;
    const waiting: Entry[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      if (!this.#queue[i].done) waiting.push(this.#queue[i]);
    }
    this.#queue = waiting;
    this.#head = 0;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#armedAt = at;
    // Rounded up: a timer that fires a fraction early would only wake to arm itself again. At
    // most the longest delay a timer takes (about 24.8 days): a longer one would fire at once.
    const delay = Math.min(MAX_TIMER_MS, Math.ceil(at - this.#clock.now()));
    this.#timer = this.#clock.setTimeout(() => this.#fire(), delay);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    // Read the queue afresh each time: an expired request's callback may add or settle others.
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head];
      if (!entry.done && entry.at > now) break;
      this.#head++;
      if (entry.done) continue;
      entry.done = true;
      this.#waiting--;
      entry.expire();
    }
    if (this.#waiting === 0) return this.#idle();
    this.#dropSettledIfMany();
    // Something still waits, so a live entry follows the settled ones.
    while (this.#queue[this.#head].done) this.#head++;
    this.#arm(this.#queue[this.#head].at);
  }
}
