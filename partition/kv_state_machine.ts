/**
 * The replicated state machine of one partition: an ordered map from keys to values, changed
 * only by applying committed log entries, in log order (Raft section 5.3, "state machine
 * safety": every replica applies the same commands in the same order).
 *
 * @module
 */
import type { Entry } from "../raft/entry.ts";
import { decodeCommand } from "./command.ts";

/**
 * What applying one entry did.
 *
 * @example Usage
 * ```ts
 * import type { ApplyResult } from "@prkdb/prkdb/partition";
 * const r: ApplyResult = { index: 3, op: "delete", found: false };
 * ```
 */
export interface ApplyResult {
  /** The entry's index. */
  readonly index: number;
  /** What the entry did: a put, a delete, or nothing (a leader's no-op). */
  readonly op: "put" | "delete" | "noop";
  /** Whether the key existed before. */
  readonly found: boolean;
}

const SNAPSHOT_VERSION = 1;

function keyString(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]);
  return s;
}

/**
 * A partition's key-value state.
 *
 * @example Usage
 * ```ts
 * import { encodeCommand, KvStateMachine } from "@prkdb/prkdb/partition";
 * const te = new TextEncoder();
 * const sm = new KvStateMachine();
 * sm.apply({ index: 1, term: 1, type: "normal",
 *   data: encodeCommand({ op: "put", key: te.encode("a"), value: te.encode("1") }) });
 * console.log(new TextDecoder().decode(sm.get(te.encode("a")))); // "1"
 * ```
 */
export class KvStateMachine {
  readonly #data = new Map<string, Uint8Array>();
  #appliedIndex = 0;

  /** The index of the last entry applied. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** How many keys are stored. */
  get size(): number {
    return this.#data.size;
  }

  /**
   * Applies one committed entry. Entries must arrive in log order, each exactly once.
   *
   * @param entry The committed entry.
   * @returns What it did.
   * @throws {RangeError} When the entry is out of order.
   */
  apply(entry: Entry): ApplyResult {
    if (entry.index !== this.#appliedIndex + 1) {
      throw new RangeError(`Entry ${entry.index} applied out of order after ${this.#appliedIndex}`);
    }
    this.#appliedIndex = entry.index;
    if (entry.type === "noop") return { index: entry.index, op: "noop", found: false };
    const command = decodeCommand(entry.data);
    const key = keyString(command.key);
    const found = this.#data.has(key);
    if (command.op === "put") this.#data.set(key, command.value.slice());
    else this.#data.delete(key);
    return { index: entry.index, op: command.op, found };
  }

  /**
   * Serializes the whole state, for a snapshot: applied index, then every key and value.
   *
   * ```text
   * version (u8 = 1) | appliedIndex (u64 LE) | count (u32 LE) | count x [key length (u32) | key | value length (u32) | value]
   * ```
   *
   * @returns The snapshot bytes.
   */
  snapshot(): Uint8Array {
    let size = 13;
    for (const [key, value] of this.#data) size += 8 + key.length + value.length;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    out[0] = SNAPSHOT_VERSION;
    view.setUint32(1, this.#appliedIndex >>> 0, true);
    view.setUint32(5, Math.floor(this.#appliedIndex / 0x100000000), true);
    view.setUint32(9, this.#data.size, true);
    let at = 13;
    for (const [key, value] of this.#data) {
      view.setUint32(at, key.length, true);
      for (let i = 0; i < key.length; i++) out[at + 4 + i] = key.charCodeAt(i);
      at += 4 + key.length;
      view.setUint32(at, value.length, true);
      out.set(value, at + 4);
      at += 4 + value.length;
    }
    return out;
  }

  /**
   * Replaces the whole state with a snapshot's.
   *
   * @param data Bytes from {@linkcode snapshot}.
   * @throws {RangeError} When the bytes are not a snapshot this version reads.
   */
  restore(data: Uint8Array): void {
    const fail = (why: string): never => {
      throw new RangeError(`Invalid state machine snapshot: ${why}`);
    };
    if (data.length < 13) fail(`${data.length} bytes is too short`);
    if (data[0] !== SNAPSHOT_VERSION) fail(`version ${data[0]} is not ${SNAPSHOT_VERSION}`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const applied = view.getUint32(1, true) + view.getUint32(5, true) * 0x100000000;
    const count = view.getUint32(9, true);
    const next = new Map<string, Uint8Array>();
    let at = 13;
    const take = (): Uint8Array => {
      if (at + 4 > data.length) fail(`truncated at byte ${at}`);
      const length = view.getUint32(at, true);
      if (at + 4 + length > data.length) {
        fail(`field of ${length} bytes at ${at} runs past the end`);
      }
      const bytes = data.subarray(at + 4, at + 4 + length);
      at += 4 + length;
      return bytes;
    };
    for (let i = 0; i < count; i++) {
      const key = keyString(take());
      next.set(key, take().slice());
    }
    if (at !== data.length) fail(`${data.length - at} unexpected trailing bytes`);
    this.#data.clear();
    for (const [k, v] of next) this.#data.set(k, v);
    this.#appliedIndex = applied;
  }

  /**
   * Reads a key's value from this replica's state.
   *
   * @param key The key.
   * @returns The value, or `undefined` when absent.
   */
  get(key: Uint8Array): Uint8Array | undefined {
    return this.#data.get(keyString(key));
  }
}
