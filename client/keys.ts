/**
 * How the client turns keys and values into bytes: a string key is its UTF-8 bytes, a
 * `Uint8Array` key is used as it is, and an array is a tuple key (`partition/key_codec.ts`).
 * Anything else is refused with `invalid_argument`, never coerced.
 *
 * @module
 */
import { encodeKey, type Key, KeyError } from "../partition/key_codec.ts";
import { PrkDbError } from "./errors.ts";

/**
 * A key: a string (UTF-8 encoded), bytes, or a tuple of parts like `["users", 42]`.
 *
 * @example Usage
 * ```ts
 * import type { KeyLike } from "@prkdb/prkdb/client";
 * const keys: KeyLike[] = ["users:42", ["users", 42], new Uint8Array([1, 2])];
 * ```
 */
export type KeyLike = string | Uint8Array | Key;

/**
 * A value: a string (UTF-8 encoded) or bytes.
 *
 * @example Usage
 * ```ts
 * import type { ValueLike } from "@prkdb/prkdb/client";
 * const value: ValueLike = JSON.stringify({ name: "Ada" });
 * ```
 */
export type ValueLike = string | Uint8Array;

const te = new TextEncoder();

function shown(v: unknown): string {
  if (typeof v === "symbol") return "a symbol";
  if (v === null || v === undefined || typeof v === "number" || typeof v === "boolean") {
    return String(v);
  }
  if (typeof v === "bigint") return `${v}n`;
  if (Array.isArray(v)) return "an array";
  return typeof v === "object"
    ? `an object (${v.constructor?.name ?? "no prototype"})`
    : `a ${typeof v}`;
}

/**
 * A key's bytes.
 *
 * @param key The key.
 * @returns Its bytes.
 * @throws {PrkDbError} `invalid_argument` for anything but a string, bytes or a valid tuple.
 *
 * @example Usage
 * ```ts
 * import { keyBytes } from "@prkdb/prkdb/client";
 * console.log(keyBytes("ab")); // Uint8Array(2) [ 97, 98 ]
 * console.log(keyBytes(["ab"])[0]); // 255: a tuple key
 * ```
 */
export function keyBytes(key: KeyLike): Uint8Array {
  if (typeof key === "string") return te.encode(key);
  if (key instanceof Uint8Array) return key;
  if (Array.isArray(key)) {
    try {
      return encodeKey(key);
    } catch (error) {
      if (error instanceof KeyError) {
        throw new PrkDbError(`Invalid key: ${error.message}`, "invalid_argument", false);
      }
      throw error;
    }
  }
  throw new PrkDbError(
    `Invalid key: a key must be a string, a Uint8Array or an array of parts like ["users", 42], ` +
      `got ${shown(key)}`,
    "invalid_argument",
    false,
  );
}

/**
 * A value's bytes.
 *
 * @param value The value.
 * @returns Its bytes.
 * @throws {PrkDbError} `invalid_argument` for anything but a string or bytes.
 *
 * @example Usage
 * ```ts
 * import { valueBytes } from "@prkdb/prkdb/client";
 * console.log(valueBytes("hi")); // Uint8Array(2) [ 104, 105 ]
 * ```
 */
export function valueBytes(value: ValueLike): Uint8Array {
  if (typeof value === "string") return te.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new PrkDbError(
    `Invalid value: a value must be a string or a Uint8Array (serialize others, for example ` +
      `with JSON.stringify), got ${shown(value)}`,
    "invalid_argument",
    false,
  );
}
