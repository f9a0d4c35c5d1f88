/**
 * Client requests waiting on the log: writes wait for their entry to be applied, reads wait
 * for their read index to be confirmed and applied. Each wait is bounded by a deadline on the
 * runtime's clock and by the caller's `AbortSignal`.
 *
 * @module
 */
import { TimeoutError } from "../partition/errors.ts";
import type { ApplyResult } from "../partition/kv_state_machine.ts";
import type { Deadlines } from "./deadlines.ts";

/**
 * A proposed write: settled when the entry at its index is applied. If the entry applied there
 * has another term, a different leader's entry won the index and this write never will.
 *
 * @example Usage
 * ```ts
 * import type { PendingWrite } from "@prkdb/prkdb/runtime";
 * ```
 */
export interface PendingWrite {
  /** The term it was proposed in. */
  readonly term: number;
  /** Called with what applying it did. */
  readonly resolve: (result: ApplyResult) => void;
  /** Called when it failed or its fate became unknown. */
  readonly reject: (error: Error) => void;
}

/**
 * A read waiting for its read index (`0` until the leader confirmed it) to be applied.
 *
 * @example Usage
 * ```ts
 * import type { PendingRead } from "@prkdb/prkdb/runtime";
 * ```
 */
export interface PendingRead {
  /** The read index, once confirmed; `0` before. */
  index: number;
  /** Called once the state machine has applied `index`. */
  readonly resolve: () => void;
  /** Called when the read cannot be served here. */
  readonly reject: (error: Error) => void;
}

/**
 * Waits for a request to settle, bounded by a deadline in `deadlines` and by `signal`.
 *
 * @param deadlines The host's deadlines (one timer for all its requests).
 * @param timeoutMs The longest wait.
 * @param what How to name the request in a timeout error.
 * @param signal Aborts the wait (a write may still commit).
 * @param register Registers the request's callbacks and returns how to unregister them.
 * @param timedOut The error for a request whose time ran out (default: a `TimeoutError` that
 *   names `what`).
 * @returns What the request settled with.
 *
 * @example Usage
 * ```ts
 * import { awaitRequest, Deadlines, ManualClock } from "@prkdb/prkdb/runtime";
 * const deadlines = new Deadlines(new ManualClock());
 * const p = awaitRequest<number>(deadlines, 100, "Example", undefined, (resolve) => {
 *   resolve(42);
 *   return () => {};
 * });
 * console.log(await p); // 42
 * ```
 */
export function awaitRequest<T>(
  deadlines: Deadlines,
  timeoutMs: number,
  what: string,
  signal: AbortSignal | undefined,
  register: (resolve: (v: T) => void, reject: (e: Error) => void) => () => void,
  timedOut?: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let unregister: () => void = () => {};
    const finish = () => {
      done = true;
      settle();
      signal?.removeEventListener("abort", onAbort);
      unregister();
    };
    const settle = deadlines.add(timeoutMs, () => {
      if (done) return;
      finish();
      reject(timedOut?.() ?? new TimeoutError(`${what} did not finish within ${timeoutMs} ms`));
    });
    const onAbort = () => {
      if (done) return;
      finish();
      reject(signal!.reason ?? new TimeoutError(`${what} was aborted`));
    };
    const release = register((v) => {
      if (done) return;
      finish();
      resolve(v);
    }, (e) => {
      if (done) return;
      finish();
      reject(e);
    });
    if (done) return release();
    unregister = release;
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort);
  });
}
