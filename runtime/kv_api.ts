/**
 * The key-value API of a host: versioned reads in three modes, reads of many keys and ranges,
 * change following, writes with conditions, atomic batches, time to live and client sessions.
 * Every write becomes one command, stamped with the leader's clock and validated before it is
 * appended; every read is cleared for its mode first ({@linkcode clearRead}).
 *
 * @module
 */
import {
  type Check,
  encodeCommand,
  type KvCommand,
  MAX_EXPIRE_BATCH,
  type Mutation,
} from "../partition/command.ts";
import { CompactedError } from "../partition/errors.ts";
import type { ApplyResult, Change, VersionedValue } from "../partition/kv_state_machine.ts";
import type { PartitionMap } from "../partition/placement.ts";
import type { ReadMode } from "../partition/read_mode.ts";
import type { ChangesPage } from "./change_history.ts";
import { proposeAndWait, type RequestContext } from "./client_requests.ts";
import type { HostObserver } from "./options.ts";
import { clearRead, type KeyRange } from "./reads.ts";
import type { Replica } from "./replica.ts";
import type { DurableNotice } from "./durability.ts";
import { conditionsOf, type WriteOptions, type WriteResult, writeResult } from "./write_result.ts";

/**
 * A mutation as callers give it: a set may expire `expireInMs` after the leader proposes it.
 *
 * @example Usage
 * ```ts
 * import type { TimedMutation } from "@prkdb/prkdb/runtime";
 * const m: TimedMutation = { type: "set", key: new Uint8Array([1]), value: new Uint8Array(), expireInMs: 60_000 };
 * ```
 */
export type TimedMutation =
  | (Omit<Mutation & { type: "set" }, "expiresAt"> & { readonly expireInMs?: number })
  | (Mutation & { type: "delete" });

/** The most entries one watch page covers. */
const WATCH_PAGE_ENTRIES = 256;
/** How often, in ticks, a leader looks for expired keys. */
export const EXPIRY_SWEEP_TICKS = 5;

/**
 * What the key-value API needs from its host.
 *
 * @example Usage
 * ```ts
 * import type { KvApiHost } from "@prkdb/prkdb/runtime";
 * ```
 */
export interface KvApiHost {
  /** Where partitions live. */
  readonly map: PartitionMap;
  /** The clock, deadline and scheduler requests use. */
  readonly requests: RequestContext;
  /** Telemetry. */
  readonly observer?: HostObserver;
  /** The replica of a partition on this node, if it can serve (throws why not otherwise). */
  replica(partition: number): Replica;
  /** Every replica on this node. */
  replicas(): Iterable<Replica>;
}

/**
 * The key-value API over a host's replicas. `MultiRaftHost` exposes it method by method.
 *
 * @example Usage
 * ```ts ignore
 * const kv = new KvApi(host);
 * await kv.put(key, value, { expireInMs: 60_000 });
 * ```
 */
export class KvApi {
  readonly #host: KvApiHost;
  readonly #expiring = new Set<number>();
  #nextContext = 1;

  /**
   * Creates the API over a host.
   *
   * @param host The host's map, request context and replicas.
   */
  constructor(host: KvApiHost) {
    this.#host = host;
  }

