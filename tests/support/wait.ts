/**
 * Waiting for a condition with a deadline: the only way tests here wait on real time.
 *
 * @module
 */

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes.
 *
 * @returns The truthy value.
 * @throws When the deadline passes, with `what` and the last error seen.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}${
      last ? `: ${(last as Error).message}` : ""
    }`,
  );
}
