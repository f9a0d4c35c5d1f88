/**
 * An atomic write, built step by step: checks, then mutations, applied as one log entry, all
 * or nothing. The shape follows Deno KV's `atomic()`.
 *
 * @module
 */
import type { KeyLike, ValueLike } from "./keys.ts";

/**
 * What an atomic write did: applied with the version every mutated key now has, or not
 * applied because the check at `failedCheck` did not hold.
 *
 * @example Usage
 * ```ts
 * import type { CommitResult } from "@prkdb/prkdb/client";
 * function describe(r: CommitResult): string {
 *   return r.ok ? `written at ${r.version}` : `check ${r.failedCheck} failed`;
 * }
 * ```
 */
export type CommitResult =
  | {
    readonly ok: true;
    readonly version: string;
    readonly partition: number;
    readonly index: number;
  }
  | {
    readonly ok: false;
    readonly failedCheck: number;
    readonly partition: number;
    readonly index: number;
  };

/**
 * One step of an atomic write.
 *
 * @example Usage
 * ```ts
 * import type { AtomicStep } from "@prkdb/prkdb/client";
 * const s: AtomicStep = { kind: "delete", key: "user:1" };
 * ```
 */
export type AtomicStep =
  | { readonly kind: "check"; readonly key: KeyLike; readonly version: string | null }
  | {
    readonly kind: "set";
    readonly key: KeyLike;
    readonly value: ValueLike;
    readonly expireIn?: number;
  }
  | { readonly kind: "delete"; readonly key: KeyLike };

/**
 * Collects the checks and mutations of one atomic write; `commit()` sends them.
 *
 * @example Move a balance between two accounts, only if neither changed
 * ```ts ignore
 * import { PrkDbClient } from "@prkdb/prkdb/client";
 * const db = await PrkDbClient.connect(["http://127.0.0.1:8081"]);
 * const a = await db.get("{bank}:alice");
 * const b = await db.get("{bank}:bob");
 * const r = await db.atomic()
 *   .check(a).check(b)
 *   .set("{bank}:alice", "90").set("{bank}:bob", "110")
 *   .commit();
 * console.log(r.ok ? `done at ${r.version}` : `conflict on check ${r.failedCheck}`);
 * ```
 */
export class AtomicOperation {
  readonly #steps: AtomicStep[] = [];
  readonly #commit: (steps: readonly AtomicStep[]) => Promise<CommitResult>;

  /**
   * Creates an empty operation; use `PrkDbClient.atomic()`.
   *
   * @param commit Sends the steps.
   */
  constructor(commit: (steps: readonly AtomicStep[]) => Promise<CommitResult>) {
    this.#commit = commit;
  }

  /**
   * Adds a condition: the key must be at `version` (`null`: absent). An entry from
   * `PrkDbClient.get` can be passed as it is.
   *
   * @param check The key and the version it must have.
   * @returns This operation.
   */
  check(check: { key: KeyLike; version: string | null }): this {
    this.#steps.push({ kind: "check", key: check.key, version: check.version });
    return this;
  }

  /**
   * Adds a write of `value` to `key`.
   *
   * @param key The key.
   * @param value The value.
   * @param options `expireIn`: milliseconds after the commit when the key expires.
   * @returns This operation.
   */
  set(key: KeyLike, value: ValueLike, options: { expireIn?: number } = {}): this {
    this.#steps.push({ kind: "set", key, value, expireIn: options.expireIn });
    return this;
  }

  /**
   * Adds a deletion of `key`.
   *
   * @param key The key.
   * @returns This operation.
   */
  delete(key: KeyLike): this {
    this.#steps.push({ kind: "delete", key });
    return this;
  }

  /**
   * Applies every check and mutation as one log entry, all or nothing. A failed check is a
   * normal result (`ok: false`), not an exception.
   *
   * @returns The result.
   * @throws {PrkDbError} `failed_precondition` when keys fall into more than one partition,
   *   `invalid_argument` for a malformed batch.
   */
  commit(): Promise<CommitResult> {
    return this.#commit(this.#steps);
  }
}
