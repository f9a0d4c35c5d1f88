/**
 * The closed-loop load both cluster benchmarks use: `clients` workers, each issuing one operation
 * at a time until the deadline, recording every latency.
 *
 * @module
 */

/** What a run measured. */
export interface LoadResult {
  /** Completed operations per second. */
  readonly opsPerSecond: number;
  /** Latency percentiles, in milliseconds. */
  readonly p50: number;
  readonly p99: number;
  /** Completed operations and failed ones. */
  readonly done: number;
  readonly errors: number;
  /** Wall time of the run, in seconds. */
  readonly seconds: number;
}

/**
 * Runs `op` from `clients` workers for `seconds`. Bounded: each worker stops at the deadline or
 * after 1,000,000 operations.
 */
export async function closedLoop(
  clients: number,
  seconds: number,
  op: (client: number, i: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
      const t = performance.now();
      try {
        await op(c, i);
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  }));
  const took = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    opsPerSecond: latencies.length / took,
    p50: at(0.5),
    p99: at(0.99),
    done: latencies.length,
    errors,
    seconds: took,
  };
}
