/**
 * Time limits for a server's connections and requests, checked by one periodic sweep instead of
 * a timer each. Every request used to set and clear several timers (its body's limit, the idle
 * limit of its connection, the runtime's own socket timeout), and a timer costs more than the
 * rest of a small request's bookkeeping; here setting a limit is one map entry, and one
 * interval, running only while some limit is set, expires what is due. A limit fires up to one
 * sweep late, which is fine for limits of seconds meant to cut off slow or silent peers.
 *
 * @module
 */

/** One key's limit. */
interface Entry {
  at: number;
  expire: () => void;
}

/**
 * Deadlines by key, swept every `everyMs`.
 *
 * @example Usage
 * ```ts
 * import { SweptDeadlines } from "./swept_deadlines.ts";
 * const deadlines = new SweptDeadlines(100);
 * const socket = {};
 * deadlines.set(socket, 5000, () => console.log("too slow"));
 * deadlines.clear(socket); // it was fast enough
 * deadlines.close();
 * ```
 */
export class SweptDeadlines {
  readonly #everyMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<object, Entry>();
  #interval: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /**
   * Creates the deadlines.
   *
   * @param everyMs How often to sweep.
   * @param now The clock, in milliseconds (tests drive it and call {@linkcode sweep}).
   * @param manual Never sweep on a timer, only when {@linkcode sweep} is called.
   */
  constructor(everyMs: number, now: () => number = () => performance.now(), manual = false) {
    this.#everyMs = manual ? Infinity : everyMs;
    this.#now = now;
  }

  /** Keys with a limit set. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Sets `key`'s limit to `ms` from now, replacing any it had.
   *
   * @param key What the limit is for (a socket, a request).
   * @param ms The limit.
   * @param expire Runs once if the limit passes first.
   */
  set(key: object, ms: number, expire: () => void): void {
    if (this.#closed) return;
    const at = this.#now() + ms;
    const entry = this.#entries.get(key);
    if (entry) {
      entry.at = at;
      entry.expire = expire;
    } else this.#entries.set(key, { at, expire });
    if (this.#interval === undefined && Number.isFinite(this.#everyMs)) {
      this.#interval = setInterval(() => this.sweep(), this.#everyMs);
      // Limits never keep a process alive.
      Deno.unrefTimer(this.#interval);
    }
  }

  /**
   * Forgets `key`'s limit.
   *
   * @param key What the limit was for.
   */
  clear(key: object): void {
    this.#entries.delete(key);
  }

  /** Expires every limit that has passed; stops the sweeps when none is left. */
  sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.at > now) continue;
      this.#entries.delete(key);
      entry.expire();
    }
    if (this.#entries.size === 0) this.#stop();
  }

  /** Forgets every limit and stops sweeping, for good: limits set afterwards are ignored. */
  close(): void {
    this.#closed = true;
    this.#entries.clear();
    this.#stop();
  }

  #stop(): void {
    if (this.#interval === undefined) return;
    clearInterval(this.#interval);
    this.#interval = undefined;
  }
}
