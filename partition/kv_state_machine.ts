/**
 * The replicated state machine of one partition: an ordered map from keys to versioned values
 * plus the client session table, changed only by applying committed log entries, in log order
 * (Raft section 5.3, "state machine safety": every replica applies the same commands in the
 * same order, so every replica reaches the same state and the same results).
 *
 * @module
 */
import type { Entry } from "../raft/entry.ts";
import { ByteReader, ByteWriter } from "../storage/binary.ts";
import { decodeCommand, type KvCommand } from "./command.ts";
import { SessionTable, type WriteOutcome } from "./sessions.ts";
import { formatVersion } from "./version.ts";

/**
 * What applying one entry did.
 *
 * - `noop`: a leader's no-op entry.
 * - `write`: a write, with its outcome; `duplicate` when a session had already applied it
 *   and the stored outcome was returned instead.
 * - `openSession`: a session opened, with its id (the entry's index).
 *
 * @example Usage
 * ```ts
 * import type { ApplyResult } from "@prkdb/prkdb/partition";
 * const r: ApplyResult = { index: 3, op: "noop" };
 * ```
 */
export type ApplyResult =
  | { readonly index: number; readonly op: "noop" }
  | {
    readonly index: number;
    readonly op: "write";
    readonly outcome: WriteOutcome;
    readonly duplicate: boolean;
  }
  | { readonly index: number; readonly op: "openSession"; readonly sessionId: number };

/**
 * A value with the version of the write that stored it.
 *
 * @example Usage
 * ```ts
 * import type { VersionedValue } from "@prkdb/prkdb/partition";
 * const v: VersionedValue = { value: new Uint8Array([1]), version: "0000000000000000002a" };
 * ```
 */
export interface VersionedValue {
  /** The value. */
  readonly value: Uint8Array;
  /** The version of its last write. */
  readonly version: string;
}

interface Stored {
  readonly value: Uint8Array;
  readonly index: number;
}

const SNAPSHOT_V1 = 1;
const SNAPSHOT_V2 = 2;

function keyString(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]);
  return s;
}

function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

/**
 * A partition's key-value state.
 *
 * @example Apply a write and read it back with its version
 * ```ts
 * import { encodeCommand, KvStateMachine } from "@prkdb/prkdb/partition";
 * const te = new TextEncoder();
 * const sm = new KvStateMachine(2);
 * sm.apply({ index: 1, term: 1, type: "normal", data: encodeCommand({
 *   op: "write", time: 0, checks: [],
 *   mutations: [{ type: "set", key: te.encode("a"), value: te.encode("1") }],
 * }) });
 * console.log(sm.read(te.encode("a"))?.version); // "00020000000000000001"
 * ```
 */
export class KvStateMachine {
  /** The partition whose state this is; versions name it. */
  readonly partition: number;
  readonly #data = new Map<string, Stored>();
  #sessions = new SessionTable();
  #appliedIndex = 0;

  /**
   * Creates an empty state machine.
   *
   * @param partition The partition it belongs to (default 0).
   */
  constructor(partition = 0) {
    this.partition = partition;
  }

  /** The index of the last entry applied. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** How many keys are stored. */
  get size(): number {
    return this.#data.size;
  }

  /** How many client sessions are open. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /**
   * Applies one committed entry. Entries must arrive in log order, each exactly once.
   *
   * @param entry The committed entry.
   * @returns What it did.
   * @throws {RangeError} When the entry is out of order.
   * @throws {InvalidCommandError} When a normal entry is not a command (the leader validates
   *   every proposal, so this means a damaged or forged log).
   */
  apply(entry: Entry): ApplyResult {
    if (entry.index !== this.#appliedIndex + 1) {
      throw new RangeError(`Entry ${entry.index} applied out of order after ${this.#appliedIndex}`);
    }
    if (entry.type === "noop") {
      this.#appliedIndex = entry.index;
      return { index: entry.index, op: "noop" };
    }
    const command = decodeCommand(entry.data);
    this.#appliedIndex = entry.index;
    if (command.op === "openSession") {
      this.#sessions.open(entry.index, command.time, command.timeoutMs);
      return { index: entry.index, op: "openSession", sessionId: entry.index };
    }
    if (!command.session) {
      this.#sessions.advance(command.time);
      const outcome = this.#write(entry.index, command);
      return { index: entry.index, op: "write", outcome, duplicate: false };
    }
    const verdict = this.#sessions.admit(command.session, command.time);
    if (verdict.kind !== "apply") {
      return {
        index: entry.index,
        op: "write",
        outcome: verdict.outcome,
        duplicate: verdict.kind === "duplicate",
      };
    }
    const outcome = this.#write(entry.index, command);
    this.#sessions.record(command.session, outcome);
    return { index: entry.index, op: "write", outcome, duplicate: false };
  }

