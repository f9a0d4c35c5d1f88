/**
 * The commands a partition's Raft log carries, their limits and their binary encoding.
 *
 * Two kinds of command change the state machine:
 *
 * - a **write**: checks (a key must be at a version, or absent) and mutations (set or delete),
 *   applied all or nothing in one log entry. A put, a delete, a conditional put and an atomic
 *   batch are all writes. A write may name a client session and a sequence number, so that a
 *   retried write is applied at most once (Raft dissertation, section 6.3).
 * - **openSession**: registers a client session; the session's id is the entry's log index.
 *
 * Both carry `time`, the leader's clock when it proposed them. Replicas never read their own
 * clock while applying: session expiry follows the time written in the log, so every replica
 * expires the same sessions at the same index.
 *
 * Entries written by earlier versions (op 1, a put; op 2, a delete) still decode.
 *
 * @module
 */
import { isVersion } from "./version.ts";

/** The largest key accepted, in bytes. */
export const MAX_KEY_BYTES = 1024;
/** The largest value accepted, in bytes. */
export const MAX_VALUE_BYTES = 256 * 1024;
/** The most checks plus mutations in one write. */
export const MAX_BATCH_OPERATIONS = 128;
/** The most key and value bytes in one write, all operations together. */
export const MAX_BATCH_BYTES = 512 * 1024;
/** The longest idle time a session may ask for: one day. */
export const MAX_SESSION_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * A condition of a write: the key must be at `version`, or absent when `version` is `null`.
 *
 * @example Usage
 * ```ts
 * import type { Check } from "@prkdb/prkdb/partition";
 * const mustBeNew: Check = { key: new TextEncoder().encode("user:1"), version: null };
 * ```
 */
export interface Check {
  /** The key. */
  readonly key: Uint8Array;
  /** The version it must have, or `null` for "absent". */
  readonly version: string | null;
}

/**
 * One change of a write.
 *
 * @example Usage
 * ```ts
 * import type { Mutation } from "@prkdb/prkdb/partition";
 * const m: Mutation = { type: "delete", key: new TextEncoder().encode("user:1") };
 * ```
 */
export type Mutation =
  | {
    readonly type: "set";
    readonly key: Uint8Array;
    readonly value: Uint8Array;
    /** When the key expires, in leader time (ms since the epoch); absent: never. */
    readonly expiresAt?: number;
  }
  | { readonly type: "delete"; readonly key: Uint8Array };

/**
 * The session a write belongs to, so the state machine can apply it at most once.
 *
 * @example Usage
 * ```ts
 * import type { SessionRef } from "@prkdb/prkdb/partition";
 * const s: SessionRef = { id: 12, seq: 5, firstIncomplete: 4 };
 * ```
 */
export interface SessionRef {
  /** The session's id: the log index of the entry that opened it. */
  readonly id: number;
  /** The write's sequence number in the session; a retry resends the same one. */
  readonly seq: number;
  /**
   * The client has every result below this sequence number: the state machine may forget them.
   */
  readonly firstIncomplete: number;
}

/**
 * A key-value command.
 *
 * @example Usage
 * ```ts
 * import type { KvCommand } from "@prkdb/prkdb/partition";
 * const put: KvCommand = {
 *   op: "write", time: 0, checks: [],
 *   mutations: [{ type: "set", key: new Uint8Array([1]), value: new Uint8Array([2]) }],
 * };
 * ```
 */
export type KvCommand =
  | {
    readonly op: "write";
    /** The leader's clock at proposal, in milliseconds since the epoch. */
    readonly time: number;
    readonly session?: SessionRef;
    readonly checks: readonly Check[];
    readonly mutations: readonly Mutation[];
  }
  | {
    readonly op: "openSession";
    /** The leader's clock at proposal, in milliseconds since the epoch. */
    readonly time: number;
    /** How long the session may stay idle before it expires. */
    readonly timeoutMs: number;
  }
  | {
    readonly op: "expire";
    /** The leader's clock at proposal, in milliseconds since the epoch. */
    readonly time: number;
    /** Keys the leader found expired, each at the version it expired at. */
    readonly keys: readonly { readonly key: Uint8Array; readonly version: string }[];
  };

/**
 * An unconditional put, as a write command without a session.
 *
 * @param key The key.
 * @param value The value.
 * @param time The leader's clock (default 0).
 * @returns The command.
 *
 * @example Usage
 * ```ts
 * import { encodeCommand, putCommand } from "@prkdb/prkdb/partition";
 * const te = new TextEncoder();
 * console.log(encodeCommand(putCommand(te.encode("k"), te.encode("v")))[0]); // 3
 * ```
 */
export function putCommand(key: Uint8Array, value: Uint8Array, time = 0): KvCommand {
  return { op: "write", time, checks: [], mutations: [{ type: "set", key, value }] };
}

