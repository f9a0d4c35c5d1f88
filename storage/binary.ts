/**
 * A growable byte writer and a bounds-checked reader, for the storage formats. Integers up to
 * 2^53 are written as two little-endian 32-bit halves.
 *
 * @module
 */

/** Appends fixed-width integers and byte strings to a growing buffer. */
export class ByteWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    this.#view.setUint32(this.#len, v, true);
    this.#len += 4;
    return this;
  }

  u64(v: number): this {
    this.u32(v >>> 0);
    return this.u32(Math.floor(v / 0x100000000));
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** Overwrites a u32 written earlier (for lengths and checksums). */
  patchU32(at: number, v: number): void {
    this.#view.setUint32(at, v, true);
  }

  /** A view of everything written (valid until the next write). */
  view(from = 0, to: number = this.#len): Uint8Array {
    return this.#buf.subarray(from, to);
  }
}

/** Thrown by {@linkcode ByteReader} when a field runs past the end. */
export class TruncatedError extends Error {}

/** Reads fixed-width integers and byte strings, checking bounds. */
export class ByteReader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  offset: number;

  constructor(buf: Uint8Array, offset = 0) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.offset = offset;
  }

  get remaining(): number {
    return this.#buf.length - this.offset;
  }

  #need(n: number): void {
    if (this.offset + n > this.#buf.length) {
      throw new TruncatedError(`needs ${n} bytes at offset ${this.offset}, has ${this.remaining}`);
    }
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.offset++];
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  u64(): number {
    const lo = this.u32();
    return lo + this.u32() * 0x100000000;
  }

  /** `n` bytes, as a view into the buffer. */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}
