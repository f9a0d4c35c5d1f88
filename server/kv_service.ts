/**
 * The client-facing KvService. Any node accepts any request: writes and linearizable reads go
 * to the partition's leader (forwarded once if this node is not it), follower and stale reads
 * are served by any replica. Failures become Connect codes with messages that say what to do.
 *
 * @module
 */
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { NodeId } from "../raft/types.ts";
import type { Check, Mutation, SessionRef } from "../partition/command.ts";
import {
  InvalidCommandError,
  MAX_SESSION_TIMEOUT_MS,
  validateCommand,
} from "../partition/command.ts";
import {
  CompactedError,
  CrossPartitionError,
  PartitionError,
  SessionExpiredError,
  StaleRequestError,
  TimeoutError,
  WriteRefusedError,
  WrongNodeError,
} from "../partition/errors.ts";
import type { ReadMode as HostReadMode } from "../partition/read_mode.ts";
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import type { WriteResult } from "../runtime/write_result.ts";
import type { DurableNotice } from "../runtime/durability.ts";
import {
  type AtomicResponseSchema,
  type DeleteResponseSchema,
  type ForwardedCall,
  type ForwardedResultSchema,
  KvService,
  Mutation_Type,
  type PutResponseSchema,
  ReadMode,
  type Session,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { ERROR_KIND_HEADER, errorKind } from "../rpc/error_kinds.ts";
import { createReadHandlers } from "./kv_reads.ts";
import { DISCARDED_HEADERS, HeaderMap } from "./header_map.ts";
import { answerLimitMs } from "./streamed_writes.ts";
import {
  ForwardBatcher,
  MAX_FORWARDED_CALLS,
  runForwarded,
  type WriteStream,
} from "./forward_batcher.ts";
import { isUnreachable, LeaderHints, leaderWaitMs, pause, unreachableError } from "./forwarding.ts";
import { FORWARDED_HEADER, LEADER_HEADER } from "../rpc/route_headers.ts";
import { VERIFIED_NODE } from "./auth.ts";

/** A service method, called with a request of its kind. */
type Method = (request: unknown, context: HandlerContext) => Promise<unknown>;

/** A session's idle timeout when the client asks for none: 10 minutes. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10 * 60 * 1000;

const MODES: Record<ReadMode, HostReadMode> = {
  [ReadMode.LINEARIZABLE]: "linearizable",
  [ReadMode.FOLLOWER]: "follower",
  [ReadMode.STALE]: "stale",
};

/** Maps a host error to a Connect error; kinds a client must tell apart go in a header. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const kind = errorKind(error);
  const metadata = kind ? { [ERROR_KIND_HEADER]: kind } : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InvalidCommandError || error instanceof RangeError) {
    return new ConnectError(message, Code.InvalidArgument);
  }
  if (
    error instanceof CrossPartitionError || error instanceof SessionExpiredError ||
    error instanceof StaleRequestError
  ) {
    return new ConnectError(message, Code.FailedPrecondition, metadata);
  }
  if (error instanceof TimeoutError) return new ConnectError(message, Code.DeadlineExceeded);
  if (error instanceof CompactedError) return new ConnectError(message, Code.OutOfRange, metadata);
  if (error instanceof PartitionError) return new ConnectError(message, Code.Unavailable, metadata);
  if (error instanceof DOMException && error.name === "AbortError") {
    return new ConnectError("The request was cancelled", Code.Canceled);
  }
  // The caller's own time limit (connect-timeout-ms) passed first: a write's fate is unknown.
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return new ConnectError(
      "The request's time limit passed before it finished (a write may still apply)",
      Code.DeadlineExceeded,
    );
  }
  return new ConnectError(message, Code.Internal);
}

/**
 * The context a forwarded write is served with: the call's, with a time limit that ends a
 * margin before the call's ({@linkcode answerLimitMs}), so the call is answered while its caller
 * still waits.
 */
function answerInTime(ctx: HandlerContext): HandlerContext {
  const limit = ctx.timeoutMs();
  if (limit === undefined) return ctx;
  const ms = answerLimitMs(limit);
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(ms)]);
  const started = Date.now();
  return { ...ctx, signal, timeoutMs: () => Math.max(0, ms - (Date.now() - started)) };
}

