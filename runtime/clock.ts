/**
 * Time for the runtime: a clock to read and timers to set. The runtime never calls
 * `Date.now()`, `setTimeout` or `setInterval` itself, so a test or the simulation can drive
 * time by hand with {@linkcode ManualClock} and nothing waits on the wall clock.
 *
 * @module
 */

/**
 * A clock and a timer source.
 *
 * @example Usage
 * ```ts
 * import { type Clock, systemClock } from "@prkdb/prkdb/runtime";
 * const clock: Clock = systemClock;
 * console.log(clock.now() > 0); // true
 * ```
 */
export interface Clock {
  /** Milliseconds since the Unix epoch; never goes backwards. */
  now(): number;
  /**
   * Calls `fn` once, `ms` milliseconds from now.
   *
   * @returns A handle for {@linkcode Clock.clearTimeout}.
   */
  setTimeout(fn: () => void, ms: number): number;
  /** Cancels a timer (a fired or unknown handle is ignored). */
  clearTimeout(handle: number): void;
}

/**
 * The real clock: monotonic milliseconds since the epoch, and the platform's timers.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "@prkdb/prkdb/runtime";
 * const t = systemClock.setTimeout(() => {}, 10);
 * systemClock.clearTimeout(t);
 * ```
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  // Deno returns a number; with Node types in scope the checker sees a Timeout object.
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as number,
  clearTimeout: (handle) => clearTimeout(handle),
};

/**
 * A clock that moves only when told to, firing due timers in order: for deterministic tests.
 *
 * @example Drive time by hand
 * ```ts
 * import { ManualClock } from "@prkdb/prkdb/runtime";
 * const clock = new ManualClock();
 * let fired = 0;
 * clock.setTimeout(() => fired++, 100);
 * clock.advance(99);
 * console.log(fired); // 0
 * clock.advance(1);
 * console.log(fired); // 1
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  /**
   * Creates the clock.
   *
   * @param start The starting time, in milliseconds since the epoch (default 1,000,000).
   */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  /** The current time. */
  now(): number {
    return this.#now;
  }

  /**
   * Sets a timer.
   *
   * @param fn What to call.
   * @param ms When, from now.
   * @returns The handle.
   */
  setTimeout(fn: () => void, ms: number): number {
    const handle = this.#next++;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), fn });
    return handle;
  }

  /**
   * Cancels a timer.
   *
   * @param handle The handle.
   */
  clearTimeout(handle: number): void {
    this.#timers.delete(handle);
  }

  /**
   * Moves time forward, firing every timer that comes due, earliest first.
   *
   * @param ms How far.
   */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /**
   * Moves time forward to `time` (never back), firing due timers, earliest first.
   *
   * @param time The new time.
   */
  advanceTo(time: number): void {
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= time && (!due || entry[1].at < due[1].at)) due = entry;
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
    }
    this.#now = Math.max(this.#now, time);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }
}
