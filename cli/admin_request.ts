/**
 * One admin request as the operator CLI sends it: try each endpoint in turn until one answers,
 * and when the cluster answers "not now" (a leader is being elected, a replica lags) wait and
 * ask again until a deadline, backing off from 100 ms to 1 s.
 *
 * @module
 */
import type { Connection, httpFor } from "./connection.ts";

/** What to send and how long to keep asking. */
export interface AdminRequest {
  /** The admin path, with its query: `/admin/membership`. */
  readonly path: string;
  /** A JSON body to POST; without one the request is a GET. */
  readonly body?: unknown;
  /** How much longer than the connection's timeout one attempt may take, in milliseconds. */
  readonly slackMs: number;
  /** How long to keep asking, in milliseconds. */
  readonly deadlineMs: number;
  /** The statuses that mean "not now": retried. Every other failure is final. */
  readonly retryOn: readonly number[];
  /** Told each new reason the request waits, so a long wait shows progress. */
  readonly onWait?: (reason: string) => void;
}

/** The last reason an admin request failed, after its final answer or its deadline. */
export class AdminRequestError extends Error {
  /** Whether the request ran out of time (rather than being refused for good). */
  readonly timedOut: boolean;

  /** @param reason The last failure. @param timedOut Whether the deadline passed. */
  constructor(reason: string, timedOut: boolean) {
    super(reason);
    this.name = "AdminRequestError";
    this.timedOut = timedOut;
  }
}

/**
 * Sends `req` to the first endpoint that answers and returns the JSON body of its 2xx answer.
 * An unreachable endpoint passes the request to the next one; a status in `retryOn` waits and
 * starts over; any other status throws at once.
 *
 * @example
 * ```ts ignore
 * const body = await adminRequest(c, http, {
 *   path: "/admin/members", body: { id: 4, remove: true },
 *   slackMs: 2000, deadlineMs: 15_000, retryOn: [503],
 * });
 * ```
 *
 * @throws {AdminRequestError} When refused, or when no answer came before the deadline.
 */
export async function adminRequest(
  c: Connection,
  http: ReturnType<typeof httpFor>,
  req: AdminRequest,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + req.deadlineMs;
  let waited = "";
  for (let attempt = 0;; attempt++) {
    let last = "";
    for (const url of c.endpoints) {
      let r: Response;
      try {
        r = await http.fetch(`${url}${req.path}`, {
          ...(req.body === undefined ? {} : {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(req.body),
          }),
          signal: AbortSignal.timeout(c.timeoutMs + req.slackMs),
        });
      } catch (error) {
        last = `${url} is unreachable: ${(error as Error).message}`;
        continue;
      }
      const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (r.ok) return body;
      last = typeof body.error === "string" ? body.error : `HTTP ${r.status}`;
      if (!req.retryOn.includes(r.status)) throw new AdminRequestError(last, false);
      break; // the cluster answered "not now": wait, then ask again
    }
    if (Date.now() > deadline) throw new AdminRequestError(last, true);
    if (last !== waited) req.onWait?.(last);
    waited = last;
    await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (attempt + 1))));
  }
}
