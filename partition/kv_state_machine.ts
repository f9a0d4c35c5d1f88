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
   * Reads a key's value from this replica's state.
   *
   * @param key The key.
   * @returns The value, or `undefined` when absent.
   */
  get(key: Uint8Array): Uint8Array | undefined {
    return this.#data.get(keyString(key));
  }
}
