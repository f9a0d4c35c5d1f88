/**
 * A simulated client, as `PrkDbClient` behaves: every write goes through a session, and a write
 * that fails or times out is retried, with the same sequence number, on another node. A
 * request to a paused node waits there and runs when the node resumes, which may be long after
 * the client gave up on it and its retry committed elsewhere: the case sessions exist for.
 *
 * @module
 */
import type { SeededRandom } from "../../raft/mod.ts";
import {
  OutcomeUnknownError,
  SessionExpiredError,
  TimeoutError,
  WrongNodeError,
} from "../../partition/errors.ts";
import type { WriteResult } from "../../runtime/write_result.ts";
import { formatVersion } from "../../partition/version.ts";
import type { SimNode } from "./sim_node.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** How long a client waits for one attempt, in time units. */
export const ATTEMPT_UNITS = 150;
/** Attempts per operation. */
const MAX_ATTEMPTS = 12;
/** How long sessions may stay idle, in time units: long enough to live through a run. */
const SESSION_TIMEOUT = 1_000_000;

/** What the client needs from the simulation. */
export interface ClientWorld {
  readonly random: SeededRandom;
  readonly ids: readonly number[];
  /** The node if it is up (paused or not). */
  node(id: number): SimNode | undefined;
  /** The simulated time. */
  now(): number;
  /** Resolves after `units` of simulated time. */
  sleep(units: number): Promise<void>;
  /** A unique logical timestamp for the history. */
  stamp(): number;
  /** The node the clients' writes come through, when the run models one (`followWrites`). */
  home?(): number;
  /** The share of puts passed on without a session (see `SimulationOptions.passedOnPuts`). */
  readonly passedOnPuts: number;
  /**
   * Carries a notice from node `from` to node `to` as the network would: after a delay, and
   * only if both are up and can talk then (a notice may be lost). `deliver` runs at `to`.
   */
  relay(from: number, to: number, deliver: (node: SimNode) => void): void;
}

/** The outcome of an operation for the history: a timestamp, `Infinity` (unknown) or -1 (none). */
export interface Settled {
  ret: number;
  found?: boolean;
  value?: string | null;
  /** The log index a write was applied at. */
  index?: number;
}

/** Counts that show the retries and duplicates really happened. */
export interface ClientStats {
  retries: number;
  duplicatesSent: number;
  heldRequests: number;
  sessionsOpened: number;
  /** Puts passed on by a follower and answered by it on the leader's durable notice. */
  durableAnswers: number;
}

/** One client. */
export class SimClient {
  readonly id: number;
  #world: ClientWorld;
  #stats: ClientStats;
  #session: { id: number; nextSeq: number; waiting: Set<number> } | undefined;
  leaderGuess = 1;
  busy = false;

  constructor(id: number, world: ClientWorld, stats: ClientStats) {
    this.id = id;
    this.#world = world;
    this.#stats = stats;
  }

  /** Sends a call to a node as a network would: a paused node runs it when it resumes. */
  #send<T>(id: number, call: (node: SimNode) => Promise<T>): Promise<T> {
    const node = this.#world.node(id);
    if (!node) return Promise.reject(new OutcomeUnknownError(`node ${id} is down`));
    if (node.running(this.#world.now())) return call(node);
    this.#stats.heldRequests++;
    return new Promise<T>((resolve, reject) =>
      node.held.push(() => call(node).then(resolve, reject))
    );
  }

  /** The result of `p`, or `undefined` once the attempt's deadline passed. */
  async #within<T>(p: Promise<T>): Promise<{ value: T } | { error: unknown } | undefined> {
    const settled = p.then((value) => ({ value }), (error) => ({ error }));
    return await Promise.race([settled, this.#world.sleep(ATTEMPT_UNITS).then(() => undefined)]);
  }

  /**
   * Counts a write sent to `target` as the server would had it come through the run's
   * application node: there, and at `target` as passed on by it.
   */
  #countOrigin(target: SimNode): void {
    const home = this.#world.home?.();
    if (home === undefined) return;
    this.#world.node(home)?.host.noteWrite(0);
    if (target.host.nodeId !== home) target.host.noteWrite(0, home);
  }

  #target(): number {
    const r = this.#world.random;
    return r.chance(0.7) ? this.leaderGuess : this.#world.ids[r.nextInt(this.#world.ids.length)];
  }

