/**
 * Runs callbacks once the promise chains started in the current turn of the event loop have
 * had a few steps each: the point at which a peer stream writes what was queued.
 *
 * A round settles the writes it applied synchronously, but each settled write reaches its
 * answer (to the node that passed it on) only some awaits later, through the layers that served
 * it. Flushed after one microtask, a stream sent the round's commit notices in one frame and
 * the answers in the next; the follower woke for the notice, and the leader's answers waited
 * for the CPU. Flushed after {@linkcode CHAIN_STEPS} microtasks, most answers leave in the
 * round's frame. The wait is microseconds of the same turn, not a timer: no I/O and no other
 * turn runs in between.
 *
 * One count serves every stream: callbacks registered while it runs share its end.
 *
 * @module
 */

/** Microtask steps given to the turn's promise chains before the callbacks run. */
export const CHAIN_STEPS = 24;

const waiting: (() => void)[] = [];
let stepsLeft = 0;

function step(): void {
  if (--stepsLeft > 0) {
    queueMicrotask(step);
    return;
  }
  const run = waiting.splice(0);
  for (const callback of run) {
    try {
      callback();
    } catch (error) {
      // One failing callback must not keep the others (other streams' flushes) from running.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/**
 * Runs `callback` after {@linkcode CHAIN_STEPS} microtasks (with every other callback
 * registered meanwhile), still within the current turn of the event loop.
 *
 * @param callback What to run.
 *
 * @example Usage
 * ```ts
 * import { afterChains } from "./after_chains.ts";
 * const order: string[] = [];
 * afterChains(() => order.push("flush"));
 * await Promise.resolve().then(() => order.push("answer")).then(() => order.push("answer, later"));
 * await new Promise<void>((resolve) => afterChains(resolve));
 * console.log(order); // [ "answer", "answer, later", "flush" ]
 * ```
 */
export function afterChains(callback: () => void): void {
  waiting.push(callback);
  if (stepsLeft > 0) return;
  stepsLeft = CHAIN_STEPS;
  queueMicrotask(step);
}