/**
 * An unconditional delete, as a write command without a session.
 *
 * @param key The key.
 * @param time The leader's clock (default 0).
 * @returns The command.
 *
 * @example Usage
 * ```ts
 * import { deleteCommand } from "@prkdb/prkdb/partition";
 * console.log(deleteCommand(new Uint8Array([1])).op); // "write"
 * ```
 */
export function deleteCommand(key: Uint8Array, time = 0): KvCommand {
  return { op: "write", time, checks: [], mutations: [{ type: "delete", key }] };
}

/**
 * Thrown for a command that breaks a limit or is malformed, and for bytes that are not a
 * command.
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

const OP_PUT_V1 = 1;
const OP_DELETE_V1 = 2;
const OP_WRITE = 3;
const OP_OPEN_SESSION = 4;
const OP_EXPIRE = 5;
const MUTATION_SET = 1;
const MUTATION_DELETE = 2;
const MUTATION_SET_EXPIRING = 3;
/** The most keys one expire command removes. */
export const MAX_EXPIRE_BATCH = 256;

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
  if (key.byteLength === 0) throw new InvalidCommandError(`${what} is empty`);
  if (key.byteLength > MAX_KEY_BYTES) {
    throw new InvalidCommandError(
      `${what} is ${key.byteLength} bytes, the limit is ${MAX_KEY_BYTES}`,
    );
  }
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
  command.checks.forEach((c, i) => {
    validateKey(c.key, `check ${i}: key`);
    if (c.version !== null && !isVersion(c.version)) {
      throw new InvalidCommandError(
        `check ${i}: "${c.version}" is not a version (20 lowercase hex digits, or null for absent)`,
      );
    }
    bytes += c.key.byteLength;
  });
  command.mutations.forEach((m, i) => {
    validateKey(m.key, command.mutations.length === 1 ? "key" : `mutation ${i}: key`);
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
  });
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

/**
 * Encodes a command for the Raft log, after validating it.
 *
 * Layout of a write (numbers big-endian; 64-bit numbers as IEEE doubles, which hold every
 * safe integer exactly):
 *
 * ```text
 * op=3 (u8) | time (f64) | session id (f64, 0 = none) | seq (f64) | firstIncomplete (f64)
 *   | checks (u16) | mutations (u16)
 *   | checks x [key length (u32) | key | version length (u8: 0 absent, 20) | version]
 *   | mutations x [type (u8: 1 set, 2 delete) | key length (u32) | key | set: value length (u32) | value]
 * ```
 *
 * An openSession is `op=4 (u8) | time (f64) | timeoutMs (f64)`.
 *
 * @param command The command.
 * @returns Its bytes.
 *
 * @example Usage
 * ```ts
 * import { decodeCommand, encodeCommand } from "@prkdb/prkdb/partition";
 * const bytes = encodeCommand({ op: "openSession", time: 0, timeoutMs: 60_000 });
 * console.log(decodeCommand(bytes).op); // "openSession"
 * ```
 */
export function encodeCommand(command: KvCommand): Uint8Array {
  validateCommand(command);
  if (command.op === "expire") {
    let size = 1 + 8 + 2;
    for (const k of command.keys) size += 4 + k.key.byteLength + 20;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    out[0] = OP_EXPIRE;
    view.setFloat64(1, command.time);
    view.setUint16(9, command.keys.length);
    let at = 11;
    for (const k of command.keys) {
      view.setUint32(at, k.key.byteLength);
      out.set(k.key, at + 4);
      at += 4 + k.key.byteLength;
      for (let i = 0; i < 20; i++) out[at + i] = k.version.charCodeAt(i);
      at += 20;
    }
    return out;
  }
  if (command.op === "openSession") {
    const out = new Uint8Array(17);
    const view = new DataView(out.buffer);
    out[0] = OP_OPEN_SESSION;
    view.setFloat64(1, command.time);
    view.setFloat64(9, command.timeoutMs);
    return out;
  }
  let size = 1 + 32 + 4;
  for (const c of command.checks) size += 5 + c.key.byteLength + (c.version ? 20 : 0);
  for (const m of command.mutations) {
    size += 5 + m.key.byteLength +
      (m.type === "set" ? 4 + m.value.byteLength + (m.expiresAt !== undefined ? 8 : 0) : 0);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = OP_WRITE;
  view.setFloat64(1, command.time);
  view.setFloat64(9, command.session?.id ?? 0);
  view.setFloat64(17, command.session?.seq ?? 0);
  view.setFloat64(25, command.session?.firstIncomplete ?? 0);
  view.setUint16(33, command.checks.length);
  view.setUint16(35, command.mutations.length);
  let at = 37;
  for (const c of command.checks) {
    view.setUint32(at, c.key.byteLength);
    out.set(c.key, at + 4);
    at += 4 + c.key.byteLength;
    out[at++] = c.version ? 20 : 0;
    if (c.version) {
      for (let i = 0; i < 20; i++) out[at + i] = c.version.charCodeAt(i);
      at += 20;
    }
  }
  for (const m of command.mutations) {
    out[at++] = m.type === "delete"
      ? MUTATION_DELETE
      : m.expiresAt !== undefined
      ? MUTATION_SET_EXPIRING
      : MUTATION_SET;
    view.setUint32(at, m.key.byteLength);
    out.set(m.key, at + 4);
    at += 4 + m.key.byteLength;
    if (m.type === "set" && m.expiresAt !== undefined) {
      view.setFloat64(at, m.expiresAt);
      at += 8;
    }
    if (m.type === "set") {
      view.setUint32(at, m.value.byteLength);
      out.set(m.value, at + 4);
      at += 4 + m.value.byteLength;
    }
  }
  return out;
}

/** Reads fields in order, failing with the offset when the bytes run out. */
class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.at + n > this.#bytes.byteLength) {
      throw new InvalidCommandError(
        `${n} bytes needed at offset ${this.at}, only ${this.#bytes.byteLength - this.at} left`,
      );
    }
  }
  u8(): number {
    this.#need(1);
    return this.#bytes[this.at++];
  }
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  f64(): number {
    this.#need(8);
    const v = this.#view.getFloat64(this.at);
    this.at += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    const v = this.#bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  end(): void {
    if (this.at !== this.#bytes.byteLength) {
      throw new InvalidCommandError(
        `${this.#bytes.byteLength - this.at} unexpected trailing bytes`,
      );
    }
  }
}

