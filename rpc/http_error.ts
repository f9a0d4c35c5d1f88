/**
 * Reading a Connect unary error answer: an HTTP status with a JSON body that names its Connect
 * code. One reader for every caller that makes its own calls (a node passing writes on, a peer
 * stream's answer, the client); what differs between them is only the code given to an error
 * answer without a Connect body, which each caller chooses.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";

/**
 * The code of an error answer that names none: a server without the method answers 404
 * (Connect's `unimplemented`); anything else (a proxy's 502, say) is `unknown`, so that it counts
 * as answered and its write's fate as unknown.
 *
 * @param status The HTTP status.
 * @returns The code.
 *
 * @example Usage
 * ```ts
 * import { answeredOrUnimplemented } from "./http_error.ts";
 * console.log(answeredOrUnimplemented(404), answeredOrUnimplemented(503)); // 12 2
 * ```
 */
export function answeredOrUnimplemented(status: number): Code {
  return status === 404 ? Code.Unimplemented : Code.Unknown;
}

/**
 * The Connect error an HTTP error answer stands for.
 *
 * @param status The HTTP status (not 200).
 * @param body The answer's body: a Connect error as JSON, or anything else.
 * @param headers The answer's headers, kept as the error's metadata.
 * @param codeForStatus The code of an answer whose body names none (default
 *   {@linkcode answeredOrUnimplemented}).
 * @returns The error.
 *
 * @example Usage
 * ```ts
 * import { httpError } from "./http_error.ts";
 * const body = new TextEncoder().encode('{"code":"unavailable","message":"no leader"}');
 * console.log(httpError(503, body).code); // 14
 * console.log(httpError(502, new TextEncoder().encode("Bad gateway")).rawMessage); // HTTP 502: Bad gateway
 * ```
 */
export function httpError(
  status: number,
  body: Uint8Array,
  headers?: Headers,
  codeForStatus: (status: number) => Code = answeredOrUnimplemented,
): ConnectError {
  const text = new TextDecoder().decode(body);
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    const code = typeof parsed.code === "string" ? codeFromString(parsed.code) : undefined;
    if (code !== undefined) {
      return new ConnectError(
        typeof parsed.message === "string" ? parsed.message : "",
        code,
        headers,
      );
    }
  } catch {
    // Not a Connect error body: the status says what it was.
  }
  return new ConnectError(`HTTP ${status}: ${text.slice(0, 200)}`, codeForStatus(status), headers);
}
