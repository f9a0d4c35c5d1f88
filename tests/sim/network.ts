/**
 * A seeded in-memory network with logical time. Every message gets a random delay (so messages
 * are reordered), and may be dropped or duplicated; partitions cut the nodes into groups that
 * cannot reach each other.
 *
 * @module
 */
import type { Message, SeededRandom } from "../../raft/mod.ts";

/** How unreliable the network is. */
export interface NetworkFaults {
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
  /** Delays are uniform in `[1, maxDelay]` time units... */
  maxDelay: number;
  /** ...except that with this probability a message is slow: up to `10 * maxDelay`. */
  slowRate: number;
}

interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly message: Message;
}

/** The simulated network. */
export class SimNetwork {
  readonly #random: SeededRandom;
  readonly #faults: NetworkFaults;
  #queue: InFlight[] = [];
  #seq = 0;
  /** Partition group of each node; nodes in different groups cannot talk. */
  readonly #group = new Map<number, number>();
  sent = 0;
  dropped = 0;

  constructor(random: SeededRandom, faults: NetworkFaults) {
    this.#random = random;
    this.#faults = faults;
  }

  /** Whether `a` and `b` can currently talk. */
  connected(a: number, b: number): boolean {
    return (this.#group.get(a) ?? 0) === (this.#group.get(b) ?? 0);
  }

  /**
   * Splits the nodes into two non-empty sides: `side` (or a random one) against the rest.
   *
   * @returns The nodes cut off on the first side.
   */
  partition(ids: readonly number[], side?: readonly number[]): number[] {
    const cut = side ? [...side] : ids.filter(() => this.#random.chance(0.5));
    if (cut.length === 0 || cut.length === ids.length) {
      cut.splice(0, cut.length, ids[this.#random.nextInt(ids.length)]);
    }
    for (const id of ids) this.#group.set(id, cut.includes(id) ? 1 : 0);
    return cut;
  }

  /** Removes every partition. */
  heal(): void {
    this.#group.clear();
  }

  get partitioned(): boolean {
    return new Set(this.#group.values()).size > 1;
  }

  /** Queues a message sent at time `now`. */
  send(now: number, message: Message): void {
    this.sent++;
    if (this.#random.chance(this.#faults.dropRate)) {
      this.dropped++;
      return;
    }
    const copies = this.#random.chance(this.#faults.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const slow = this.#random.chance(this.#faults.slowRate) ? 10 : 1;
      const delay = 1 + this.#random.nextInt(this.#faults.maxDelay * slow);
      this.#queue.push({ at: now + delay, seq: this.#seq++, message });
    }
  }

  /** Holds a message for a paused node until it resumes, plus a random delay. */
  hold(message: Message, until: number): void {
    this.#queue.push({
      at: until + 1 + this.#random.nextInt(this.#faults.maxDelay),
      seq: this.#seq++,
      message,
    });
  }

  /** Removes and returns the messages due by `now` whose endpoints can talk, in delivery order. */
  deliverable(now: number): Message[] {
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const m of this.#queue) (m.at <= now ? due : later).push(m);
    this.#queue = later;
    due.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const out: Message[] = [];
    for (const { message } of due) {
      if (this.connected(message.from, message.to)) out.push(message);
      else this.dropped++;
    }
    return out;
  }
}
