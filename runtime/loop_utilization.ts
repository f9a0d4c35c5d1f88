/**
 * How busy the host's loop is: the share of time spent in rounds. Near 1, the node is
 * saturated and requests queue; it is the runtime's "main loop saturation".
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/**
 * Accumulates busy time between readings.
 *
 * @example Usage
 * ```ts
 * import { LoopUtilization, ManualClock } from "@prkdb/prkdb/runtime";
 * const clock = new ManualClock();
 * const u = new LoopUtilization(clock);
 * u.busy(25);
 * clock.advance(100);
 * console.log(u.take()); // 0.25
 * ```
 */
export class LoopUtilization {
  readonly #clock: Clock;
  #busyMs = 0;
  #since: number;

  /**
   * Starts measuring now.
   *
   * @param clock The clock.
   */
  constructor(clock: Clock) {
    this.#clock = clock;
    this.#since = clock.now();
  }

  /**
   * Adds busy time.
   *
   * @param ms Milliseconds spent in a round.
   */
  busy(ms: number): void {
    this.#busyMs += ms;
  }

  /**
   * The busy share since the last reading, and starts a new period.
   *
   * @returns A fraction in `[0, 1]`.
   */
  take(): number {
    const now = this.#clock.now();
    const elapsed = now - this.#since;
    const busy = this.#busyMs;
    this.#busyMs = 0;
    this.#since = now;
    return elapsed > 0 ? Math.min(1, busy / elapsed) : 0;
  }
}
