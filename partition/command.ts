/**
 * The commands a partition's Raft log carries, and their binary encoding.
 *
 * Layout: `op (u8) | key length (u32 BE) | key | value` (the value only for puts).
 *
 * @module
 */

/** The largest key accepted, in bytes. */
export const MAX_KEY_BYTES = 1024;
/** The largest value accepted, in bytes. */
export const MAX_VALUE_BYTES = 256 * 1024;

/**
 * A key-value command.
 *
 * @example Usage
 * ```ts
 * import type { KvCommand } from "@prkdb/prkdb/partition";
 * const put: KvCommand = { op: "put", key: new Uint8Array([1]), value: new Uint8Array([2]) };
 * ```
 */
export type KvCommand =
  | { readonly op: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly op: "delete"; readonly key: Uint8Array };

/**
 * Thrown for a key or value that is empty or too large, or bytes that are not a command.
 *
 * @example Usage
 * ```ts
 * import { InvalidCommandError } from "@prkdb/prkdb/partition";
 * new InvalidCommandError("key is empty");
 * ```
 */
export class InvalidCommandError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What is wrong.
   */
  constructor(detail: string) {
    super(`Invalid command: ${detail}`);
    this.name = "InvalidCommandError";
  }
}

const OP_PUT = 1;
const OP_DELETE = 2;

/**
 * Checks a command against the size limits.
 *
 * @param command The command to check.
 * @throws {InvalidCommandError} With the limit that was broken.
 *
 * @example Usage
 * ```ts
 * import { validateCommand } from "@prkdb/prkdb/partition";
 * validateCommand({ op: "delete", key: new Uint8Array([1]) });
 * ```
 */
export function validateCommand(command: KvCommand): void {
  if (command.key.byteLength === 0) throw new InvalidCommandError("key is empty");
  if (command.key.byteLength > MAX_KEY_BYTES) {
    throw new InvalidCommandError(
      `key is ${command.key.byteLength} bytes, the limit is ${MAX_KEY_BYTES}`,
    );
  }
  if (command.op === "put" && command.value.byteLength > MAX_VALUE_BYTES) {
    throw new InvalidCommandError(
      `value is ${command.value.byteLength} bytes, the limit is ${MAX_VALUE_BYTES}`,
    );
  }
}

/**
 * Encodes a command for the Raft log, after validating it.
 *
 * @param command The command.
 * @returns Its bytes.
 *
 * @example Usage
 * ```ts
 * import { decodeCommand, encodeCommand } from "@prkdb/prkdb/partition";
 * const bytes = encodeCommand({ op: "delete", key: new Uint8Array([7]) });
 * console.log(decodeCommand(bytes).op); // "delete"
 * ```
 */
export function encodeCommand(command: KvCommand): Uint8Array {
  validateCommand(command);
  const valueLength = command.op === "put" ? command.value.byteLength : 0;
  const out = new Uint8Array(5 + command.key.byteLength + valueLength);
  const view = new DataView(out.buffer);
  out[0] = command.op === "put" ? OP_PUT : OP_DELETE;
  view.setUint32(1, command.key.byteLength);
  out.set(command.key, 5);
  if (command.op === "put") out.set(command.value, 5 + command.key.byteLength);
  return out;
}

/**
 * Decodes a command from the Raft log.
 *
 * @param bytes The encoded command.
 * @returns The command; key and value are views into `bytes`.
 * @throws {InvalidCommandError} When the bytes are not a command.
 *
 * @example Usage
 * ```ts
 * import { decodeCommand, encodeCommand } from "@prkdb/prkdb/partition";
 * const key = new TextEncoder().encode("k");
 * const cmd = decodeCommand(encodeCommand({ op: "put", key, value: key }));
 * console.log(cmd.op); // "put"
 * ```
 */
export function decodeCommand(bytes: Uint8Array): KvCommand {
  if (bytes.byteLength < 5) throw new InvalidCommandError(`${bytes.byteLength} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keyLength = view.getUint32(1);
  if (5 + keyLength > bytes.byteLength) {
    throw new InvalidCommandError(
      `key length ${keyLength} runs past the end (${bytes.byteLength} bytes)`,
    );
  }
  const key = bytes.subarray(5, 5 + keyLength);
  switch (bytes[0]) {
    case OP_PUT:
      return { op: "put", key, value: bytes.subarray(5 + keyLength) };
    case OP_DELETE:
      if (5 + keyLength !== bytes.byteLength) {
        throw new InvalidCommandError("delete carries a value");
      }
      return { op: "delete", key };
    default:
      throw new InvalidCommandError(`unknown operation ${bytes[0]}`);
  }
}
