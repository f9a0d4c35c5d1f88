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

/** The most keys one expire command removes. */
export const MAX_EXPIRE_BATCH = 256;

export { validateCommand, validateKey } from "./command_validation.ts";
export { decodeCommand, encodeCommand } from "./command_codec.ts";
