/**
 * Offline stand-in for `jsr:@std/async`: `delay` and `deadline`, with the real package's names
 * and signatures, implemented over `node:timers/promises`.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Aborts the delay, rejecting with the signal's reason. */
  signal?: AbortSignal;
  /** Whether the timer keeps the process alive (default `true`). */
  persistent?: boolean;
}

/** Resolves after `ms` milliseconds, or rejects when `options.signal` aborts. */
export async function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  options.signal?.throwIfAborted();
  try {
    await sleep(ms, undefined, { signal: options.signal, ref: options.persistent ?? true });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw error;
  }
}

/** Error thrown by {@linkcode deadline} when the time runs out. */
export class DeadlineError extends Error {
  /** Creates a deadline error. */
  constructor() {
    super("Deadline");
    this.name = "DeadlineError";
  }
}

/** Options for {@linkcode deadline}. */
export interface DeadlineOptions {
  /** Aborts the wait, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/** Resolves like `p`, or rejects with {@linkcode DeadlineError} after `ms` milliseconds. */
export function deadline<T>(p: Promise<T>, ms: number, options: DeadlineOptions = {}): Promise<T> {
  const controller = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, controller.signal])
    : controller.signal;
  const timeout = sleep(ms, undefined, { signal }).then(
    () => {
      throw new DeadlineError();
    },
    () => {
      if (options.signal?.aborted) throw options.signal.reason;
      return new Promise<never>(() => {});
    },
  );
  return Promise.race([p, timeout]).finally(() => controller.abort());
}
