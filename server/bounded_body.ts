/**
 * Reading a request body with a size and a time limit, stopping as soon as either is broken: a
 * body is never buffered past its limit, and a sender that stalls is not waited for.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { SweptDeadlines } from "./swept_deadlines.ts";

/** Why a body could not be read. */
export class BodyError extends Error {
  /** What went wrong. */
  readonly reason: "too_large" | "timeout" | "aborted";

  /**
   * Creates the error.
   *
   * @param reason What went wrong.
   * @param message Said to the client.
   */
  constructor(reason: "too_large" | "timeout" | "aborted", message: string) {
    super(message);
    this.name = "BodyError";
    this.reason = reason;
  }
}

/**
 * Reads a body up to `limit` bytes within `timeoutMs`, stopping as soon as either is broken.
 * The time limit is kept by `deadlines`, the server's sweep.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  timeoutMs: number,
  deadlines: SweptDeadlines,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const done = (error?: BodyError) => {
      deadlines.clear(req);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
      if (error) return reject(error);
      const body = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      resolve(body);
    };
    deadlines.set(
      req,
      timeoutMs,
      () =>
        done(new BodyError("timeout", `The request body did not arrive within ${timeoutMs} ms`)),
    );
    const onData = (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        return done(
          new BodyError("too_large", `The request body exceeds the limit of ${limit} bytes`),
        );
      }
      chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = (e: Error) => done(new BodyError("aborted", e.message));
    const onAborted = () => done(new BodyError("aborted", "The client went away"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}
