/**
 * The client's side of sessions. A session is per partition (each partition is its own log
 * and keeps its own session table): it is opened lazily before the first write to the
 * partition, and every write takes the next sequence number. The client remembers which
 * writes are still waiting, so that each request tells the partition the lowest sequence
 * number whose result it may still need (`firstIncomplete`): everything below is forgotten
 * server-side, and a very late duplicate of it is refused instead of applied again.
 *
 * @module
 */

/**
 * One partition's session as the client holds it.
 *
 * @example Usage
 * ```ts
 * import { ClientSession } from "@prkdb/prkdb/client";
 * const s = new ClientSession(12);
 * const seq = s.begin();
 * console.log(s.ref(seq)); // { id: 12, seq: 1, firstIncomplete: 1 }
 * s.end(seq);
 * ```
 */
export class ClientSession {
  /** The session id the partition gave. */
  readonly id: number;
  #nextSeq = 1;
  readonly #waiting = new Set<number>();

  /**
   * Wraps a session the partition opened.
   *
   * @param id The session id.
   */
  constructor(id: number) {
    this.id = id;
  }

  /**
   * Takes the next sequence number for a new write.
   *
   * @returns The write's sequence number.
   */
  begin(): number {
    const seq = this.#nextSeq++;
    this.#waiting.add(seq);
    return seq;
  }

  /**
   * The session reference to send with an attempt of write `seq`.
   *
   * @param seq The write's sequence number.
   * @returns Id, sequence number and the lowest sequence number still waiting.
   */
  ref(seq: number): { id: number; seq: number; firstIncomplete: number } {
    let first = seq;
    for (const s of this.#waiting) if (s < first) first = s;
    return { id: this.id, seq, firstIncomplete: first };
  }

  /**
   * Marks write `seq` as finished: its result is in, or the caller gave up on it. Either way
   * the partition may forget it, and will refuse any later copy of it.
   *
   * @param seq The write's sequence number.
   */
  end(seq: number): void {
    this.#waiting.delete(seq);
  }
}