/** The longest TTL accepted: about ten years. */
const MAX_EXPIRE_IN_MS = 10 * 365 * 24 * 3600 * 1000;

/** A TTL from the wire, checked. */
function expireIn(ms: bigint): number {
  if (ms > BigInt(MAX_EXPIRE_IN_MS)) {
    throw new ConnectError(
      `expire_in_ms ${ms} is over the limit of ${MAX_EXPIRE_IN_MS}`,
      Code.InvalidArgument,
    );
  }
  return Number(ms);
}

/** A session from the wire, or none (id 0). */
function sessionRef(s: Session | undefined): SessionRef | undefined {
  if (!s || s.id === 0n) return undefined;
  return { id: Number(s.id), seq: Number(s.seq), firstIncomplete: Number(s.firstIncomplete) };
}

/** `if_version` from the wire: unset, "" (must be absent), or a version. */
function ifVersion(v: string | undefined): string | null | undefined {
  return v === undefined ? undefined : v === "" ? null : v;
}

function putResponse(r: WriteResult): MessageInitShape<typeof PutResponseSchema> {
  return { ok: r.ok, version: r.version ?? "", partition: r.partition, index: BigInt(r.index) };
}

function deleteResponse(r: WriteResult): MessageInitShape<typeof DeleteResponseSchema> {
  return { ok: r.ok, found: r.found, partition: r.partition, index: BigInt(r.index) };
}

function atomicResponse(r: WriteResult): MessageInitShape<typeof AtomicResponseSchema> {
  return {
    ok: r.ok,
    version: r.version ?? "",
    failedCheck: r.failedCheck ?? 0,
    partition: r.partition,
    index: BigInt(r.index),
  };
}

/** Runs host code, turning whatever it throws into a Connect error. */
async function local<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw error instanceof WrongNodeError || error instanceof WriteRefusedError
      ? error
      : toConnectError(error);
  }
}

/**
 * Serves writes a node passed on in one batch on its peer stream, calling `answer` once for
 * each write, with its index in `calls`, as soon as it is done; never throws. The writes stop
 * waiting when `signal` aborts, once `remainingMs()` reaches 0.
 */
export type ServeStreamed = (
  from: NodeId,
  calls: readonly { readonly call?: ForwardedCall; readonly durableNotice?: boolean }[],
  signal: AbortSignal,
  remainingMs: () => number,
  answer: (index: number, result: MessageInitShape<typeof ForwardedResultSchema>) => void,
  durable: (index: number, partition: number, entry: number, term: number) => void,
) => void;

/** A node's KvService, and how it serves writes passed on to it on peer streams. */
export interface KvServiceParts {
  /** The service, for the router and the lean path. */
  service: ServiceImpl<typeof KvService>;
  /** Serves writes another node passed on in one of its stream's batches. */
  serveStreamed: ServeStreamed;
}

/**
 * The node that passed a write on, set only on the contexts this service makes itself from a
 * member's stream or Forward call: a caller's own header is never believed, since any client
 * could name another node and move leaderships. Kept on the context rather than in a `WeakMap`
 * keyed by it: V8's young-generation collections keep the values of such entries alive, and
 * with them the call's objects, until the next full collection.
 */
const PASSED_ON_BY = Symbol("passedOnBy");

/**
 * A put passed on by a follower that asked to hear when its entry is durable here (see
 * `runtime/durability.ts`): where to send that notice.
 */
const DURABLE_NOTICE = Symbol("durableNotice");

/** A handler context this service made itself, with what it knows of the call's origin. */
type ServedContext = HandlerContext & {
  readonly [PASSED_ON_BY]?: NodeId;
  readonly [DURABLE_NOTICE]?: DurableNotice;
};

