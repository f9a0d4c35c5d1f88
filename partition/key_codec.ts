/**
 * Tuple keys, as in Deno KV: `["users", 42]`, encoded to bytes whose order is the tuple order,
 * so a range of keys is a range of bytes and a tuple prefix is a byte prefix.
 *
 * A tuple key's bytes start with `0xFF`, a byte that never occurs in UTF-8, so no tuple key can
 * equal a string key (a string key is its UTF-8 bytes). Then comes `{`, the encoded parts that
 * decide the partition, `}`, and the other parts: the existing hash-tag rule (only the bytes
 * between the first `{` and the next `}` are hashed) applies unchanged, because encoded parts
 * never contain a `}` byte. By default every part is hashed; `hashedParts: 2` hashes only the
 * first two, so `["user", 42, "profile"]` and `["user", 42, "orders"]` share a partition.
 *
 * Layout, order and limits are described in `docs/keys.md`.
 *
 * @example Encode, compare, decode
 * ```ts
 * import { decodeKey, encodeKey, encodeKeyPrefix } from "@prkdb/prkdb/client";
 * const a = encodeKey(["users", 9]);
 * const b = encodeKey(["users", 10]);
 * const at = a.findIndex((byte, i) => byte !== b[i]);
 * console.log(a[at] < b[at]); // true: 9 sorts before 10
 * const prefix = encodeKeyPrefix(["users"]);
 * console.log(prefix.every((byte, i) => byte === a[i])); // true
 * console.log(decodeKey(b).parts); // ["users", 10]
 * ```
 *
 * @module
 */

/** One part of a tuple key. */
export type KeyPart = string | number | bigint | boolean | Uint8Array;

/** A tuple key: its parts, compared one after another. */
export type Key = readonly KeyPart[];

/**
 * Options of {@linkcode encodeKey} and {@linkcode encodeKeyPrefix}.
 *
 * @example Keys of one user in one partition
 * ```ts
 * import { encodeKey, type KeyOptions } from "@prkdb/prkdb/client";
 * const byUser: KeyOptions = { hashedParts: 2 };
 * const profile = encodeKey(["user", 42, "profile"], byUser);
 * ```
 */
export interface KeyOptions {
  /**
   * How many leading parts decide the partition (default: all). Keys that agree on those parts
   * share a partition, so one atomic write can cover them. Keys of one collection should all use
   * the same count: it is part of the encoded key.
   */
  hashedParts?: number;
}

/**
 * A key that cannot be encoded: `part` is the position of the offending part (-1 for the key
 * as a whole).
 *
 * @example Usage
 * ```ts
 * import { encodeKey, KeyError } from "@prkdb/prkdb/client";
 * try {
 *   encodeKey(["users", NaN]);
 * } catch (e) {
 *   console.log(e instanceof KeyError && e.part); // 1
 * }
 * ```
 */
export class KeyError extends TypeError {
  /** The position of the offending part, or -1 when the key as a whole is wrong. */
  readonly part: number;

  /**
   * Creates the error.
   *
   * @param message What is wrong.
   * @param part The position of the offending part, or -1.
   */
  constructor(message: string, part: number) {
    super(message);
    this.name = "KeyError";
    this.part = part;
  }
}

/** The first byte of every tuple key. It never occurs in UTF-8, so strings cannot collide. */
export const TUPLE_KEY_MARKER = 0xff;
const OPEN = 0x7b; // "{": the hashed parts follow
const CLOSE = 0x7d; // "}": the hashed parts end; sorts before every part tag
const ESC = 0x7c; // "|": escapes "|" and "}" inside a part
const LOW = 0x01; // escapes 0x00 and 0x01 inside a part, so 0x00 can end one

/** Part tags, in the order the types sort. Every tag is above CLOSE. */
const TAG = {
  bytes: 0x80,
  string: 0x81,
  number: 0x82,
  bigint: 0x83,
  false: 0x84,
  true: 0x85,
} as const;

const te = new TextEncoder();
const td = new TextDecoder("utf-8", { fatal: true });

function describe(part: unknown): string {
  if (part === null || part === undefined) return String(part);
  if (Array.isArray(part)) return "an array (tuple keys cannot nest)";
  if (typeof part === "number") return String(part);
  if (typeof part === "object") return `an object (${part.constructor?.name ?? "no prototype"})`;
  return `a ${typeof part}`;
}

/**
 * Writes bytes so that none is `}` (so the hash-tag rule sees only the marker) and, for
 * variable-length parts, ends them with 0x00, which then occurs nowhere else. The escapes keep
 * byte order and are never a prefix of one another: 0x00 -> 01 01, 0x01 -> 01 02,
 * `|` -> `|` 01, `}` -> `|` 02.
 */
