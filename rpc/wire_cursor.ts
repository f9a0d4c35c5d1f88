/**
 * A cursor over protobuf wire bytes, for the hand-written batch reader
 * ([raft_read.ts](./raft_read.ts)). It refuses, with a {@linkcode WireFormatError}, everything a
 * reader may refuse and the generated reader lets through:
 *
 * - a nested message whose fields run past its own length (the generic reader notices only the
 *   end of the buffer);
 * - a known field with the wrong wire type (the generic reader reads it as its own type anyway);
 * - a varint beyond 64 bits, a 32-bit field beyond 32 bits (the generic reader drops the high
 *   bits), and groups, which proto3 never writes.
 *
 * The wire format, as much as this needs (see also [raft_wire.ts](./raft_wire.ts)): a field is a
 * tag, `(field number << 3) | wire type`, as a varint, then its value; wire type 0 is a varint,
 * 1 eight bytes, 2 a varint length and that many bytes, 5 four bytes.
 *
 * @module
 */

/** Wire type 0: a varint (integers, enums, booleans). */
export const VARINT = 0;
/** Wire type 2: length-delimited (bytes, strings, nested messages, packed lists). */
export const LEN = 2;
const I64 = 1;
const I32 = 5;

/**
 * Thrown for bytes that are not a message in the wire format the reader takes.
 *
 * @example Usage
 * ```ts
 * import { readRaftBatch } from "./raft_read.ts";
 * import { WireFormatError } from "./wire_cursor.ts";
 * try {
 *   readRaftBatch(new Uint8Array([0x08])); // a tag, and no value after it
 * } catch (error) {
 *   console.log(error instanceof WireFormatError); // true
 * }
 * ```
 */
export class WireFormatError extends Error {
  /** @param detail What is wrong, and where. */
  constructor(detail: string) {
    super(detail);
    this.name = "WireFormatError";
  }
}

/**
 * A position in the bytes, and where the message being read ends. No read goes past that end.
 *
 * @example Reading a varint field
 * ```ts
 * import { Cursor } from "./wire_cursor.ts";
 * const c = new Cursor(new Uint8Array([0x08, 0x96, 0x01])); // field 1 = 150
 * const tag = c.tag();
 * console.log(tag >>> 3, tag & 7, c.varint()); // 1 0 150
 * ```
 */
export class Cursor {
  /** The next byte to read. */
  pos = 0;
  /** Where the message being read ends. */
  end: number;

  /** @param buf The bytes. */
  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
  }

  /**
   * A varint of up to 64 bits, as a number: exact up to 2^53, which is more than anything the
   * Raft core takes (larger values are refused later, by the caller's checks).
   */
  varint(): number {
    const buf = this.buf;
    let b = buf[this.pos];
    if (this.pos < this.end && b < 128) {
      this.pos++;
      return b;
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireFormatError("a varint runs past its end");
      b = buf[this.pos++];
      // The tenth byte holds the 64th bit only.
      if (i === 9 && b > 1) throw new WireFormatError("a varint overflows 64 bits");
      value += (b & 127) * scale;
      if (b < 128) return value;
      scale *= 128;
    }
    throw new WireFormatError("a varint overflows 64 bits");
  }

  /** A varint that must fit in 32 bits. */
  uint32(): number {
    const v = this.varint();
    if (v > 0xffff_ffff) throw new WireFormatError(`${v} does not fit a 32-bit field`);
    return v;
  }

  /** A field's tag: its number is `tag >>> 3`, its wire type `tag & 7`. */
  tag(): number {
    const start = this.pos;
    const t = this.uint32();
    if (this.pos - start > 5) throw new WireFormatError("a tag longer than five bytes");
    if (t < 8) throw new WireFormatError("a field numbered 0");
    return t;
  }

  /** The length of a length-delimited field, checked against the end of its message. */
  length(): number {
    const n = this.uint32();
    if (n > this.end - this.pos) {
      throw new WireFormatError(`a field of ${n} bytes runs past its end`);
    }
    return n;
  }

  /** A length-delimited field's bytes (a view into the buffer, not a copy). */
  bytes(): Uint8Array {
    const n = this.length();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * Enters a nested message: its length comes first, and its fields must end exactly there.
   *
   * @returns The enclosing message's end, for {@linkcode Cursor.leave}.
   */
  enter(): number {
    const n = this.length();
    const outer = this.end;
    this.end = this.pos + n;
    return outer;
  }

  /**
   * Leaves a nested message, back to the enclosing one. No read goes past `end`, so the check
   * is a guard against a mistake in a reader.
   *
   * @param outer The enclosing message's end, from {@linkcode Cursor.enter}.
   */
  leave(outer: number): void {
    if (this.pos !== this.end) throw new WireFormatError("a nested message runs past its length");
    this.end = outer;
  }

  /** Steps over `n` bytes of the message being read. */
  advance(n: number): void {
    if (n > this.end - this.pos) throw new WireFormatError("a field runs past its end");
    this.pos += n;
  }

  /**
   * Skips a field the reader does not know, so a message from a newer sender still reads.
   *
   * @param wire Its wire type.
   * @param field Its number, for the error.
   */
  skip(wire: number, field: number): void {
    switch (wire) {
      case VARINT:
        this.varint();
        return;
      case I64:
        return this.advance(8);
      case LEN:
        return this.advance(this.length());
      case I32:
        return this.advance(4);
      default:
        throw new WireFormatError(`field ${field} has wire type ${wire}, which is not read`);
    }
  }

  /**
   * Fails unless a known field came with the wire type its kind uses.
   *
   * @param wire The wire type it came with.
   * @param want The one its kind uses.
   * @param field Its number, for the error.
   * @param what What it is, for the error.
   */
  expect(wire: number, want: number, field: number, what: string): void {
    if (wire !== want) {
      throw new WireFormatError(`${what} field ${field} has wire type ${wire}, not ${want}`);
    }
  }

  /**
   * Reads a nested message with `read`.
   *
   * @param read Reads the message's fields, up to `end`.
   * @returns What `read` returns.
   */
  within<T>(read: (c: Cursor) => T): T {
    const outer = this.enter();
    const value = read(this);
    this.leave(outer);
    return value;
  }
}
