/**
 * The pipeline window of one follower: the last index of each AppendEntries sent and not yet
 * acknowledged. A full window pauses replication to that follower, which bounds the memory and
 * bandwidth a slow follower can take.
 *
 * @module
 */

/**
 * A bounded FIFO of in-flight AppendEntries, identified by their last index.
 *
 * @example Usage
 * ```ts
 * import { Inflights } from "@prkdb/prkdb/raft";
 * const w = new Inflights(2);
 * w.add(5); w.add(9);
 * console.log(w.full); // true
 * w.freeTo(5);
 * console.log(w.count); // 1
 * ```
 */
export class Inflights {
  readonly #capacity: number;
  readonly #ring: number[];
  #start = 0;
  #count = 0;

  /**
   * Creates an empty window.
   *
   * @param capacity How many messages may be in flight at once.
   */
  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#ring = new Array(capacity).fill(0);
  }

  /** How many messages are in flight. */
  get count(): number {
    return this.#count;
  }

  /** Whether no more messages may be sent. */
  get full(): boolean {
    return this.#count === this.#capacity;
  }

  /**
   * Records a sent message.
   *
   * @param lastIndex The last entry index the message carried; must grow with each call.
   */
  add(lastIndex: number): void {
    if (this.full) throw new Error(`Inflights: window of ${this.#capacity} is full`);
    this.#ring[(this.#start + this.#count) % this.#capacity] = lastIndex;
    this.#count++;
  }

  /**
   * Frees every message whose last index is at most `index` (they were acknowledged).
   *
   * @param index The acknowledged index.
   */
  freeTo(index: number): void {
    while (this.#count > 0 && this.#ring[this.#start] <= index) {
      this.#start = (this.#start + 1) % this.#capacity;
      this.#count--;
    }
  }

  /** Frees the oldest in-flight message, so one more may be sent (it may have been lost). */
  freeFirst(): void {
    if (this.#count === 0) return;
    this.#start = (this.#start + 1) % this.#capacity;
    this.#count--;
  }

  /** Forgets every in-flight message. */
  reset(): void {
    this.#start = 0;
    this.#count = 0;
  }
}
