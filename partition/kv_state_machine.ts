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
import { SortedKeys } from "./sorted_keys.ts";
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
    /** What changed: one per mutation when applied, none otherwise. */
    readonly changes: readonly Change[];
  }
  | { readonly index: number; readonly op: "openSession"; readonly sessionId: number }
  | { readonly index: number; readonly op: "expire"; readonly changes: readonly Change[] };

/**
 * One key's change, as watchers see it: a put with its value, or a delete (an expiry too).
 *
 * @example Usage
 * ```ts
 * import type { Change } from "@prkdb/prkdb/partition";
 * const c: Change = { type: "delete", key: new Uint8Array([1]), index: 9 };
 * ```
 */
export interface Change {
  /** What happened to the key. */
  readonly type: "put" | "delete";
  /** The key. */
  readonly key: Uint8Array;
  /** The new value, for a put. */
  readonly value?: Uint8Array;
  /** The log index of the entry that made the change: with the partition, its version. */
  readonly index: number;
}

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
  /** When it expires, in log time (ms since the epoch); 0 for never. */
  readonly expiresAt: number;
}

const SNAPSHOT_V1 = 1;
const SNAPSHOT_V2 = 2;
const SNAPSHOT_V3 = 3;

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
  readonly #order = new SortedKeys();
  /** Keys that carry an expiry time: the few the leader has to look at when it expires keys. */
  readonly #expiring = new Set<string>();
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
    if (entry.type !== "normal") {
      // A leader's no-op or a membership change: nothing for the key-value state.
      this.#appliedIndex = entry.index;
      return { index: entry.index, op: "noop" };
    }
    const command = decodeCommand(entry.data);
    this.#appliedIndex = entry.index;
    if (command.op === "openSession") {
      this.#sessions.open(entry.index, command.time, command.timeoutMs);
      return { index: entry.index, op: "openSession", sessionId: entry.index };
    }
    if (command.op === "expire") {
      this.#sessions.advance(command.time);
      return { index: entry.index, op: "expire", changes: this.#expire(entry.index, command) };
    }
    if (!command.session) {
      this.#sessions.advance(command.time);
      const changes: Change[] = [];
      const outcome = this.#write(entry.index, command, changes);
      return { index: entry.index, op: "write", outcome, duplicate: false, changes };
    }
    const verdict = this.#sessions.admit(command.session, command.time);
    if (verdict.kind !== "apply") {
      return {
        index: entry.index,
        op: "write",
        outcome: verdict.outcome,
        duplicate: verdict.kind === "duplicate",
        changes: [],
      };
    }
    const changes: Change[] = [];
    const outcome = this.#write(entry.index, command, changes);
    this.#sessions.record(command.session, outcome);
    return { index: entry.index, op: "write", outcome, duplicate: false, changes };
  }

  /** The key's stored value if it has not expired at `now`. */
  #live(key: string, now: number): Stored | undefined {
    const stored = this.#data.get(key);
    return stored && (stored.expiresAt === 0 || stored.expiresAt > now) ? stored : undefined;
  }

  #set(key: string, stored: Stored): void {
    if (!this.#data.has(key)) this.#order.insert(key);
    this.#data.set(key, stored);
    if (stored.expiresAt > 0) this.#expiring.add(key);
    else this.#expiring.delete(key);
  }

  #remove(key: string): void {
    if (this.#data.delete(key)) this.#order.delete(key);
    this.#expiring.delete(key);
  }

  /** Removes the keys the leader found expired, if they are still at that version and expired. */
  #expire(index: number, command: KvCommand & { op: "expire" }): Change[] {
    const now = this.#sessions.now;
    const changes: Change[] = [];
    for (const { key: bytes, version } of command.keys) {
      const key = keyString(bytes);
      const stored = this.#data.get(key);
      if (!stored || formatVersion(this.partition, stored.index) !== version) continue;
      if (stored.expiresAt === 0 || stored.expiresAt > now) continue;
      this.#remove(key);
      changes.push({ type: "delete", key: bytes, index });
    }
    return changes;
  }

  /**
   * Checks every condition, then applies every mutation: all or nothing. A key past its expiry
   * (in log time) counts as absent, whether or not the leader has removed it yet.
   */
  #write(index: number, command: KvCommand & { op: "write" }, changes: Change[]): WriteOutcome {
    const now = this.#sessions.now;
    for (let i = 0; i < command.checks.length; i++) {
      const check = command.checks[i];
      const stored = this.#live(keyString(check.key), now);
      const version = stored ? formatVersion(this.partition, stored.index) : null;
      if (version !== check.version) return { kind: "checkFailed", check: i };
    }
    const found: boolean[] = [];
    for (const m of command.mutations) {
      const key = keyString(m.key);
      found.push(this.#live(key, now) !== undefined);
      if (m.type === "set") {
        this.#set(key, { value: m.value.slice(), index, expiresAt: m.expiresAt ?? 0 });
        changes.push({ type: "put", key: m.key, value: m.value, index });
      } else {
        this.#remove(key);
        changes.push({ type: "delete", key: m.key, index });
      }
    }
    return { kind: "ok", index, found };
  }

  /**
   * Serializes the whole state, for a snapshot.
   *
   * ```text
   * version (u8 = 3) | appliedIndex (u64) | count (u32)
   *   | count x [key length (u32) | key | value length (u32) | value | index (u64) | expiresAt (u64)]
   *   | session table length (u32) | session table
   * ```
   *
   * Integers are little-endian; 64-bit ones as two 32-bit halves.
   *
   * @returns The snapshot bytes.
   */
  snapshot(): Uint8Array {
    const w = new ByteWriter();
    w.u8(SNAPSHOT_V3).u64(this.#appliedIndex).u32(this.#data.size);
    for (const [key, stored] of this.#data) {
      w.u32(key.length).bytes(keyBytes(key)).u32(stored.value.length).bytes(stored.value)
        .u64(stored.index).u64(stored.expiresAt);
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
      if (format < SNAPSHOT_V1 || format > SNAPSHOT_V3) fail(`unknown format ${format}`);
      applied = r.u64();
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const key = keyString(r.bytes(r.u32()));
        const value = r.bytes(r.u32()).slice();
        const index = format === SNAPSHOT_V1 ? applied : r.u64();
        next.set(key, { value, index, expiresAt: format === SNAPSHOT_V3 ? r.u64() : 0 });
      }
      if (format >= SNAPSHOT_V2) sessions.fromBytes(r.bytes(r.u32()));
    } catch (error) {
      if (error instanceof RangeError && error.message.startsWith("Invalid")) throw error;
      fail((error as Error).message);
    }
    if (r.remaining !== 0) fail(`${r.remaining} unexpected trailing bytes`);
    this.#data.clear();
    this.#expiring.clear();
    for (const [k, v] of next) {
      this.#data.set(k, v);
      if (v.expiresAt > 0) this.#expiring.add(k);
    }
    this.#order.reset(next.keys());
    this.#sessions = sessions;
    this.#appliedIndex = applied;
  }

  /** The partition's clock: the largest leader time its log has applied. */
  get now(): number {
    return this.#sessions.now;
  }

  /**
   * Reads a key's value from this replica's state.
   *
   * @param key The key.
   * @param now The time to judge expiry by (default: the log's time).
   * @returns The value, or `undefined` when absent or expired.
   */
  get(key: Uint8Array, now: number = this.#sessions.now): Uint8Array | undefined {
    return this.#live(keyString(key), now)?.value;
  }

  /**
   * Reads a key's value and version from this replica's state.
   *
   * @param key The key.
   * @param now The time to judge expiry by (default: the log's time).
   * @returns The value and version, or `undefined` when absent or expired.
   */
  read(key: Uint8Array, now: number = this.#sessions.now): VersionedValue | undefined {
    const stored = this.#live(keyString(key), now);
    return stored
      ? { value: stored.value, version: formatVersion(this.partition, stored.index) }
      : undefined;
  }

  /**
   * Reads keys in `[start, end)` in byte order (from the end when `reverse`), skipping expired
   * ones, at most `limit`.
   *
   * @param start The first key that may be returned.
   * @param end The first key past the range; `undefined` for none.
   * @param limit The most entries to return.
   * @param options `reverse` for descending order; `now` to judge expiry by.
   * @returns The entries with their keys.
   */
  scan(
    start: Uint8Array,
    end: Uint8Array | undefined,
    limit: number,
    options: { reverse?: boolean; now?: number } = {},
  ): (VersionedValue & { key: Uint8Array })[] {
    const now = options.now ?? this.#sessions.now;
    const out: (VersionedValue & { key: Uint8Array })[] = [];
    let from = keyString(start);
    let to = end === undefined ? undefined : keyString(end);
    // Expired keys may fill a page: keep reading until it is full or the range ends.
    while (out.length < limit) {
      const want = limit - out.length;
      const keys = this.#order.range(from, to, want, options.reverse ?? false);
      for (const key of keys) {
        const stored = this.#live(key, now);
        if (stored) {
          out.push({
            key: keyBytes(key),
            value: stored.value,
            version: formatVersion(this.partition, stored.index),
          });
        }
      }
      if (keys.length < want) break;
      const last = keys[keys.length - 1];
      if (options.reverse) to = last;
      else from = last + "\u0000";
    }
    return out;
  }

  /**
   * Keys whose expiry has passed at `now`, with the versions they expired at: what the leader
   * proposes to remove.
   *
   * @param now The leader's clock.
   * @param limit The most keys to return.
   * @returns Keys and versions.
   */
  expired(now: number, limit: number): { key: Uint8Array; version: string }[] {
    const out: { key: Uint8Array; version: string }[] = [];
    for (const key of this.#expiring) {
      if (out.length >= limit) break;
      const stored = this.#data.get(key)!;
      if (stored.expiresAt <= now) {
        out.push({ key: keyBytes(key), version: formatVersion(this.partition, stored.index) });
      }
    }
    return out;
  }
}
