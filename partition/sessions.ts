/**
 * Client sessions: what lets a partition apply every client write at most once, even when the
 * client retries it on another node or a delayed copy arrives after the retry committed
 * (Raft dissertation, section 6.3, "Implementing linearizable semantics").
 *
 * A session is opened through the log, and its id is the index of the entry that opened it, so
 * ids are never reused. Each write of a session carries a sequence number. The table keeps the
 * result of every write the client may still ask about; a duplicate gets the stored result
 * and changes nothing. The client reports the lowest sequence number it still waits for
 * (`firstIncomplete`), and the results below it are forgotten. A write below that mark whose
 * result is gone is refused: it is a very late duplicate, and applying it would apply it twice.
 *
 * Time comes only from the log: each command carries the leader's clock at proposal, and the
 * table's clock is the largest time applied so far. A session idle for longer than its timeout
 * expires at the same log index on every replica.
 *
 * @module
 */
import { ByteReader, ByteWriter } from "../storage/binary.ts";

/**
 * The result of one write, as stored for duplicates.
 *
 * - `ok`: applied at `index`; `found[i]` says whether mutation `i`'s key existed before.
 * - `checkFailed`: check number `check` did not hold; nothing changed.
 * - `sessionExpired`: the session is unknown or expired; nothing changed.
 * - `staleRequest`: a duplicate older than what the session remembers; nothing changed.
 *
 * @example Usage
 * ```ts
 * import type { WriteOutcome } from "@prkdb/prkdb/partition";
 * const o: WriteOutcome = { kind: "checkFailed", check: 0 };
 * ```
 */
export type WriteOutcome =
  | { readonly kind: "ok"; readonly index: number; readonly found: readonly boolean[] }
  | { readonly kind: "checkFailed"; readonly check: number }
  | { readonly kind: "sessionExpired" }
  | { readonly kind: "staleRequest" };

/** The most results one session keeps; past it the oldest is forgotten (and then refused). */
export const MAX_RESULTS_PER_SESSION = 1024;
/** How often, in log time, the table looks for expired sessions. */
const SWEEP_EVERY_MS = 1000;

interface Session {
  readonly timeoutMs: number;
  lastActive: number;
  firstIncomplete: number;
  readonly results: Map<number, WriteOutcome>;
}

/**
 * What the table says about a write before it is applied.
 *
 * @example Usage
 * ```ts
 * import type { SessionVerdict } from "@prkdb/prkdb/partition";
 * const v: SessionVerdict = { kind: "apply" };
 * ```
 */
export type SessionVerdict =
  | { readonly kind: "apply" }
  | { readonly kind: "duplicate"; readonly outcome: WriteOutcome }
  | { readonly kind: "refuse"; readonly outcome: WriteOutcome };

/**
 * The session table of one partition's state machine.
 *
 * @example A duplicate gets the first result
 * ```ts
 * import { SessionTable } from "@prkdb/prkdb/partition";
 * const table = new SessionTable();
 * table.open(7, 1000, 60_000); // opened by the entry at index 7
 * const ref = { id: 7, seq: 1, firstIncomplete: 1 };
 * console.log(table.admit(ref, 1001).kind); // "apply"
 * table.record(ref, { kind: "ok", index: 8, found: [false] });
 * console.log(table.admit(ref, 1002).kind); // "duplicate"
 * ```
 */
export class SessionTable {
  readonly #sessions = new Map<number, Session>();
  #now = 0;
  #lastSweep = 0;

  /** The table's clock: the largest leader time applied so far. */
  get now(): number {
    return this.#now;
  }