/**
 * Decodes and validates a command from the Raft log.
 *
 * @param bytes The encoded command.
 * @returns The command; keys and values are views into `bytes`.
 * @throws {InvalidCommandError} When the bytes are not a valid command.
 *
 * @example Usage
 * ```ts
 * import { decodeCommand, encodeCommand } from "@prkdb/prkdb/partition";
 * const key = new TextEncoder().encode("k");
 * const cmd = decodeCommand(encodeCommand({
 *   op: "write", time: 0, checks: [], mutations: [{ type: "set", key, value: key }],
 * }));
 * console.log(cmd.op); // "write"
 * ```
 */
export function decodeCommand(bytes: Uint8Array): KvCommand {
  const r = new Reader(bytes);
  const op = r.u8();
  let command: KvCommand;
  switch (op) {
    case OP_PUT_V1:
    case OP_DELETE_V1: {
      const key = r.bytes(r.u32());
      const mutation: Mutation = op === OP_PUT_V1
        ? { type: "set", key, value: r.bytes(bytes.byteLength - r.at) }
        : { type: "delete", key };
      command = { op: "write", time: 0, checks: [], mutations: [mutation] };
      break;
    }
    case OP_WRITE: {
      const time = r.f64();
      const id = r.f64();
      const seq = r.f64();
      const firstIncomplete = r.f64();
      const checkCount = r.u16();
      const mutationCount = r.u16();
      const checks: Check[] = [];
      for (let i = 0; i < checkCount; i++) {
        const key = r.bytes(r.u32());
        const length = r.u8();
        if (length !== 0 && length !== 20) {
          throw new InvalidCommandError(`check ${i}: version length ${length}`);
        }
        const version = length === 0 ? null : String.fromCharCode(...r.bytes(20));
        checks.push({ key, version });
      }
      const mutations: Mutation[] = [];
      for (let i = 0; i < mutationCount; i++) {
        const type = r.u8();
        const key = r.bytes(r.u32());
        if (type === MUTATION_SET) mutations.push({ type: "set", key, value: r.bytes(r.u32()) });
        else if (type === MUTATION_SET_EXPIRING) {
          const expiresAt = r.f64();
          mutations.push({ type: "set", key, value: r.bytes(r.u32()), expiresAt });
        } else if (type === MUTATION_DELETE) mutations.push({ type: "delete", key });
        else throw new InvalidCommandError(`mutation ${i}: unknown type ${type}`);
      }
      command = {
        op: "write",
        time,
        session: id === 0 ? undefined : { id, seq, firstIncomplete },
        checks,
        mutations,
      };
      break;
    }
    case OP_OPEN_SESSION:
      command = { op: "openSession", time: r.f64(), timeoutMs: r.f64() };
      break;
    case OP_EXPIRE: {
      const time = r.f64();
      const count = r.u16();
      const keys: { key: Uint8Array; version: string }[] = [];
      for (let i = 0; i < count; i++) {
        const key = r.bytes(r.u32());
        keys.push({ key, version: String.fromCharCode(...r.bytes(20)) });
      }
      command = { op: "expire", time, keys };
      break;
    }
    default:
      throw new InvalidCommandError(`unknown operation ${op}`);
  }
  r.end();
  validateCommand(command);
  return command;
}
