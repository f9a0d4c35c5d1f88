/**
 * HTTP/1.1's chunked transfer coding, read as the bytes arrive: how a client sends a request body
 * whose length it does not know in advance, such as a peer's stream of Raft batches. Each chunk is
 * its size in hex, CRLF, that many bytes, CRLF; a chunk of size 0, optional trailer lines and an
 * empty line end the body.
 *
 * The decoder is strict: a size with chunk extensions, leading spaces or more than 8 hex digits,
 * a missing CRLF, a trailer line that is not a header: each is a {@linkcode ChunkedBodyError},
 * and the connection carrying it cannot be read further.
 *
 * @module
 */

const CR = 13;
const LF = 10;

/** The longest size line read: 8 hex digits (under 4 GiB) and CRLF. */
const SIZE_LINE_LIMIT = 10;
/** The most trailer bytes read after the last chunk. */
const TRAILER_LIMIT = 8 * 1024;
const HEX = /^[0-9a-fA-F]{1,8}$/;
const TRAILER = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e]*$/;

/**
 * A body that breaks the chunked coding.
 *
 * @example Usage
 * ```ts
 * import { ChunkedBodyError } from "@prkdb/prkdb/server";
 * console.log(new ChunkedBodyError("a chunk size of 12 hex digits").name); // "ChunkedBodyError"
 * ```
 */
export class ChunkedBodyError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What was wrong.
   */
  constructor(detail: string) {
    super(`malformed chunked body: ${detail}`);
    this.name = "ChunkedBodyError";
  }
}

type State = "size" | "data" | "data-end" | "trailer" | "done";

/**
 * Reads a chunked body incrementally.
 *
 * @example Usage
 * ```ts
 * import { ChunkedBody } from "@prkdb/prkdb/server";
 * const body = new ChunkedBody();
 * const bytes = new TextEncoder().encode("3\r\nabc\r\n0\r\n\r\nNEXT");
 * const used = body.push(bytes, (data) => console.log(new TextDecoder().decode(data))); // "abc"
 * console.log(body.done, used); // true 15
 * ```
 */
export class ChunkedBody {
  #state: State = "size";
  /** Bytes of the current size or trailer line read so far. */
  #line = "";
  /** Trailer bytes read so far. */
  #trailerBytes = 0;
  /** Bytes left in the current chunk's data, or of its closing CRLF. */
  #left = 0;

  /** Whether the last chunk and its trailers have been read: the body is over. */
  get done(): boolean {
    return this.#state === "done";
  }

  /**
   * Takes the next bytes of the connection.
   *
   * @param bytes The bytes, in order after the previous ones.
   * @param data Called with each piece of the body, in order (a view into `bytes`).
   * @returns How many of `bytes` belong to the body: fewer than all only once it is
   *   {@linkcode done}, the rest being the connection's next request.
   * @throws {ChunkedBodyError} When the bytes break the coding.
   */
  push(bytes: Uint8Array, data: (piece: Uint8Array) => void): number {
    let i = 0;
    while (i < bytes.length && this.#state !== "done") {
      switch (this.#state) {
        case "data": {
          const n = Math.min(this.#left, bytes.length - i);
          data(bytes.subarray(i, i + n));
          i += n;
          this.#left -= n;
          if (this.#left === 0) {
            this.#state = "data-end";
            this.#left = 2;
          }
          break;
        }
        case "data-end": {
          const expected = this.#left === 2 ? CR : LF;
          if (bytes[i++] !== expected) throw new ChunkedBodyError("a chunk not followed by CRLF");
          if (--this.#left === 0) this.#state = "size";
          break;
        }
        case "size":
        case "trailer": {
          const end = bytes.indexOf(LF, i);
          const stop = end < 0 ? bytes.length : end + 1;
          // A size line is short; all trailer lines together are bounded too.
          const used = this.#state === "size" ? this.#line.length : this.#trailerBytes;
          if (used + (stop - i) > (this.#state === "size" ? SIZE_LINE_LIMIT : TRAILER_LIMIT)) {
            throw new ChunkedBodyError(
              this.#state === "size" ? "a chunk size line too long" : "trailers too long",
            );
          }
          this.#line += String.fromCharCode(...bytes.subarray(i, stop));
          if (this.#state === "trailer") this.#trailerBytes += stop - i;
          i = stop;
          if (end >= 0) this.#endLine();
          break;
        }
      }
    }
    return i;
  }

  /** A whole size or trailer line has been read. */
  #endLine(): void {
    const line = this.#line;
    this.#line = "";
    if (!line.endsWith("\r\n")) throw new ChunkedBodyError("a line not ended by CRLF");
    const text = line.slice(0, -2);
    if (this.#state === "trailer") {
      if (text === "") this.#state = "done";
      else if (!TRAILER.test(text)) throw new ChunkedBodyError("a trailer that is not a header");
      return;
    }
    if (!HEX.test(text)) throw new ChunkedBodyError(`a chunk size of ${JSON.stringify(text)}`);
    this.#left = parseInt(text, 16);
    this.#state = this.#left === 0 ? "trailer" : "data";
  }
}
