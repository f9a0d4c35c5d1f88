/**
 * When rounds run: never two at once, again as long as work keeps coming, and never after
 * storage failed. Everything that creates work (messages, proposals, reads, ticks) asks for a
 * round; a request during a round asks for one more, so a round never schedules itself.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { LoopUtilization } from "./loop_utilization.ts";

/**
 * Runs rounds on demand.
 *
 * @example Usage
 * ```ts
 * import { LoopUtilization, ManualClock, RoundLoop } from "@prkdb/prkdb/runtime";
 * const clock = new ManualClock();
 * let rounds = 0;
 * const loop = new RoundLoop(async () => ++rounds < 3, {
 *   clock, utilization: new LoopUtilization(clock), manual: true, onFailure() {},
 * });
 * await loop.flush();
 * console.log(rounds); // 3
 * ```
 */
export class RoundLoop {
  readonly #round: () => Promise<boolean>;
  readonly #o: {
    clock: Clock;
    utilization: LoopUtilization;
    manual: boolean;
    onFailure: (error: Error) => void;
  };
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #failure: Error | undefined;

  /**
   * Creates the loop.
   *
   * @param round Runs one round; resolves `true` when it found work (another may be due).
   * @param options The clock, where busy time goes, whether rounds wait for {@linkcode flush},
   *   and what to do when a round throws (storage failed).
   */
  constructor(
    round: () => Promise<boolean>,
    options: {
      clock: Clock;
      utilization: LoopUtilization;
      manual: boolean;
      onFailure: (error: Error) => void;
    },
  ) {
    this.#round = round;
    this.#o = options;
  }

  /** The error a round failed with; no round runs after one. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Asks for a round: now (in a microtask), or at the next {@linkcode flush} when manual. */
  schedule(): void {
    if (this.#closed || this.#failure) return;
    this.#again = true;
    if (this.#o.manual || this.#running) return;
    this.#running = this.#run();
  }

  /** Runs rounds until one finds no work. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#failure || this.#closed) return;
    this.#again = true;
    await (this.#running = this.#run());
  }

  /** Lets the running round finish, and runs no more. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    // Start in a microtask, so that work arriving in the same turn joins the first round.
    await Promise.resolve();
    try {
      while (this.#again && !this.#failure) {
        this.#again = false;
        const started = this.#o.clock.now();
        const worked = await this.#round();
        this.#o.utilization.busy(this.#o.clock.now() - started);
        // A round that applied, compacted or released work may leave more: check once more.
        if (worked) this.#again = true;
      }
    } catch (error) {
      this.#failure = error as Error;
      this.#o.onFailure(this.#failure);
    } finally {
      this.#running = undefined;
    }
  }
}