function pushEscaped(out: number[], bytes: Uint8Array, terminated: boolean): void {
  for (const b of bytes) {
    if (b === 0x00) out.push(LOW, 0x01);
    else if (b === LOW) out.push(LOW, 0x02);
    else if (b === ESC) out.push(ESC, 0x01);
    else if (b === CLOSE) out.push(ESC, 0x02);
    else out.push(b);
  }
  if (terminated) out.push(0x00);
}

const f64 = new DataView(new ArrayBuffer(8));

/** A number as 8 bytes whose unsigned order is numeric order (-0 is 0; NaN is refused). */
function numberBytes(n: number): Uint8Array {
  f64.setFloat64(0, n === 0 ? 0 : n);
  const b = new Uint8Array(f64.buffer.slice(0));
  if (b[0] & 0x80) { for (let i = 0; i < 8; i++) b[i] ^= 0xff; }
  else b[0] ^= 0x80;
  return b;
}

/** A bigint as a length-prefixed magnitude: longer positives sort later, longer negatives earlier. */
function bigintBytes(n: bigint, part: number): Uint8Array {
  const negative = n < 0n;
  let m = negative ? -n : n;
  const magnitude: number[] = [];
  while (m > 0n) {
    magnitude.unshift(Number(m & 0xffn));
    m >>= 8n;
  }
  if (magnitude.length > 127) {
    throw new KeyError(`Key part ${part} is a bigint of more than 127 bytes`, part);
  }
  const header = negative ? 0x80 - magnitude.length : 0x80 + magnitude.length;
  return Uint8Array.from([header, ...(negative ? magnitude.map((b) => 0xff - b) : magnitude)]);
}

function pushPart(out: number[], part: unknown, i: number): void {
  if (part instanceof Uint8Array) {
    out.push(TAG.bytes);
    pushEscaped(out, part, true);
  } else if (typeof part === "string") {
    if (!part.isWellFormed()) {
      throw new KeyError(`Key part ${i} is a string with a lone surrogate`, i);
    }
    out.push(TAG.string);
    pushEscaped(out, te.encode(part), true);
  } else if (typeof part === "number") {
    if (Number.isNaN(part)) throw new KeyError(`Key part ${i} is NaN`, i);
    out.push(TAG.number);
    pushEscaped(out, numberBytes(part), false);
  } else if (typeof part === "bigint") {
    out.push(TAG.bigint);
    pushEscaped(out, bigintBytes(part, i), false);
  } else if (typeof part === "boolean") {
    out.push(part ? TAG.true : TAG.false);
  } else {
    throw new KeyError(
      `Key part ${i} is ${describe(part)}: a part must be a string, number, bigint, boolean ` +
        "or Uint8Array",
      i,
    );
  }
}

function hashed(key: Key, options: KeyOptions): number {
  const n = options.hashedParts ?? key.length;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new KeyError(`hashedParts must be a positive integer, got ${n}`, -1);
  }
  return n;
}

function parts(key: unknown): Key {
  if (!Array.isArray(key)) {
    throw new KeyError(`A tuple key must be an array, got ${describe(key)}`, -1);
  }
  return key;
}

/**
 * Encodes a tuple key. Byte order of the results is the tuple order (see `docs/keys.md`).
 *
 * @param key The parts, at least one.
 * @param options How many leading parts decide the partition (default all).
 * @returns The key's bytes, starting with `0xFF`.
 * @throws {KeyError} For an empty tuple or a part that is not a string, number (not NaN),
 *   bigint, boolean or Uint8Array.
 *
 * @example Usage
 * ```ts
 * import { encodeKey } from "@prkdb/prkdb/client";
 * console.log(encodeKey(["a", true])); // Uint8Array(7) [ 255, 123, 129, 97, 0, 133, 125 ]
 * ```
 */
export function encodeKey(key: Key, options: KeyOptions = {}): Uint8Array {
  const p = parts(key);
  if (p.length === 0) throw new KeyError("A tuple key needs at least one part", -1);
  return encode(p, hashed(p, options), true);
}

/**
 * Encodes a tuple prefix: the result is a byte prefix of the encoding of every key that
 * starts with these parts and uses the same `hashedParts`, and of no other key. Use it to list
 * keys by prefix.
 *
 * @param prefix The leading parts (may be empty: every tuple key).
 * @param options The `hashedParts` the keys were written with (default: all their parts).
 * @returns The prefix bytes.
 * @throws {KeyError} For a part that cannot be encoded.
 *
 * @example Usage
 * ```ts
 * import { encodeKey, encodeKeyPrefix } from "@prkdb/prkdb/client";
 * const prefix = encodeKeyPrefix(["users"]);
 * const key = encodeKey(["users", 1]);
 * console.log(prefix.every((b, i) => key[i] === b)); // true
 * ```
 */
