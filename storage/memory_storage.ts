/**
 * Raft storage in memory, for tests and simulations. It can also act like a disk whose writes
 * sit in a cache until synced, to show what a crash loses.
 *
 * @module
 */
import { MutablePartitionState, validateBatch } from "./partition_state.ts";
import {
  emptyPartitionState,
  type PartitionState,
  type PartitionWrite,
  type RaftStorage,
} from "./raft_storage.ts";

/**
 * Options for {@linkcode MemoryStorage}.
 *
 * @example Usage
 * ```ts
 * import type { MemoryStorageOptions } from "@prkdb/prkdb/storage";
 * const options: MemoryStorageOptions = { manualSync: true };
 * ```
 */
export interface MemoryStorageOptions {
  /**
   * When `true`, writes stay unsynced (and `write` does not resolve) until {@linkcode
   * MemoryStorage.sync} is called; {@linkcode MemoryStorage.crash} discards them. Default
   * `false`: every write is synced at once.
   */
  manualSync?: boolean;
}

/**
 * In-memory {@linkcode RaftStorage}.
 *
 * @example A crash loses exactly the unsynced writes
 * ```ts
 * import { MemoryStorage } from "@prkdb/prkdb/storage";
 * const storage = new MemoryStorage({ manualSync: true });
 * const pending = storage.write([{ partition: 0, hardState: { term: 2, votedFor: 1, commitIndex: 0 } }]);
 * storage.crash();
 * await pending.catch(() => {});
 * console.log((await storage.load(0)).hardState.term); // 0
 * ```
 */
export class MemoryStorage implements RaftStorage {
  readonly #synced = new Map<number, MutablePartitionState>();
  readonly #manual: boolean;
  #unsynced: {
    batch: readonly PartitionWrite[];
    resolve: () => void;
    reject: (e: Error) => void;
  }[] = [];
  #closed = false;

  /**
   * Creates an empty store.
   *
   * @param options Sync behaviour.
   */
  constructor(options: MemoryStorageOptions = {}) {
    this.#manual = options.manualSync ?? false;
  }

  /**
   * Reads a partition's synced state.
   *
   * @param partition The Raft group.
   * @returns Its state.
   */
  load(partition: number): Promise<PartitionState> {
    return Promise.resolve(this.#synced.get(partition)?.freeze() ?? emptyPartitionState());
  }

  /**
   * Stores a batch; with `manualSync`, only once {@linkcode sync} is called.
   *
   * @param batch The writes.
   */
  write(batch: readonly PartitionWrite[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("MemoryStorage is closed"));
    try {
      validateBatch(batch);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#manual) {
      this.#apply(batch);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#unsynced.push({ batch, resolve, reject }));
  }

  /** Makes every pending write durable and resolves its promise. */
  sync(): void {
    for (const pending of this.#unsynced.splice(0)) {
      this.#apply(pending.batch);
      pending.resolve();
    }
  }

  /** Simulates power loss: unsynced writes are gone and their promises reject. */
  crash(): void {
    for (const pending of this.#unsynced.splice(0)) {
      pending.reject(new Error("Crashed before sync"));
    }
  }

  /** Rejects further writes. */
  close(): Promise<void> {
    this.#closed = true;
    this.crash();
    return Promise.resolve();
  }

  #apply(batch: readonly PartitionWrite[]): void {
    for (const write of batch) {
      let state = this.#synced.get(write.partition);
      if (!state) this.#synced.set(write.partition, state = new MutablePartitionState());
      state.apply(write);
    }
  }
}
