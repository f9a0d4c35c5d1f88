/**
 * A unary Connect call in the binary format, made with one `fetch`: the request body is the
 * encoded message, the response body is the encoded answer, and an error is an HTTP status
 * with a JSON body naming its Connect code. This is the whole protocol for a unary call; the
 * generic Connect client adds interceptors, per-call signals, header objects and streaming
 * readers around it, which cost more than the call itself on a node's busiest internal path.
 *
 * Errors take the shapes the generic client gives them where callers tell them apart:
 *
 * - the server answered with an error: its code, message and the response headers as metadata;
 * - a server without the method (an earlier version) answers 404: `unimplemented`;
 * - any other HTTP error without a Connect body (a proxy's 502, say): `unknown`, with the
 *   response headers, so it counts as answered and its write's fate as unknown (the generic
 *   client would call a 503 `unavailable`, which a caller may take for "nothing was done");
 * - no answer within the time limit: `deadline_exceeded`, with no metadata;
 * - no connection: `unknown`, with the `fetch` error as its cause.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { httpError } from "./http_error.ts";
import { Deadlines } from "../runtime/deadlines.ts";
import { systemClock } from "../runtime/clock.ts";

/** The time limits of every call in flight, on one timer. */
const timeLimits = new Deadlines(systemClock);

/** Options for {@linkcode callUnary}. */
export interface UnaryCallOptions {
  /** The `fetch` to call with (mutual TLS when configured). Default: the global one. */
  fetch?: typeof fetch;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** The call's time limit, sent to the server as `connect-timeout-ms` too. */
  timeoutMs: number;
  /** Ends the call early (the caller gave up). */
  signal?: AbortSignal;
}

/**
 * Calls a unary method with an encoded request and returns the encoded answer.
 *
 * @param url The method's full URL (`http://host:port/package.Service/Method`).
 * @param request The encoded request message.
 * @param options The time limit, headers and `fetch`.
 * @returns The encoded response message.
 * @throws {ConnectError} As described in the module documentation.
 *
 * @example Usage
 * ```ts ignore
 * const answer = fromBinary(ForwardResponseSchema, await callUnary(
 *   "http://127.0.0.1:8081/prkdb.v1.KvService/Forward",
 *   toBinary(ForwardRequestSchema, request),
 *   { timeoutMs: 2000 },
 * ));
 * ```
 */
export async function callUnary(
  url: string,
  request: Uint8Array,
  options: UnaryCallOptions,
): Promise<Uint8Array> {
  let response: Response;
  let body: Uint8Array;
  // The caller's signal and the time limit, released as soon as the call ends (AbortSignal.any
  // with AbortSignal.timeout costs several times more, and keeps its timer for the whole limit).
  const limit = timeLimits.signal(options.signal, options.timeoutMs);
  try {
    response = await (options.fetch ?? fetch)(url, {
      method: "POST",
      headers: {
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        "connect-timeout-ms": String(options.timeoutMs),
        ...options.headers,
      },
      body: request as Uint8Array<ArrayBuffer>,
      signal: limit.signal,
    });
    body = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    if (options.signal?.aborted) throw ConnectError.from(options.signal.reason, Code.Canceled);
    if (limit.signal.aborted) {
      throw new ConnectError(
        `no answer within ${options.timeoutMs} ms`,
        Code.DeadlineExceeded,
      );
    }
    throw new ConnectError(
      `fetch failed: ${(error as Error).message}`,
      Code.Unknown,
      undefined,
      undefined,
      error,
    );
  } finally {
    limit.release();
  }
  if (response.status !== 200) throw httpError(response.status, body, response.headers);
  return body;
}