  #learn(error: unknown): void {
    if (error instanceof WrongNodeError && error.leaderId) this.leaderGuess = error.leaderId;
    else this.leaderGuess = this.#world.ids[this.#world.random.nextInt(this.#world.ids.length)];
  }

  async #openSession(): Promise<boolean> {
    const target = this.#target();
    const r = await this.#within(this.#send(target, (n) => n.host.openSession(0, SESSION_TIMEOUT)));
    if (r && "value" in r) {
      this.#session = { id: r.value, nextSeq: 1, waiting: new Set() };
      this.#stats.sessionsOpened++;
      return true;
    }
    this.#learn(r?.error);
    return false;
  }

  /** A put or delete with retries; settles as the real client would report it. */
  async write(
    kind: "put" | "delete",
    key: string,
    value: string | null,
    expireInMs?: number,
  ): Promise<Settled> {
    const k = te.encode(key);
    if (
      kind === "put" && expireInMs === undefined &&
      this.#world.random.chance(this.#world.passedOnPuts)
    ) {
      return await this.#passOnPut(k, value!);
    }
    let ambiguous = false;
    let seq = 0;
    let session: { id: number; nextSeq: number; waiting: Set<number> } | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) {
        this.#stats.retries++;
        await this.#world.sleep(5 + this.#world.random.nextInt(20));
      }
      if (!this.#session && !(await this.#openSession())) continue;
      if (session !== this.#session) {
        if (ambiguous) break; // the session changed under a write that may have applied
        session = this.#session!;
        seq = session.nextSeq++;
        session.waiting.add(seq);
      }
      const s = session!;
      const ref = () => ({ id: s.id, seq, firstIncomplete: Math.min(...s.waiting) });
      const send = (id: number) =>
        this.#send(id, (n): Promise<WriteResult> => {
          this.#countOrigin(n);
          return kind === "put"
            ? n.host.put(k, te.encode(value!), { session: ref(), expireInMs })
            : n.host.delete(k, { session: ref() });
        });
      const target = this.#target();
      if (this.#world.random.chance(0.05)) {
        // The network delivers a copy of the request to another node too: from now on the
        // write may have been applied whatever this attempt answers.
        this.#stats.duplicatesSent++;
        ambiguous = true;
        send(this.#world.ids[this.#world.random.nextInt(this.#world.ids.length)]).catch(() => {});
      }
      const r = await this.#within(send(target));
      if (r && "value" in r) {
        s.waiting.delete(seq);
        return { ret: this.#world.stamp(), found: r.value.found, index: r.value.index };
      }
      const error = r?.error;
      if (error instanceof SessionExpiredError) {
        if (this.#session === s) this.#session = undefined;
        continue;
      }
      if (!r || error instanceof TimeoutError || error instanceof OutcomeUnknownError) {
        ambiguous = true;
      }
      this.#learn(error);
    }
    // Giving up: the write may still be applied later (a held copy), so its outcome is unknown
    // unless no attempt can have been applied. Either way the session forgets it now.
    session?.waiting.delete(seq);
    return { ret: ambiguous ? Infinity : -1 };
  }

  /**
   * A put without a session, sent to any node, which passes it on to the leader as the server
   * does. That node answers as soon as the leader says the entry is durable there and its own
   * copy is durable too, or with the leader's answer if that comes first. One attempt only:
   * without a session, a retry could apply the put twice.
   */
  async #passOnPut(key: Uint8Array, value: string): Promise<Settled> {
    const via = this.#world.ids[this.#world.random.nextInt(this.#world.ids.length)];
    const data = te.encode(value);
    const r = await this.#within(this.#send(via, (f) => {
      const leader = f.host.leaderOf(0);
      if (leader === 0 || leader === f.id) return f.host.put(key, data);
      return new Promise<WriteResult>((resolve, reject) => {
        let answered = false;
        const answer = (result: WriteResult, early: boolean) => {
          if (answered) return;
          answered = true;
          if (early) this.#stats.durableAnswers++;
          resolve(result);
        };
        const durableNotice = {
          to: f.id,
          send: (partition: number, index: number, term: number) =>
            this.#world.relay(leader, f.id, (node) => {
              if (node !== f) return; // restarted since: nothing waits there any more
              node.host.awaitDurable(partition, index, term, () =>
                answer({
                  ok: true,
                  found: false,
                  partition,
                  index,
                  version: formatVersion(partition, index),
                }, true));
            }),
        };
        this.#send(leader, (l) => l.host.put(key, data, { durableNotice }))
          .then((result) => answer(result, false), reject);
      });
    }));
    if (r && "value" in r) return { ret: this.#world.stamp(), index: r.value.index };
    const error = r?.error;
    this.#learn(error);
    // Unanswered, timed out or of unknown fate: it may still be applied. Any other error says
    // it was not (refused before it was proposed, or lost in a leader change).
    if (!r || error instanceof TimeoutError || error instanceof OutcomeUnknownError) {
      return { ret: Infinity };
    }
    return { ret: -1 };
  }

  /** A linearizable read at the node believed to lead, or a follower read elsewhere. */
  async read(key: string): Promise<Settled> {
    const target = this.#target();
    const r = await this.#within(this.#send(target, (n) => {
      const mode = n.host.leaderOf(0) === n.id ? "linearizable" : "follower";
      return n.host.get(te.encode(key), mode);
    }));
    if (r && "value" in r) {
      return { ret: this.#world.stamp(), value: r.value ? td.decode(r.value.value) : null };
    }
    this.#learn(r?.error);
    return { ret: -1 }; // a failed or lost read has no effect
  }
}
