/**
 * A seeded random source, so that every run of the core can be replayed exactly.
 *
 * @module
 */

/**
 * The only randomness the core uses: election timeouts (Raft section 5.2). Injected so tests and
 * simulations are deterministic.
 *
 * @example Usage
 * ```ts
 * import type { RandomSource } from "@prkdb/prkdb/raft";
 * const fixed: RandomSource = { nextInt: () => 0 };
 * ```
 */
export interface RandomSource {
  /**
   * Returns an integer in `[0, bound)`.
   *
   * @param bound The exclusive upper bound, a positive integer.
   * @returns A uniformly distributed integer.
   */
  nextInt(bound: number): number;
}

/**
 * A small, fast deterministic generator (SplitMix32). The same seed always yields the same
 * sequence.
 *
 * @example Usage
 * ```ts
 * import { SeededRandom } from "@prkdb/prkdb/raft";
 * const a = new SeededRandom(42), b = new SeededRandom(42);
 * console.log(a.nextInt(100) === b.nextInt(100)); // true
 * ```
 */
export class SeededRandom implements RandomSource {
  #state: number;

  /**
   * Creates a generator.
   *
   * @param seed Any integer; only its low 32 bits matter.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /**
   * Returns the next float in `[0, 1)`.
   *
   * @returns A float.
   */
  next(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  }

  /**
   * Returns an integer in `[0, bound)`.
   *
   * @param bound The exclusive upper bound.
   * @returns A uniformly distributed integer.
   */
  nextInt(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /**
   * Returns `true` with probability `p`.
   *
   * @param p A probability in `[0, 1]`.
   * @returns Whether the event happened.
   */
  chance(p: number): boolean {
    return this.next() < p;
  }
}