  /** Checks every condition, then applies every mutation: all or nothing. */
  #write(index: number, command: KvCommand & { op: "write" }): WriteOutcome {
    for (let i = 0; i < command.checks.length; i++) {
      const check = command.checks[i];
      const stored = this.#data.get(keyString(check.key));
      const version = stored ? formatVersion(this.partition, stored.index) : null;
      if (version !== check.version) return { kind: "checkFailed", check: i };
    }
    const found: boolean[] = [];
    for (const m of command.mutations) {
      const key = keyString(m.key);
      found.push(this.#data.has(key));
      if (m.type === "set") this.#data.set(key, { value: m.value.slice(), index });
      else this.#data.delete(key);
    }
    return { kind: "ok", index, found };
  }

  /**
   * Serializes the whole state, for a snapshot.
   *
   * ```text
   * version (u8 = 2) | appliedIndex (u64) | count (u32)
   *   | count x [key length (u32) | key | value length (u32) | value | index (u64)]
   *   | session table length (u32) | session table
   * ```
   *
   * Integers are little-endian; 64-bit ones as two 32-bit halves.
   *
   * @returns The snapshot bytes.
   */
  snapshot(): Uint8Array {
    const w = new ByteWriter();
    w.u8(SNAPSHOT_V2).u64(this.#appliedIndex).u32(this.#data.size);
    for (const [key, stored] of this.#data) {
      w.u32(key.length).bytes(keyBytes(key)).u32(stored.value.length).bytes(stored.value)
        .u64(stored.index);
    }
    const sessions = this.#sessions.toBytes();
    w.u32(sessions.length).bytes(sessions);
    return w.view().slice();
  }

  /**
   * Replaces the whole state with a snapshot's. Snapshots of the first format (no versions, no
   * sessions) are read too: their keys get the snapshot's index as version.
   *
   * @param data Bytes from {@linkcode snapshot}.
   * @throws {RangeError} When the bytes are not a snapshot this version reads; the state is
   *   then unchanged.
   */
  restore(data: Uint8Array): void {
    const fail = (why: string): never => {
      throw new RangeError(`Invalid state machine snapshot: ${why}`);
    };
    const r = new ByteReader(data);
    const next = new Map<string, Stored>();
    const sessions = new SessionTable();
    let applied = 0;
    try {
      const format = r.u8();
      if (format !== SNAPSHOT_V1 && format !== SNAPSHOT_V2) fail(`unknown format ${format}`);
      applied = r.u64();
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const key = keyString(r.bytes(r.u32()));
        const value = r.bytes(r.u32()).slice();
        next.set(key, { value, index: format === SNAPSHOT_V1 ? applied : r.u64() });
      }
      if (format === SNAPSHOT_V2) sessions.fromBytes(r.bytes(r.u32()));
    } catch (error) {
      if (error instanceof RangeError && error.message.startsWith("Invalid")) throw error;
      fail((error as Error).message);
    }
    if (r.remaining !== 0) fail(`${r.remaining} unexpected trailing bytes`);
    this.#data.clear();
    for (const [k, v] of next) this.#data.set(k, v);
    this.#sessions = sessions;
    this.#appliedIndex = applied;
  }

  /**
   * Reads a key's value from this replica's state.
   *
   * @param key The key.
   * @returns The value, or `undefined` when absent.
   */
  get(key: Uint8Array): Uint8Array | undefined {
    return this.#data.get(keyString(key))?.value;
  }

  /**
   * Reads a key's value and version from this replica's state.
   *
   * @param key The key.
   * @returns The value and version, or `undefined` when absent.
   */
  read(key: Uint8Array): VersionedValue | undefined {
    const stored = this.#data.get(keyString(key));
    return stored
      ? { value: stored.value, version: formatVersion(this.partition, stored.index) }
      : undefined;
  }
}
