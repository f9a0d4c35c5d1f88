/**
 * The limits a command must keep: key and value sizes, operations and bytes per write, version
 * shapes, session numbers and timeouts. The leader checks every proposal before appending it,
 * and a replica checks every entry it decodes.
 *
 * @module
 */
import {
  InvalidCommandError,
  type KvCommand,
  MAX_BATCH_BYTES,
  MAX_BATCH_OPERATIONS,
  MAX_EXPIRE_BATCH,
  MAX_KEY_BYTES,
  MAX_SESSION_TIMEOUT_MS,
  MAX_VALUE_BYTES,
} from "./command.ts";
import { isVersion } from "./version.ts";

/**
 * Checks one key against the key limits.
 *
 * @param key The key.
 * @param what How to name it in the error (default `key`).
 * @throws {InvalidCommandError} With the limit that was broken.
 *
 * @example Usage
 * ```ts
 * import { validateKey } from "@prkdb/prkdb/partition";
 * validateKey(new TextEncoder().encode("user:1"));
 * ```
 */
export function validateKey(key: Uint8Array, what = "key"): void {
  // keyFits is the rule; this says which part of it a key broke.
  if (keyFits(key)) return;
  if (key.byteLength === 0) throw new InvalidCommandError(`${what} is empty`);
  if (key.byteLength > MAX_KEY_BYTES) {
    throw new InvalidCommandError(
      `${what} is ${key.byteLength} bytes, the limit is ${MAX_KEY_BYTES}`,
    );
  }
}

/** Whether a key is within the limits: not empty, at most `MAX_KEY_BYTES`. */
function keyFits(key: Uint8Array): boolean {
  return key.byteLength > 0 && key.byteLength <= MAX_KEY_BYTES;
}

function safe(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidCommandError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

/**
 * Checks a command against the limits: key and value sizes, operations and bytes per write,
 * version shapes, session numbers and timeouts.
 *
 * @param command The command to check.
 * @throws {InvalidCommandError} With the limit that was broken.
 *
 * @example Usage
 * ```ts
 * import { validateCommand } from "@prkdb/prkdb/partition";
 * validateCommand({
 *   op: "write", time: 0, checks: [], mutations: [{ type: "delete", key: new Uint8Array([1]) }],
 * });
 * ```
 */
export function validateCommand(command: KvCommand): void {
  safe(command.time, "time");
  if (command.op === "openSession") {
    if (
      !Number.isSafeInteger(command.timeoutMs) || command.timeoutMs < 1 ||
      command.timeoutMs > MAX_SESSION_TIMEOUT_MS
    ) {
      throw new InvalidCommandError(
        `session timeout must be 1..${MAX_SESSION_TIMEOUT_MS} ms, got ${command.timeoutMs}`,
      );
    }
    return;
  }
  if (command.op === "expire") {
    if (command.keys.length === 0 || command.keys.length > MAX_EXPIRE_BATCH) {
      throw new InvalidCommandError(
        `an expire command removes 1..${MAX_EXPIRE_BATCH} keys, got ${command.keys.length}`,
      );
    }
    command.keys.forEach((k, i) => {
      validateKey(k.key, `expired key ${i}`);
      if (!isVersion(k.version)) {
        throw new InvalidCommandError(`expired key ${i}: "${k.version}" is not a version`);
      }
    });
    return;
  }
  const operations = command.checks.length + command.mutations.length;
  if (operations === 0) throw new InvalidCommandError("a write needs a check or a mutation");
  if (operations > MAX_BATCH_OPERATIONS) {
    throw new InvalidCommandError(
      `a write has ${operations} checks and mutations, the limit is ${MAX_BATCH_OPERATIONS}`,
    );
  }
  let bytes = 0;
  // Every write on every replica comes through here: the names in the errors are built only
  // when a check fails.
  for (let i = 0; i < command.checks.length; i++) {
    const c = command.checks[i];
    if (!keyFits(c.key)) validateKey(c.key, `check ${i}: key`);
    if (c.version !== null && !isVersion(c.version)) {
      throw new InvalidCommandError(
        `check ${i}: "${c.version}" is not a version (20 lowercase hex digits, or null for absent)`,
      );
    }
    bytes += c.key.byteLength;
  }
  for (let i = 0; i < command.mutations.length; i++) {
    const m = command.mutations[i];
    if (!keyFits(m.key)) {
      validateKey(m.key, command.mutations.length === 1 ? "key" : `mutation ${i}: key`);
    }
    bytes += m.key.byteLength;
    if (m.type === "set") {
      if (m.expiresAt !== undefined) safe(m.expiresAt, `mutation ${i}: expiresAt`);
      if (m.value.byteLength > MAX_VALUE_BYTES) {
        throw new InvalidCommandError(
          `value is ${m.value.byteLength} bytes, the limit is ${MAX_VALUE_BYTES}`,
        );
      }
      bytes += m.value.byteLength;
    }
  }
  if (bytes > MAX_BATCH_BYTES) {
    throw new InvalidCommandError(
      `a write carries ${bytes} bytes of keys and values, the limit is ${MAX_BATCH_BYTES}`,
    );
  }
  if (command.session) {
    const { id, seq, firstIncomplete } = command.session;
    safe(id, "session id");
    safe(seq, "session sequence number");
    safe(firstIncomplete, "session firstIncomplete");
    if (id === 0 || seq === 0) {
      throw new InvalidCommandError("session id and sequence number start at 1");
    }
    if (firstIncomplete > seq) {
      throw new InvalidCommandError(
        `firstIncomplete ${firstIncomplete} is past the write's own sequence number ${seq}`,
      );
    }
  }
}
