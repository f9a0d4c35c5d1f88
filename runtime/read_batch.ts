/**
 * Reads that share one read index. Every linearizable read needs a read index confirmed by a
 * quorum (Raft dissertation, section 6.4); reads that arrive at a replica before its request for
 * one is sent can all use that request: it is sent after each of them arrived, so the index the
 * leader records then covers every write acknowledged before any of them started. A batch is
 * open until the next round takes the replica's Ready (which carries the request, or at the
 * leader, starts the heartbeat round that records the index): reads arriving after that wait
 * for the next batch.
 *
 * One request, one confirmation and one answer per batch, however many reads it serves.
 *
 * @module
 */
import type { PendingRead } from "./requests.ts";

/** A read waiting in a batch. */
export interface BatchedRead {
  /** Called once the batch's read index is applied here. */
  readonly resolve: () => void;
  /** Called when the read cannot be served here. */
  readonly reject: (error: Error) => void;
}

/**
 * The reads sharing one read-index request.
 *
 * @example Usage
 * ```ts
 * import { ReadBatch } from "@prkdb/prkdb/runtime";
 * const pending = new Map();
 * const batch = new ReadBatch(7, pending);
 * batch.join({ resolve: () => console.log("read"), reject: () => {} });
 * pending.get(7).index = 3; // the leader confirmed index 3
 * pending.get(7).resolve(); // applied: prints "read"
 * ```
 */
export class ReadBatch {
  /** The request's context: the first read's. */
  readonly context: number;
  readonly #waiting = new Set<BatchedRead>();
  readonly #pending: Map<number, PendingRead>;

  /**
   * Opens a batch and registers its request among a replica's pending reads.
   *
   * @param context The request's context (unique on this node).
   * @param pending The replica's pending reads, by context.
   */
  constructor(context: number, pending: Map<number, PendingRead>) {
    this.context = context;
    this.#pending = pending;
    const settle = (each: (r: BatchedRead) => void) => {
      pending.delete(context);
      for (const r of this.#waiting) each(r);
      this.#waiting.clear();
    };
    pending.set(context, {
      index: 0,
      resolve: () => settle((r) => r.resolve()),
      reject: (error) => settle((r) => r.reject(error)),
    });
  }

  /** How many reads wait on it. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Adds a read.
   *
   * @param read Its callbacks.
   * @returns How to take it out again (it timed out or was cancelled).
   */
  join(read: BatchedRead): () => void {
    this.#waiting.add(read);
    return () => {
      this.#waiting.delete(read);
      // Nobody left to answer: forget the request (a late answer finds nothing).
      if (this.#waiting.size === 0) this.#pending.delete(this.context);
    };
  }
}
