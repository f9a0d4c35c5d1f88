/**
 * The KvService calls that read many keys: GetMany, List and Watch. Keys are spread over
 * partitions by hash, so each call fans out: every partition it touches is read where it can
 * be (here, when this node may serve it in the requested mode; otherwise forwarded once to a
 * node that can), in parallel, and the answers are merged.
 *
 * - GetMany answers in the request's order; in linearizable mode each partition involved
 *   does one ReadIndex round for all of its keys.
 * - List merges the partitions' pages in key order. Each partition is read consistently in the
 *   chosen mode, but the page as a whole is not one snapshot of the database: partitions are
 *   read at slightly different moments. The cursor is the last key returned, so paging never
 *   skips or repeats a key that exists throughout the listing.
 * - Watch follows each partition's change history from a position, and reports per partition
 *   how far it got, so a client can resume with no gap and no duplicate.
 *
 * @module
 */
import { type Client, Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { NodeId } from "../raft/types.ts";
import type { Change } from "../partition/kv_state_machine.ts";
import { READ_MODES, type ReadMode } from "../partition/read_mode.ts";
import { formatVersion, isVersion, parseVersion } from "../partition/version.ts";
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import { type KeyRange, prefixRange } from "../runtime/reads.ts";
import {
  type GetManyRequest,
  type KvService,
  type ListRequest,
  type ReadMode as WireReadMode,
  WatchEvent_Type,
  type WatchRequest,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { KeyValueSchema, WatchEventSchema } from "../rpc/gen/prkdb/v1/kv_pb.ts";

/** The most entries one List page returns. */
export const MAX_LIST_LIMIT = 1000;
/** The most keys one GetMany reads. */
export const MAX_GET_MANY_KEYS = 1000;
/** How often an idle watch stream reports progress, which also keeps it open. */
const PROGRESS_EVERY_MS = 5000;

const MODES: ReadMode[] = [...READ_MODES];

/** What the read handlers need from the service around them. */
export interface ReadDeps {
  /** The node's host. */
  readonly host: MultiRaftHost;
  /** A client for another member. */
  clientFor(id: NodeId): Client<typeof KvService>;
  /** Where to send what this node cannot serve (throws when it must not forward). */
  forwardTarget(partition: number, ctx: HandlerContext, why: string): NodeId;
  /** Options of a forwarded call. */
  forwardOptions(
    ctx: HandlerContext,
  ): { signal: AbortSignal; timeoutMs: number; headers: Record<string, string> };
  /** Maps a host error to a Connect error. */
  toConnectError(error: unknown): ConnectError;
}

function modeOf(wire: WireReadMode): ReadMode {
  const mode = MODES[wire];
  if (mode === undefined) {
    throw new ConnectError(`read_mode ${wire} is not a ReadMode`, Code.InvalidArgument);
  }
  return mode;
}

/** Whether this node may answer a read of `partition` in `mode` itself. */
function servesHere(host: MultiRaftHost, partition: number, mode: ReadMode): boolean {
  if (!host.isReplica(partition)) return false;
  return mode !== "linearizable" || host.leaderOf(partition) === host.nodeId;
}

/** The range a List or Watch selects. */
function rangeOf(req: { prefix?: Uint8Array; start: Uint8Array; end: Uint8Array }): KeyRange {
  if (req.prefix !== undefined) return prefixRange(req.prefix);
  return req.end.length > 0 ? { start: req.start, end: req.end } : { start: req.start };
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function inRange(key: Uint8Array, range: KeyRange): boolean {
  return compare(key, range.start) >= 0 && (range.end === undefined || compare(key, range.end) < 0);
}

/** The range left after a cursor: keys after it (or, in reverse, before it). */
function afterCursor(range: KeyRange, cursor: Uint8Array, reverse: boolean): KeyRange {
  if (cursor.length === 0) return range;
  if (reverse) {
    return {
      start: range.start,
      end: range.end && compare(range.end, cursor) < 0 ? range.end : cursor,
    };
  }
  const next = new Uint8Array(cursor.length + 1);
  next.set(cursor); // the smallest key after the cursor is the cursor followed by a zero byte
  return { start: compare(next, range.start) > 0 ? next : range.start, end: range.end };
}

/**
 * Builds the GetMany, List and Watch handlers.
 *
 * @param deps The host and the forwarding helpers of the service.
 * @returns The three handlers.
 */
export function createReadHandlers(deps: ReadDeps): {
  getMany: (
    req: GetManyRequest,
    ctx: HandlerContext,
  ) => Promise<{ entries: { found: boolean; value: Uint8Array; version: string }[] }>;
  list: (
    req: ListRequest,
    ctx: HandlerContext,
  ) => Promise<
    { entries: MessageInitShape<typeof KeyValueSchema>[]; cursor: Uint8Array; positions: string[] }
  >;
  watch: (
    req: WatchRequest,
    ctx: HandlerContext,
  ) => AsyncGenerator<MessageInitShape<typeof WatchEventSchema>>;
} {
  const { host } = deps;
  const wrap = <T>(p: Promise<T>) =>
    p.catch((e) => {
      throw deps.toConnectError(e);
    });

  return {
    async getMany(req, ctx) {
      const mode = modeOf(req.readMode);
      if (req.keys.length > MAX_GET_MANY_KEYS) {
        throw new ConnectError(
          `${req.keys.length} keys, the limit is ${MAX_GET_MANY_KEYS}`,
          Code.InvalidArgument,
        );
      }
      if (req.keys.some((k) => k.length === 0)) {
        throw new ConnectError("key is empty", Code.InvalidArgument);
      }
      const byPartition = new Map<number, number[]>();
      req.keys.forEach((key, i) => {
        const p = host.map.partitionOf(key);
        byPartition.set(p, [...(byPartition.get(p) ?? []), i]);
      });
      const out: { found: boolean; value: Uint8Array; version: string }[] = req.keys.map(() => ({
        found: false,
        value: new Uint8Array(),
        version: "",
      }));
      await Promise.all([...byPartition].map(async ([p, indexes]) => {
        const keys = indexes.map((i) => req.keys[i]);
        if (servesHere(host, p, mode)) {
          const values = await wrap(host.getMany(p, keys, mode, ctx.signal));
          values.forEach((v, j) => {
            if (v) out[indexes[j]] = { found: true, value: v.value, version: v.version };
          });
          return;
        }
        const target = deps.forwardTarget(p, ctx, "this node cannot read it");
        const r = await wrap(
          deps.clientFor(target).getMany(
            { keys, readMode: req.readMode },
            deps.forwardOptions(ctx),
          ),
        );
        r.entries.forEach((e, j) => {
          out[indexes[j]] = { found: e.found, value: e.value, version: e.version };
        });
      }));
      return { entries: out };
    },

    async list(req, ctx) {
      const mode = modeOf(req.readMode);
      const limit = Math.min(req.limit || 100, MAX_LIST_LIMIT);
      const range = afterCursor(rangeOf(req), req.cursor, req.reverse);
      const partitions = req.partition !== undefined
        ? [req.partition]
        : Array.from({ length: host.map.partitions }, (_, p) => p);
      const pages = await Promise.all(partitions.map(async (p) => {
        if (servesHere(host, p, mode)) {
          const page = await wrap(
            host.list(p, range, { limit, reverse: req.reverse, mode, signal: ctx.signal }),
          );
          return {
            entries: page.entries.map((e) => ({ key: e.key, value: e.value, version: e.version })),
            positions: [formatVersion(p, page.appliedIndex)],
          };
        }
        const target = deps.forwardTarget(p, ctx, "this node cannot read it");
        const r = await wrap(
          deps.clientFor(target).list({
            start: range.start,
            end: range.end ?? new Uint8Array(),
            limit,
            reverse: req.reverse,
            readMode: req.readMode,
            partition: p,
          }, deps.forwardOptions(ctx)),
        );
        return { entries: r.entries, positions: r.positions };
      }));
      const merged = pages.flatMap((p) => p.entries);
      merged.sort((a, b) => req.reverse ? compare(b.key, a.key) : compare(a.key, b.key));
      const entries = merged.slice(0, limit);
      // More may follow if the page is full, or if some partition filled its own page.
      const more = merged.length > limit || pages.some((p) => p.entries.length >= limit);
      return {
        entries: entries.map((e) => ({ key: e.key, value: e.value, version: e.version })),
        cursor: more && entries.length > 0 ? entries[entries.length - 1].key : new Uint8Array(),
        positions: pages.flatMap((p) => p.positions),
      };
    },

    async *watch(req, ctx) {
      const single = req.key !== undefined;
      if (single && req.key!.length === 0) {
        throw new ConnectError("key is empty", Code.InvalidArgument);
      }
      const range: KeyRange = single ? { start: req.key!, end: undefined } : rangeOf(req);
      const matches = (key: Uint8Array) =>
        single ? compare(key, req.key!) === 0 : inRange(key, range);
      const from = new Map<number, number>();
      for (const v of req.from) {
        if (!isVersion(v)) throw new ConnectError(`"${v}" is not a version`, Code.InvalidArgument);
        const { partition, index } = parseVersion(v);
        from.set(partition, Math.max(from.get(partition) ?? 0, index));
      }
      const partitions = req.partition !== undefined
        ? [req.partition]
        : single
        ? [host.map.partitionOf(req.key!)]
        : Array.from({ length: host.map.partitions }, (_, p) => p);
      yield* mergeStreams(
        partitions.map((p) => partitionEvents(deps, p, from.get(p), req, matches, ctx)),
        ctx.signal,
      );
    },
  };
}

/** One partition's events: local when this node replicates it, else proxied from a replica. */
async function* partitionEvents(
  deps: ReadDeps,
  partition: number,
  after: number | undefined,
  req: WatchRequest,
  matches: (key: Uint8Array) => boolean,
  ctx: HandlerContext,
): AsyncGenerator<MessageInitShape<typeof WatchEventSchema>> {
  const { host } = deps;
  if (!host.isReplica(partition)) {
    const target = deps.forwardTarget(partition, ctx, "this node does not replicate it");
    const stream = deps.clientFor(target).watch(
      { ...req, from: after === undefined ? [] : [formatVersion(partition, after)], partition },
      { signal: ctx.signal, headers: deps.forwardOptions(ctx).headers },
    );
    try {
      for await (const event of stream) yield event;
    } catch (error) {
      throw deps.toConnectError(error);
    }
    return;
  }
  let position = after ?? host.status().find((s) => s.partition === partition)!.applied;
  yield { type: WatchEvent_Type.PROGRESS, version: formatVersion(partition, position) };
  let lastProgress = Date.now();
  try {
    for await (const page of host.watch(partition, position, ctx.signal)) {
      const events = page.changes.filter((c) => matches(c.key)).map((c) => event(partition, c));
      for (const e of events) yield e;
      position = page.through;
      if (events.length === 0 && Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = Date.now();
        yield { type: WatchEvent_Type.PROGRESS, version: formatVersion(partition, position) };
      }
    }
  } catch (error) {
    throw deps.toConnectError(error);
  }
}

function event(partition: number, c: Change): MessageInitShape<typeof WatchEventSchema> {
  return c.type === "put"
    ? {
      type: WatchEvent_Type.PUT,
      key: c.key,
      value: c.value,
      version: formatVersion(partition, c.index),
    }
    : { type: WatchEvent_Type.DELETE, key: c.key, version: formatVersion(partition, c.index) };
}

/**
 * Interleaves several event streams as their events come, with a progress heartbeat per stream
 * when all are quiet, and ends them all when the caller goes away.
 */
async function* mergeStreams<T extends { type?: WatchEvent_Type; version?: string }>(
  streams: AsyncGenerator<T>[],
  signal: AbortSignal,
): AsyncGenerator<T> {
  const last = new Map<number, T>();
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const pull = (i: number) => pending.set(i, streams[i].next().then((r) => ({ i, r })));
  streams.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0 && !signal.aborted) {
      let timer: number | undefined;
      const quiet = new Promise<"quiet">((resolve) => {
        timer = setTimeout(() => resolve("quiet"), PROGRESS_EVERY_MS) as unknown as number;
      });
      const next = await Promise.race([...pending.values(), quiet]);
      clearTimeout(timer);
      if (next === "quiet") {
        // Nothing for a while: repeat each stream's last position, which keeps the stream open.
        for (const e of last.values()) {
          if (e.version) yield { type: WatchEvent_Type.PROGRESS, version: e.version } as T;
        }
        continue;
      }
      if (next.r.done) {
        pending.delete(next.i);
        continue;
      }
      if (next.r.value.version) last.set(next.i, next.r.value);
      yield next.r.value;
      pull(next.i);
    }
  } finally {
    await Promise.all(streams.map((s) => s.return(undefined).catch(() => {})));
  }
}
