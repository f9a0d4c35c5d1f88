/**
 * The binary encoding of commands in the Raft log.
 *
 * @module
 */
import { type Check, InvalidCommandError, type KvCommand, type Mutation } from "./command.ts";
import { validateCommand } from "./command_validation.ts";

const OP_PUT_V1 = 1;
const OP_DELETE_V1 = 2;
const OP_WRITE = 3;
const OP_OPEN_SESSION = 4;
const OP_EXPIRE = 5;
const MUTATION_SET = 1;
const MUTATION_DELETE = 2;
const MUTATION_SET_EXPIRING = 3;

/** A version string is 20 ASCII digits on the wire. */
const VERSION_BYTES = 20;

/** Writes a version's 20 ASCII bytes at `at`; returns the offset after them. */
function putVersion(out: Uint8Array, at: number, version: string): number {
  for (let i = 0; i < VERSION_BYTES; i++) out[at + i] = version.charCodeAt(i);
  return at + VERSION_BYTES;
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
    for (const k of command.keys) size += 4 + k.key.byteLength + VERSION_BYTES;
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
      at = putVersion(out, at, k.version);
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
  for (const c of command.checks) size += 5 + c.key.byteLength + (c.version ? VERSION_BYTES : 0);
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
    out[at++] = c.version ? VERSION_BYTES : 0;
    if (c.version) {
      at = putVersion(out, at, c.version);
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
        if (length !== 0 && length !== VERSION_BYTES) {
          throw new InvalidCommandError(`check ${i}: version length ${length}`);
        }
        const version = length === 0 ? null : String.fromCharCode(...r.bytes(VERSION_BYTES));
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
        keys.push({ key, version: String.fromCharCode(...r.bytes(VERSION_BYTES)) });
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