export function encodeKeyPrefix(prefix: Key, options: KeyOptions = {}): Uint8Array {
  const p = parts(prefix);
  const n = options.hashedParts === undefined ? Infinity : hashed(p, options);
  return encode(p, n, false);
}

function encode(key: Key, hashedParts: number, complete: boolean): Uint8Array {
  const out = [TUPLE_KEY_MARKER, OPEN];
  key.forEach((part, i) => {
    if (i === hashedParts) out.push(CLOSE);
    pushPart(out, part, i);
  });
  // A complete key closes its hashed parts; a prefix inside the hashed parts must not, since
  // longer keys continue with more parts there.
  if (complete && key.length <= hashedParts) out.push(CLOSE);
  else if (!complete && key.length === hashedParts) out.push(CLOSE);
  return Uint8Array.from(out);
}

/**
 * Whether bytes are a tuple key (they start with `0xFF`, which no string key does).
 *
 * @param key A key's bytes.
 * @returns Whether it is a tuple key.
 *
 * @example Usage
 * ```ts
 * import { encodeKey, isTupleKey } from "@prkdb/prkdb/client";
 * console.log(isTupleKey(encodeKey(["a"])), isTupleKey(new TextEncoder().encode("a"))); // true false
 * ```
 */
export function isTupleKey(key: Uint8Array): boolean {
  return key.length > 0 && key[0] === TUPLE_KEY_MARKER;
}

/**
 * Decodes a tuple key.
 *
 * @param key The bytes from {@linkcode encodeKey}.
 * @returns The parts and how many of them were hashed.
 * @throws {KeyError} When the bytes are not a well-formed tuple key.
 *
 * @example Usage
 * ```ts
 * import { decodeKey, encodeKey } from "@prkdb/prkdb/client";
 * const { parts, hashedParts } = decodeKey(encodeKey(["user", 7n, "x"], { hashedParts: 2 }));
 * console.log(parts, hashedParts); // [ "user", 7n, "x" ] 2
 * ```
 */
export function decodeKey(key: Uint8Array): { parts: KeyPart[]; hashedParts: number } {
  const bad = (why: string) => new KeyError(`Not a tuple key: ${why}`, -1);
  if (key[0] !== TUPLE_KEY_MARKER || key[1] !== OPEN) throw bad("it must start with FF 7B");
  const out: KeyPart[] = [];
  let hashedParts = -1;
  let i = 2;
  const unescape = (fixed: number | undefined): Uint8Array => {
    const bytes: number[] = [];
    while (fixed === undefined || bytes.length < fixed) {
      if (i >= key.length) throw bad("a part is cut short");
      const b = key[i++];
      if (b === 0x00) {
        if (fixed === undefined) return Uint8Array.from(bytes);
        throw bad("a stray 00 byte");
      } else if (b === ESC || b === LOW) {
        const e = key[i++];
        if (e !== 0x01 && e !== 0x02) throw bad("a bad escape");
        bytes.push(b === LOW ? e - 1 : e === 0x01 ? ESC : CLOSE);
      } else bytes.push(b);
    }
    return Uint8Array.from(bytes);
  };
  while (i < key.length) {
    const tag = key[i++];
    if (tag === CLOSE) {
      if (hashedParts >= 0) throw bad("two } markers");
      hashedParts = out.length;
      continue;
    }
    if (tag === TAG.bytes) out.push(unescape(undefined));
    else if (tag === TAG.string) out.push(td.decode(unescape(undefined)));
    else if (tag === TAG.number) {
      const b = unescape(8);
      if (b[0] & 0x80) b[0] ^= 0x80;
      else for (let j = 0; j < 8; j++) b[j] ^= 0xff;
      out.push(new DataView(b.buffer).getFloat64(0));
    } else if (tag === TAG.bigint) {
      const header = unescape(1)[0];
      const negative = header < 0x80;
      const length = negative ? 0x80 - header : header - 0x80;
      let m = 0n;
      for (const b of unescape(length)) m = (m << 8n) | BigInt(negative ? 0xff - b : b);
      out.push(negative ? -m : m);
    } else if (tag === TAG.false || tag === TAG.true) out.push(tag === TAG.true);
    else throw bad(`unknown part tag ${tag}`);
  }
  if (hashedParts < 1 || out.length === 0) throw bad("no hashed parts");
  return { parts: out, hashedParts };
}