  get #map(): PartitionMap {
    return this.#host.map;
  }

  get #requests(): RequestContext {
    return this.#host.requests;
  }

  #replica(partition: number): Replica {
    return this.#host.replica(partition);
  }

  /**
   * Writes a key, once a quorum has it.
   *
   * @param key The key.
   * @param value The value.
   * @param options Session, condition, cancellation.
   * @returns Whether it was applied, its version, partition and log index.
   */
  put(
    key: Uint8Array,
    value: Uint8Array,
    options: WriteOptions & { expireInMs?: number } = {},
  ): Promise<WriteResult> {
    const set = { type: "set" as const, key, value, expireInMs: options.expireInMs };
    // Only a put whose answer follows from its log position: no session, no condition.
    const plain = options.session === undefined && options.ifVersion === undefined;
    const notice = plain ? options.durableNotice : undefined;
    return this.#write(conditionsOf(key, options), [set], options, notice);
  }

  /**
   * Deletes a key, once a quorum has the deletion.
   *
   * @param key The key.
   * @param options Session, condition, cancellation.
   * @returns Whether it was applied, whether the key existed, partition and log index.
   */
  delete(key: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    return this.atomic(conditionsOf(key, options), [{ type: "delete", key }], options);
  }

  /**
   * Applies checks and mutations as one log entry, all or nothing. Every key must fall in one
   * partition (use hash tags to place keys together). A failed check is a normal result.
   *
   * @param checks Conditions that must all hold.
   * @param mutations Changes to apply if they do.
   * @param options Session and cancellation.
   * @returns The result; `ok: false` with `failedCheck` when a check did not hold.
   * @throws {CrossPartitionError} When keys fall into more than one partition.
   */
  atomic(
    checks: readonly Check[],
    mutations: readonly TimedMutation[],
    options: Pick<WriteOptions, "session" | "signal"> = {},
  ): Promise<WriteResult> {
    return this.#write(checks, mutations, options);
  }

  /** Proposes checks and mutations as one entry, and derives the write's result. */
  async #write(
    checks: readonly Check[],
    mutations: readonly TimedMutation[],
    options: Pick<WriteOptions, "session" | "signal">,
    notice?: DurableNotice,
  ): Promise<WriteResult> {
    const partition = this.#map.partitionOfWrite(checks, mutations);
    const { result, index } = await this.#propose(
      partition,
      (time) => ({
        op: "write",
        time,
        session: options.session,
        checks,
        // An expiry is proposed as a time in the leader's clock, so every replica agrees on it.
        mutations: mutations.map((m) =>
          m.type === "set" && m.expireInMs !== undefined
            ? { type: "set", key: m.key, value: m.value, expiresAt: time + m.expireInMs }
            : m.type === "set"
            ? { type: "set", key: m.key, value: m.value }
            : m
        ),
      }),
      options.signal,
      notice,
    );
    return writeResult(partition, index, result, options.session);
  }

  /**
   * Opens a client session on a partition, through its log.
   *
   * @param partition The partition.
   * @param timeoutMs How long the session may stay idle before it expires.
   * @param signal Aborts the wait.
   * @returns The session id.
   */
  async openSession(partition: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const { result } = await this.#propose(
      partition,
      (time) => ({ op: "openSession", time, timeoutMs }),
      signal,
    );
    if (result.op !== "openSession") throw new RangeError(`Entry is not a session`);
    return result.sessionId;
  }

  /**
   * Reads a key with its version.
   *
   * @param key The key.
   * @param mode How to read (default linearizable).
   * @param signal Aborts the wait.
   * @returns The value and version, or `undefined` when absent.
   */
  async get(
    key: Uint8Array,
    mode: ReadMode = "linearizable",
    signal?: AbortSignal,
  ): Promise<VersionedValue | undefined> {
    const replica = this.#replica(this.#map.partitionOf(key));
    const now = await clearRead(this.#requests, replica, mode, this.#nextContext++, signal);
    return replica.sm.read(key, now);
  }

  /**
   * Reads several keys of one partition, after one read clearance for all of them.
   *
   * @param partition The partition (every key must belong to it).
   * @param keys The keys.
   * @param mode How to read.
   * @param signal Aborts the wait.
   * @returns One entry per key, in order; `undefined` for an absent key.
   */
  async getMany(
    partition: number,
    keys: readonly Uint8Array[],
    mode: ReadMode = "linearizable",
    signal?: AbortSignal,
  ): Promise<(VersionedValue | undefined)[]> {
    for (const key of keys) {
      if (this.#map.partitionOf(key) !== partition) {
        throw new RangeError(
          `A key of partition ${this.#map.partitionOf(key)} was read as ${partition}`,
        );
      }
    }
    const replica = this.#replica(partition);
    const now = await clearRead(this.#requests, replica, mode, this.#nextContext++, signal);
    return keys.map((key) => replica.sm.read(key, now));
  }

  /**
   * Reads a range of one partition's keys in byte order.
   *
   * @param partition The partition.
   * @param range The keys to read.
   * @param options How many, in which order, in which read mode.
   * @returns The entries, and the index the read saw (a watch from there misses nothing).
   */
  async list(
    partition: number,
    range: KeyRange,
    options: { limit: number; reverse?: boolean; mode?: ReadMode; signal?: AbortSignal },
  ): Promise<{ entries: (VersionedValue & { key: Uint8Array })[]; appliedIndex: number }> {
    const replica = this.#replica(partition);
    const mode = options.mode ?? "linearizable";
    const now = await clearRead(this.#requests, replica, mode, this.#nextContext++, options.signal);
    const entries = replica.sm.scan(range.start, range.end, options.limit, {
      reverse: options.reverse,
      now,
    });
    return { entries, appliedIndex: replica.sm.appliedIndex };
  }

  /**
   * A page of a partition's changes after `afterIndex`, without waiting for more.
   *
   * @param partition The partition (this node must replicate it).
   * @param afterIndex The last index the reader has seen.
   * @param limit The most entries to cover.
   * @returns The changes and how far they reach, or `compacted` with the oldest index kept.
   */
  changes(partition: number, afterIndex: number, limit: number): ChangesPage {
    const replica = this.#replica(partition);
    return replica.history.after(afterIndex, limit, replica.sm.appliedIndex);
  }

  /**
   * Follows a partition's changes from just after `afterIndex`, as they are applied here. Each
   * page says how far it reaches, so a watcher can resume from there with no gap and no
   * duplicate.
   *
   * @param partition The partition (this node must replicate it).
   * @param afterIndex The last index the watcher has seen.
   * @param signal Ends the watch.
   * @returns Pages of changes, in log order.
   * @throws {CompactedError} When the changes after `afterIndex` were compacted away.
   */
  async *watch(
    partition: number,
    afterIndex: number,
    signal?: AbortSignal,
  ): AsyncGenerator<{ changes: readonly Change[]; through: number }> {
    let position = afterIndex;
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    while (!signal?.aborted) {
      const replica = this.#replica(partition);
      const page = replica.history.after(position, WATCH_PAGE_ENTRIES, replica.sm.appliedIndex);
      if (page.kind === "compacted") throw new CompactedError(partition, page.oldest);
      if (page.through > position) {
        position = page.through;
        yield page;
        continue;
      }
      await Promise.race([replica.appliedPast(position), aborted]);
    }
  }

  /** Proposes a command stamped with the leader's clock and waits for it to be applied. */
  #propose(
    partition: number,
    command: (time: number) => KvCommand,
    signal: AbortSignal | undefined,
    notice?: DurableNotice,
  ): Promise<{ result: ApplyResult; index: number }> {
    // Validated before it is appended: an entry that does not decode never reaches the log.
    let data: Uint8Array;
    let replica: Replica;
    try {
      data = encodeCommand(command(Math.floor(this.#requests.clock.now())));
      replica = this.#replica(partition);
    } catch (error) {
      this.#host.observer?.proposal?.(partition, "rejected", 0);
      throw error;
    }
    return proposeAndWait(this.#requests, replica, data, signal, notice);
  }

  /**
   * At each partition this node leads, proposes the removal of keys whose time has passed, in
   * bounded batches, one batch in flight per partition. Replicas remove each key only if it is
   * still at the version that expired, so a key written again in the meantime stays.
   */
  expireKeys(): void {
    for (const r of this.#host.replicas()) {
      if (!r.node.isLeader || r.fatal || this.#expiring.has(r.partition)) continue;
      const keys = r.sm.expired(Math.floor(this.#requests.clock.now()), MAX_EXPIRE_BATCH);
      if (keys.length === 0) continue;
      this.#expiring.add(r.partition);
      this.#propose(r.partition, (time) => ({ op: "expire", time, keys }), undefined)
        .catch(() => {}) // not the leader any more, or a leader change: the next sweep retries
        .finally(() => this.#expiring.delete(r.partition));
    }
  }
}
