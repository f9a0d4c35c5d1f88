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
 * Reads the frames of a stream as its chunks arrive: each complete message is yielded once whole,
 * however the chunks split it. A message over `maxBytes` is refused from its header, before its
 * bytes are buffered.
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
  // Chunks not yet consumed, and how many bytes they hold. A large message arriving in many
  // chunks is copied once, when it is whole, not once per chunk.
  let pending: Uint8Array[] = [];
  let size = 0;
  /** The next `n` bytes, joined (without consuming them). */
  const peek = (n: number): Uint8Array => {
    if (pending[0].length >= n) return pending[0].subarray(0, n);
    pending = [concat(pending, n)];
    return pending[0].subarray(0, n);
  };
  const consume = (n: number) => {
    size -= n;
    while (n > 0) {
      if (pending[0].length <= n) n -= pending.shift()!.length;
      else {
        pending[0] = pending[0].subarray(n);
        n = 0;
      }
    }
  };
  let need = 5; // bytes until the next step can run: a header, then a whole frame
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    pending.push(chunk);
    size += chunk.length;
    while (size >= need) {
      const header = peek(5);
      const flags = header[0];
      const length = new DataView(header.buffer, header.byteOffset + 1, 4).getUint32(0);
      if (length > maxBytes) {
        throw new EnvelopeError(
          "resource_exhausted",
          `a stream message of ${length} bytes exceeds the limit of ${maxBytes} bytes`,
        );
      }
      if (size < 5 + length) {
        need = 5 + length;
        break;
      }
      const message = peek(5 + length).subarray(5);
      consume(5 + length);
      need = 5;
      yield { flags, message };
    }
  }
  if (size > 0) {
    throw new EnvelopeError("invalid_argument", "the stream ended inside a message");
  }
}

/** Joins chunks into one buffer of at least `n` bytes (all of them). */
function concat(chunks: Uint8Array[], n: number): Uint8Array {
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
