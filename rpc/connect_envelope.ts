/**
 * The framing of the Connect streaming protocol: each message on a stream is one flags byte, its
 * length as 4 bytes big-endian, then the message. Flag 0x02 marks the end of a stream (its body
 * is JSON: `{}` or `{"error": {...}}`); flag 0x01 a compressed message, which nothing here
 * negotiates.
 *
 * @module
 */

/** The end-of-stream flag. */
export const END_STREAM = 0x02;

/**
 * Frames one message.
 *
 * @param message The message's bytes.
 * @param flags The flags byte. Default 0, a plain message.
 * @returns The frame.
 *
 * @example Usage
 * ```ts
 * import { frame } from "./connect_envelope.ts";
 * console.log(frame(new Uint8Array([7])).length); // 6
 * ```
 */
export function frame(message: Uint8Array, flags = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + message.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** A frame that breaks the protocol or a limit. */
export class EnvelopeError extends Error {
  /** The Connect error code to answer with. */
  readonly code: "invalid_argument" | "resource_exhausted";

  /**
   * Creates the error.
   *
   * @param code The Connect error code.
   * @param message What was wrong.
   */
  constructor(code: "invalid_argument" | "resource_exhausted", message: string) {
    super(message);
    this.name = "EnvelopeError";
    this.code = code;
  }
}

/**
 * Splits a stream's bytes into frames as they arrive, however the network cut them: each
 * complete message is handed on once whole. A message over the limit is refused from its header,
 * before its bytes are buffered; a large message arriving in many chunks is copied once, when it
 * is whole, not once per chunk.
 *
 * @example Usage
 * ```ts
 * import { frame, FrameReader } from "./connect_envelope.ts";
 * const reader = new FrameReader(1024);
 * const bytes = frame(new Uint8Array([1, 2]));
 * reader.push(bytes.subarray(0, 3), (flags, message) => console.log(message));
 * reader.push(bytes.subarray(3), (flags, message) => console.log(message)); // Uint8Array(2) [ 1, 2 ]
 * ```
 */
export class FrameReader {
  readonly #maxBytes: number;
  /** Chunks not yet consumed, and how many bytes they hold. */
  #pending: Uint8Array[] = [];
  #size = 0;
  /** Bytes until the next step can run: a header, then a whole frame. */
  #need = 5;

  /**
   * Creates a reader.
   *
   * @param maxBytes The largest message.
   */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Whether bytes of an unfinished frame are held: a stream ending now ended inside one. */
  get partial(): boolean {
    return this.#size > 0;
  }

  /**
   * Takes the next bytes of the stream.
   *
   * @param chunk The bytes, in order after the previous ones.
   * @param each Called with each frame completed, in order.
   * @throws {EnvelopeError} For a message over the limit.
   */
  push(chunk: Uint8Array, each: (flags: number, message: Uint8Array) => void): void {
    if (chunk.length === 0) return;
    this.#pending.push(chunk);
    this.#size += chunk.length;
    while (this.#size >= this.#need) {
      const header = this.#peek(5);
      const flags = header[0];
      const length = new DataView(header.buffer, header.byteOffset + 1, 4).getUint32(0);
      if (length > this.#maxBytes) {
        throw new EnvelopeError(
          "resource_exhausted",
          `a stream message of ${length} bytes exceeds the limit of ${this.#maxBytes} bytes`,
        );
      }
      if (this.#size < 5 + length) {
        this.#need = 5 + length;
        return;
      }
      const message = this.#peek(5 + length).subarray(5);
      this.#consume(5 + length);
      this.#need = 5;
      each(flags, message);
    }
  }

  /**
   * Says the stream ended.
   *
   * @throws {EnvelopeError} When it ended inside a message.
   */
  end(): void {
    if (this.partial) {
      throw new EnvelopeError("invalid_argument", "the stream ended inside a message");
    }
  }

  /** The next `n` bytes, joined (without consuming them). */
  #peek(n: number): Uint8Array {
    if (this.#pending[0].length >= n) return this.#pending[0].subarray(0, n);
    this.#pending = [concat(this.#pending, n)];
    return this.#pending[0].subarray(0, n);
  }

  #consume(n: number): void {
    this.#size -= n;
    while (n > 0) {
      if (this.#pending[0].length <= n) n -= this.#pending.shift()!.length;
      else {
        this.#pending[0] = this.#pending[0].subarray(n);
        n = 0;
      }
    }
  }
}

/**
 * Reads the frames of a stream as its chunks arrive (see {@linkcode FrameReader}).
 *
 * @param chunks The stream's body.
 * @param maxBytes The largest message.
 * @returns Each frame's flags and message.
 * @throws {EnvelopeError} For a message over the limit, or a stream cut inside a frame.
 *
 * @example Usage
 * ```ts
 * import { frame, readFrames } from "./connect_envelope.ts";
 * const body = ReadableStream.from([frame(new Uint8Array([1, 2]))]);
 * for await (const f of readFrames(body, 1024)) console.log(f.message); // Uint8Array(2) [ 1, 2 ]
 * ```
 */
export async function* readFrames(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<{ flags: number; message: Uint8Array }> {
  const reader = new FrameReader(maxBytes);
  const whole: { flags: number; message: Uint8Array }[] = [];
  for await (const chunk of chunks) {
    try {
      reader.push(chunk, (flags, message) => whole.push({ flags, message }));
    } finally {
      // The frames before a refused one still arrive, and in order.
      yield* whole;
      whole.length = 0;
    }
  }
  reader.end();
}

/**
 * Joins chunks into one new buffer holding all of them (at least `n` bytes long).
 *
 * @param chunks The pieces, in order.
 * @param n The least length of the result. Default 0.
 * @returns The joined bytes.
 *
 * @example Usage
 * ```ts
 * import { concat } from "./connect_envelope.ts";
 * console.log(concat([new Uint8Array([1]), new Uint8Array([2, 3])])); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concat(chunks: readonly Uint8Array[], n = 0): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(Math.max(total, n));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