/**
 * Builds the KvService implementation for a node.
 *
 * @param host The node's Multi-Raft host.
 * @param nodes Every member's base URL.
 * @param options `fetch` for forwarding to other nodes (mutual TLS between members), the peer
 *   streams to pass writes on with where the leader serves them, and who sees them passed on.
 * @returns The service implementation, and how it serves writes passed on to it.
 */
export function createKvService(
  host: MultiRaftHost,
  nodes: ReadonlyMap<NodeId, string>,
  options: {
    fetch?: typeof fetch;
    stream?: WriteStream;
    onForwarded?: (via: "stream" | "call", count: number) => void;
  } = {},
): KvServiceParts {
  const clients = new Map<NodeId, Client<typeof KvService>>();
  const urlFor = (id: NodeId) => {
    const url = nodes.get(id);
    if (!url) throw new ConnectError(`Node ${id} is not a member`, Code.Internal);
    return url;
  };
  const clientFor = (id: NodeId) => {
    let c = clients.get(id);
    if (!c) {
      const url = urlFor(id);
      clients.set(
        id,
        c = createClient(
          KvService,
          createConnectTransport({ baseUrl: url, useBinaryFormat: true, fetch: options.fetch }),
        ),
      );
    }
    return c;
  };

  const hints = new LeaderHints(host, clientFor, host.nodeId);
  const forwards = new ForwardBatcher({
    urlFor,
    fetch: options.fetch,
    stream: options.stream,
    onForwarded: options.onForwarded,
    headers: { [FORWARDED_HEADER]: String(host.nodeId) },
  });

  /**
   * The node that should serve a partition's leader requests, as far as this node knows: the
   * leader it follows as a replica, else a leader hint, else the partition's first replica
   * (which forwards no further, see FORWARDED_HEADER).
   */
  const knownTarget = (partition: number): NodeId =>
    host.isReplica(partition)
      ? host.leaderOf(partition)
      : hints.get(partition) || host.map.replicas(partition)[0];

  /** Where to send a request this node cannot serve, or an Unavailable error. */
  const forwardTarget = (partition: number, ctx: HandlerContext, why: string): NodeId => {
    if (ctx.requestHeader.get(FORWARDED_HEADER)) {
      throw new ConnectError(
        `Partition ${partition}: ${why} here either (leaders just changed); retry`,
        Code.Unavailable,
      );
    }
    const target = knownTarget(partition);
    if (!target || target === host.nodeId) {
      throw new ConnectError(
        `Partition ${partition} has no leader yet; retry shortly`,
        Code.Unavailable,
      );
    }
    ctx.responseHeader.set(LEADER_HEADER, String(target));
    return target;
  };
  // A forwarded call never outlives the client's, nor waits long on a paused leader.
  const forwardOptions = (ctx: HandlerContext) => ({
    signal: ctx.signal,
    timeoutMs: 2000,
    headers: { [FORWARDED_HEADER]: String(host.nodeId) },
  });

  /**
   * Runs locally at the leader, or forwards once to it. While the partition has no known
   * leader (an election is under way), or the node asked turned out not to lead, it waits and
   * looks again, within the request's own deadline. A forward whose target never answered is
   * not retried here (a write may have reached it): it fails as a retryable `unavailable` that
   * names the unreachable node.
   */
  const leaderCall = async <T>(
    partition: number,
    ctx: HandlerContext,
    run: () => Promise<T>,
    remote: (target: NodeId) => Promise<T>,
  ): Promise<T> => {
    const forwarded = ctx.requestHeader.get(FORWARDED_HEADER) !== null;
    const deadline = Date.now() + (forwarded ? 0 : leaderWaitMs(ctx));
    for (let round = 0;; round++) {
      if (round > 0) await pause(25, ctx.signal);
      if (ctx.signal.aborted) throw toConnectError(ctx.signal.reason);
      const more = Date.now() < deadline;
      if (host.isReplica(partition) && host.leaderOf(partition) === host.nodeId) {
        try {
          return await local(run);
        } catch (error) {
          // Refused before anything was proposed (a leadership transfer is under way): wait for
          // it to finish here, then serve or forward, within the request's deadline.
          if (error instanceof WriteRefusedError) {
            if (more) continue;
            throw toConnectError(error);
          }
          if (!(error instanceof WrongNodeError)) throw error;
          if (more) continue;
        }
      }
      if (!host.isReplica(partition) && !forwarded && !hints.get(partition)) {
        await hints.learn(partition, ctx.signal);
      }
      let target: NodeId;
      try {
        target = forwardTarget(partition, ctx, "this node is not the leader");
      } catch (error) {
        if (more && !forwarded) continue;
        throw error;
      }
      try {
        return await remote(target);
      } catch (error) {
        if (isUnreachable(error, ctx.signal)) {
          hints.drop(partition, target);
          throw unreachableError(
            partition,
            target,
            nodes.get(target),
            host.nodeId,
            error as ConnectError,
          );
        }
        const e = toConnectError(error);
        // The target refused before doing anything (it does not lead): safe to look again. An
        // outcome_unknown is also Unavailable, but its write may have been applied: a retry here
        // could apply it twice, so it goes back to the client, which knows whether it may retry.
        if (
          e.code === Code.Unavailable && !forwarded &&
          e.metadata.get(ERROR_KIND_HEADER) !== "outcome_unknown"
        ) {
          hints.drop(partition, target);
          if (more) continue;
        }
        throw e;
      }
    }
  };

  /**
   * The member a Forward call comes from: the one its certificate names (with TLS), else the
   * one it says, when that is another member of this cluster.
   */
  const originOf = (ctx: HandlerContext): NodeId | undefined => {
    const claim = Number(
      ctx.requestHeader.get(VERIFIED_NODE) ?? ctx.requestHeader.get(FORWARDED_HEADER),
    );
    return claim !== host.nodeId && nodes.has(claim) ? claim : undefined;
  };

  /**
   * Counts a valid write for leader balancing, which moves a partition's leadership to the node
   * nearly all its writes come through (runtime/leader_balance.ts): a client's write by this
   * node, a forwarded one by the member that passed it on, and one that only claims to be
   * forwarded not at all.
   */
  const noteWrite = (partition: number, ctx: HandlerContext) => {
    if (ctx.requestHeader.get(FORWARDED_HEADER) === null) return host.noteWrite(partition);
    const origin = (ctx as ServedContext)[PASSED_ON_BY];
    if (origin !== undefined) host.noteWrite(partition, origin);
  };

  /** Checks a write against the limits before it goes anywhere; returns its partition. */
  const validWrite = (checks: Check[], mutations: Mutation[]): number => {
    try {
      validateCommand({ op: "write", time: 0, checks, mutations });
      // An atomic write must stay in one partition (the checks above refused empty keys).
      return host.map.partitionOfWrite(checks, mutations);
    } catch (error) {
      throw toConnectError(error);
    }
  };

  /** The partition of a key read alone. */
  const keyPartition = (key: Uint8Array): number => {
    if (key.length === 0) throw new ConnectError("key is empty", Code.InvalidArgument);
    return host.map.partitionOf(key);
  };

  const reads = createReadHandlers({
    host,
    clientFor,
    forwardTarget,
    forwardOptions,
    toConnectError,
  });

  const service: ServiceImpl<typeof KvService> = {
    getMany: reads.getMany,
    list: reads.list,
    watch: reads.watch,

    async put(req, ctx) {
      const iv = ifVersion(req.ifVersion);
      const partition = validWrite(
        iv === undefined ? [] : [{ key: req.key, version: iv }],
        [{ type: "set", key: req.key, value: req.value }],
      );
      noteWrite(partition, ctx);
      return await leaderCall(
        partition,
        ctx,
        async () =>
          putResponse(
            await host.put(req.key, req.value, {
              session: sessionRef(req.session),
              ifVersion: iv,
              signal: ctx.signal,
              durableNotice: (ctx as ServedContext)[DURABLE_NOTICE],
              ...(req.expireInMs > 0n ? { expireInMs: expireIn(req.expireInMs) } : {}),
            }),
          ),
        (target) => forwards.put(target, req, ctx.signal, partition),
      );
    },

    async delete(req, ctx) {
      const iv = ifVersion(req.ifVersion);
      const partition = validWrite(
        iv === undefined ? [] : [{ key: req.key, version: iv }],
        [{ type: "delete", key: req.key }],
      );
      noteWrite(partition, ctx);
      return await leaderCall(
        partition,
        ctx,
        async () =>
          deleteResponse(
            await host.delete(req.key, {
              session: sessionRef(req.session),
              ifVersion: iv,
              signal: ctx.signal,
            }),
          ),
        (target) => forwards.delete(target, req, ctx.signal),
      );
    },

    async atomic(req, ctx) {
      const checks: Check[] = req.checks.map((c, i) => {
        if (c.version === undefined) {
          throw new ConnectError(
            `check ${i} has no version: give one, or "" for "the key must be absent"`,
            Code.InvalidArgument,
          );
        }
        return { key: c.key, version: c.version === "" ? null : c.version };
      });
      const mutations: Mutation[] = req.mutations.map((m) => {
        if (m.type === Mutation_Type.DELETE) return { type: "delete", key: m.key };
        if (m.type === Mutation_Type.SET) {
          return m.expireInMs > 0n
            ? { type: "set", key: m.key, value: m.value, expireInMs: expireIn(m.expireInMs) }
            : { type: "set", key: m.key, value: m.value };
        }
        throw new ConnectError(
          `mutation type ${m.type} is not a Mutation.Type`,
          Code.InvalidArgument,
        );
      });
      const partition = validWrite(checks, mutations);
      noteWrite(partition, ctx);
      return await leaderCall(
        partition,
        ctx,
        async () =>
          atomicResponse(
            await host.atomic(checks, mutations, {
              session: sessionRef(req.session),
              signal: ctx.signal,
            }),
          ),
        (target) => forwards.atomic(target, req, ctx.signal),
      );
    },

    async openSession(req, ctx) {
      if (req.partition >= host.map.partitions) {
        throw new ConnectError(
          `partition ${req.partition} does not exist; the cluster has ${host.map.partitions}`,
          Code.InvalidArgument,
        );
      }
      const timeoutMs = req.timeoutMs || DEFAULT_SESSION_TIMEOUT_MS;
      if (timeoutMs > MAX_SESSION_TIMEOUT_MS) {
        throw new ConnectError(
          `timeout_ms ${timeoutMs} is over the limit of ${MAX_SESSION_TIMEOUT_MS}`,
          Code.InvalidArgument,
        );
      }
      return await leaderCall(
        req.partition,
        ctx,
        async () => ({
          id: BigInt(await host.openSession(req.partition, timeoutMs, ctx.signal)),
          timeoutMs,
        }),
        (target) => forwards.openSession(target, req, ctx.signal),
      );
    },

    async get(req, ctx) {
      const mode = MODES[req.readMode];
      if (mode === undefined) {
        throw new ConnectError(`read_mode ${req.readMode} is not a ReadMode`, Code.InvalidArgument);
      }
      const partition = keyPartition(req.key);
      const answer = (v: { value: Uint8Array; version: string } | undefined) => ({
        found: v !== undefined,
        value: v?.value ?? new Uint8Array(),
        version: v?.version ?? "",
      });
      if (mode === "linearizable" && !host.isReplica(partition)) {
        return await leaderCall(
          partition,
          ctx,
          async () => answer(await host.get(req.key, "linearizable", ctx.signal)),
          (target) => clientFor(target).get(req, forwardOptions(ctx)),
        );
      }
      // A replica serves a linearizable read itself: at the leader with a ReadIndex round, at a
      // follower by asking the leader for the read index and waiting to apply it (Raft
      // dissertation, section 6.4). Both are linearizable; the follower saves a forwarding hop.
      if (mode === "linearizable") {
        const here = host.leaderOf(partition) === host.nodeId ? "linearizable" : "follower";
        return answer(
          await local(() => host.get(req.key, here, ctx.signal)).catch((e) => {
            throw toConnectError(e);
          }),
        );
      }
      // Follower and stale reads: any replica serves them, this one if it is one.
      if (host.isReplica(partition)) {
        return answer(
          await local(() => host.get(req.key, mode, ctx.signal)).catch((e) => {
            throw toConnectError(e);
          }),
        );
      }
      const target = forwardTarget(partition, ctx, "this node is not a replica");
      return await clientFor(target).get(req, forwardOptions(ctx)).catch((e) => {
        throw isUnreachable(e, ctx.signal)
          ? unreachableError(partition, target, nodes.get(target), host.nodeId, e)
          : toConnectError(e);
      });
    },

    clusterInfo() {
      const status = new Map(host.status().map((s) => [s.partition, s.raft]));
      return {
        node: host.nodeId,
        nodes: [...nodes].map(([id, address]) => ({ id, address })),
        partitions: Array.from({ length: host.map.partitions }, (_, p) => {
          const raft = status.get(p);
          return {
            partition: p,
            replicas: host.replicasOf(p),
            leader: raft?.leaderId ?? 0,
            term: BigInt(raft?.term ?? 0),
            commitIndex: BigInt(raft?.commitIndex ?? 0),
          };
        }),
      };
    },

    // Writes other nodes pass on, many per call (see forward_batcher.ts): each is served here as
    // if sent directly, concurrently, so they share this leader's next Raft round.
    async forward(req, ctx) {
      if (ctx.requestHeader.get(FORWARDED_HEADER) === null) {
        throw new ConnectError(
          `Forward carries writes passed on by another node and needs the ${FORWARDED_HEADER} header`,
          Code.InvalidArgument,
        );
      }
      if (req.calls.length > MAX_FORWARDED_CALLS) {
        throw new ConnectError(
          `Forward carries at most ${MAX_FORWARDED_CALLS} writes, not ${req.calls.length}`,
          Code.InvalidArgument,
        );
      }
      // Every write is answered before the caller's time limit, each with its own outcome: one
      // slow write must not make the caller give up on the whole call and report the others lost.
      const inner: ServedContext = { ...answerInTime(ctx), [PASSED_ON_BY]: originOf(ctx) };
      return { results: await Promise.all(req.calls.map(({ call }) => forwardOne(call, inner))) };
    },
  };

  /** Serves one write another node passed on; a failure becomes its result, never a throw. */
  const forwardOne = async (
    call: ForwardedCall["call"],
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ForwardedResultSchema>> => {
    try {
      return await runForwarded(call, (kind, request) => (service[kind] as Method)(request, ctx));
    } catch (error) {
      const e = toConnectError(error);
      const kind = e.metadata.get(ERROR_KIND_HEADER) ?? "";
      return { result: { case: "error", value: { code: e.code, message: e.rawMessage, kind } } };
    }
  };

  /**
   * Serves writes a node passed on in one batch on its stream, as `forward` serves a call's, and
   * answers each as soon as it is done (one slow write holds no other answer back).
   */
  const serveStreamed: ServeStreamed = (from, calls, signal, remainingMs, answer, durable) => {
    const ctx = {
      signal,
      requestHeader: new HeaderMap({ [FORWARDED_HEADER]: String(from) }).asHeaders(),
      responseHeader: new HeaderMap().asHeaders(),
      responseTrailer: DISCARDED_HEADERS,
      timeoutMs: remainingMs,
      // The stream's sender: checked against its certificate before its batch got here.
      [PASSED_ON_BY]: from,
    } as unknown as ServedContext;
    calls.forEach((c, i) => {
      let own = ctx;
      if (c.durableNotice) {
        // A put the sender can answer for itself once its entry is durable here and there.
        own = {
          ...ctx,
          [DURABLE_NOTICE]: {
            to: from,
            send: (partition, index, term) => durable(i, partition, index, term),
          },
        };
      }
      forwardOne(c.call?.call ?? { case: undefined }, own).then((result) => answer(i, result));
    });
  };
  return { service, serveStreamed };
}