  /** How many sessions are open. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Moves the table's clock to a command's time (never backwards), expiring idle sessions.
   *
   * @param time The leader's clock when it proposed the command.
   */
  advance(time: number): void {
    if (time <= this.#now) return;
    this.#now = time;
    if (this.#now - this.#lastSweep < SWEEP_EVERY_MS) return;
    this.#lastSweep = this.#now;
    for (const [id, s] of this.#sessions) if (this.#expired(s)) this.#sessions.delete(id);
  }

  /**
   * Opens a session.
   *
   * @param id Its id: the index of the entry that opens it.
   * @param time The entry's time.
   * @param timeoutMs How long it may stay idle.
   */
  open(id: number, time: number, timeoutMs: number): void {
    this.advance(time);
    this.#sessions.set(id, {
      timeoutMs,
      lastActive: this.#now,
      firstIncomplete: 1,
      results: new Map(),
    });
  }

  /**
   * Decides what to do with a write of a session, and forgets the results its client no longer
   * needs.
   *
   * @param ref The write's session, sequence number and `firstIncomplete`.
   * @param time The write's time.
   * @returns Apply it, answer it with a stored result, or refuse it.
   */
  admit(
    ref: { id: number; seq: number; firstIncomplete: number },
    time: number,
  ): SessionVerdict {
    this.advance(time);
    const s = this.#sessions.get(ref.id);
    if (!s || this.#expired(s)) {
      this.#sessions.delete(ref.id);
      return { kind: "refuse", outcome: { kind: "sessionExpired" } };
    }
    s.lastActive = this.#now;
    if (ref.firstIncomplete > s.firstIncomplete) {
      s.firstIncomplete = ref.firstIncomplete;
      for (const seq of s.results.keys()) if (seq < s.firstIncomplete) s.results.delete(seq);
    }
    const stored = s.results.get(ref.seq);
    if (stored) return { kind: "duplicate", outcome: stored };
    if (ref.seq < s.firstIncomplete) {
      return { kind: "refuse", outcome: { kind: "staleRequest" } };
    }
    return { kind: "apply" };
  }

  /**
   * Stores a write's result for its duplicates.
   *
   * @param ref The write's session and sequence number.
   * @param outcome What applying it did.
   */
  record(ref: { id: number; seq: number }, outcome: WriteOutcome): void {
    const s = this.#sessions.get(ref.id);
    if (!s) return;
    s.results.set(ref.seq, outcome);
    if (s.results.size > MAX_RESULTS_PER_SESSION) {
      // Forget the oldest; a retry of it is then refused as stale, never applied twice.
      const oldest = Math.min(...s.results.keys());
      s.results.delete(oldest);
      s.firstIncomplete = Math.max(s.firstIncomplete, oldest + 1);
    }
  }

  #expired(s: Session): boolean {
    return this.#now - s.lastActive > s.timeoutMs;
  }

  /**
   * Serializes the table, for a snapshot.
   *
   * @returns The table's bytes.
   */
  toBytes(): Uint8Array {
    const w = new ByteWriter();
    w.u64(this.#now).u64(this.#lastSweep).u32(this.#sessions.size);
    for (const [id, s] of this.#sessions) {
      w.u64(id).u64(s.timeoutMs).u64(s.lastActive).u64(s.firstIncomplete).u32(s.results.size);
      for (const [seq, o] of s.results) {
        w.u64(seq);
        switch (o.kind) {
          case "ok":
            w.u8(1).u64(o.index).u32(o.found.length);
            for (const f of o.found) w.u8(f ? 1 : 0);
            break;
          case "checkFailed":
            w.u8(2).u32(o.check);
            break;
          case "sessionExpired":
            w.u8(3);
            break;
          case "staleRequest":
            w.u8(4);
            break;
        }
      }
    }
    return w.view().slice();
  }

  /**
   * Replaces the table with one read from bytes of {@linkcode toBytes}.
   *
   * @param bytes The table's bytes.
   * @throws {RangeError} When the bytes are not a session table; the table is then unchanged.
   */
  fromBytes(bytes: Uint8Array): void {
    const r = new ByteReader(bytes);
    const now = r.u64();
    const lastSweep = r.u64();
    const count = r.u32();
    const sessions = new Map<number, Session>();
    for (let i = 0; i < count; i++) {
      const id = r.u64();
      const s: Session = {
        timeoutMs: r.u64(),
        lastActive: r.u64(),
        firstIncomplete: r.u64(),
        results: new Map(),
      };
      const results = r.u32();
      for (let j = 0; j < results; j++) {
        const seq = r.u64();
        const kind = r.u8();
        if (kind === 1) {
          const index = r.u64();
          const n = r.u32();
          const found: boolean[] = [];
          for (let k = 0; k < n; k++) found.push(r.u8() === 1);
          s.results.set(seq, { kind: "ok", index, found });
        } else if (kind === 2) s.results.set(seq, { kind: "checkFailed", check: r.u32() });
        else if (kind === 3) s.results.set(seq, { kind: "sessionExpired" });
        else if (kind === 4) s.results.set(seq, { kind: "staleRequest" });
        else throw new RangeError(`Invalid session table: result kind ${kind}`);
      }
      sessions.set(id, s);
    }
    if (r.remaining !== 0) {
      throw new RangeError(`Invalid session table: ${r.remaining} trailing bytes`);
    }
    this.#sessions.clear();
    for (const [id, s] of sessions) this.#sessions.set(id, s);
    this.#now = now;
    this.#lastSweep = lastSweep;
  }
}
