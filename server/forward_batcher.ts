/**
 * Forwarded writes, batched per leader. A node that receives a write (put, delete, atomic write,
 * or the opening of a session) for a partition it does not lead passes it to the leader; under load many such writes are waiting at
 * once, and each used to cost an HTTP request on both nodes. Here they queue per target node
 * while a few calls are in flight, and go out together in one `KvService/Forward` call; the
 * leader serves each as if it had been sent to it directly and answers each on its own.
 *
 * A caller's own deadline and cancellation still hold: it stops waiting, though its write may
 * already be on its way (exactly as with a single forwarded call; sessions make retries safe).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { NodeId } from "../raft/types.ts";
import { ERROR_KIND_HEADER } from "../rpc/error_kinds.ts";
import { OLDER_PEER_RECHECK_MS } from "../rpc/unary_lanes.ts";
import { callUnary } from "../rpc/connect_unary.ts";
import {
  type AtomicRequest,
  type AtomicResponse,
  type DeleteRequest,
  type DeleteResponse,
  type ForwardedCall,
  type ForwardedCallSchema,
  type ForwardedResult,
  ForwardedResultSchema,
  ForwardRequestSchema,
  ForwardResponseSchema,
  KvService,
  type OpenSessionRequest,
  type OpenSessionResponse,
  type PutRequest,
  type PutResponse,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";

/** Writes per Forward call at most (the leader refuses more). */
export const MAX_FORWARDED_CALLS = 256;

/** A call carries about this many bytes of keys and values at most (at least one write). */
const MAX_CALL_BYTES = 4 << 20;

/** Metadata marking an error the leader answered, so it is never taken for "unreachable". */
export const ANSWERED_HEADER = "prkdb-forward-answered";

/** The writes a Forward call carries, by kind. */
interface Writes {
  put: PutRequest;
  delete: DeleteRequest;
  atomic: AtomicRequest;
  openSession: OpenSessionRequest;
}

/** The leader's answer to each kind of write. */
interface Answers {
  put: PutResponse;
  delete: DeleteResponse;
  atomic: AtomicResponse;
  openSession: OpenSessionResponse;
}

/** A call waiting to be forwarded. */
interface Waiting {
  readonly call: MessageInitShape<typeof ForwardedCallSchema>;
  /** Bytes of keys and values. */
  readonly bytes: number;
  readonly resolve: (result: ForwardedResult) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal;
}

/** The queue and the calls in flight to one node. */
interface Lane {
  queue: Waiting[];
  inflight: number;
}

/**
 * Passes writes on to a leader on the peer stream, where the leader serves them: the cheaper way,
 * without an HTTP request per call.
 */
export interface WriteStream {
  /**
   * Sends one write to `target`, or returns undefined when `target` does not take writes on its
   * stream (then a `Forward` call carries it). With `durableIn` (the write's partition, for a
   * write whose answer follows from its log position), the write may be answered as soon as
   * its entry is durable on the leader and on this node.
   */
  send(
    target: NodeId,
    call: MessageInitShape<typeof ForwardedCallSchema>,
    signal: AbortSignal,
    durableIn?: number,
  ): Promise<ForwardedResult> | undefined;
}

/** Options for {@linkcode ForwardBatcher}. */
export interface ForwardBatcherOptions {
  /** A member's base URL; throws for a node that is not a member. */
  urlFor: (id: NodeId) => string;
  /** The `fetch` to call with (mutual TLS between members). Default: the global one. */
  fetch?: typeof fetch;
  /** Headers every forward carries (the forwarding mark). */
  headers: Record<string, string>;
  /** Calls in flight per target node. Default 2. */
  maxInflight?: number;
  /** Time limit of one call. Default 2000 ms. */
  timeoutMs?: number;
  /** Peer streams to pass writes on with, to the leaders that take them there. */
  stream?: WriteStream;
  /** Sees writes passed on: on a peer stream, or in a `Forward` call. */
  onForwarded?: (via: "stream" | "call", count: number) => void;
}

/**
 * Batches forwarded writes per target node.
 *
 * @example Usage
 * ```ts ignore
 * const forwards = new ForwardBatcher({ urlFor: (id) => urls.get(id)!, headers: { "prkdb-forwarded": "2" } });
 * const answer = await forwards.put(leader, request, ctx.signal);
 * ```
 */
export class ForwardBatcher {
  readonly #o:
    & Required<Omit<ForwardBatcherOptions, "fetch" | "stream" | "onForwarded">>
    & ForwardBatcherOptions;
  readonly #lanes = new Map<NodeId, Lane>();
  /** Nodes without `Forward` (an earlier version), until when. */
  readonly #legacy = new Map<NodeId, number>();

  constructor(options: ForwardBatcherOptions) {
    this.#o = { maxInflight: 2, timeoutMs: 2000, ...options };
  }

  /**
   * Forwards a put to `target`.
   *
   * @param target The partition's leader.
   * @param request The client's request.
   * @param signal The client's cancellation.
   * @param partition The put's partition. Given, a put without a session or condition (whose
   *   answer follows from its log position) sent on a stream is answered as soon as its entry
   *   is durable on the leader and on this node, a round trip before the leader's answer.
   * @returns The leader's answer.
   */
  put(
    target: NodeId,
    request: PutRequest,
    signal: AbortSignal,
    partition?: number,
  ): Promise<PutResponse> {
    const bytes = request.key.length + request.value.length;
    const plain = request.session === undefined && request.ifVersion === undefined;
    return this.#send(target, "put", request, bytes, signal, plain ? partition : undefined);
  }

  /**
   * Forwards a delete to `target`.
   *
   * @param target The partition's leader.
   * @param request The client's request.
   * @param signal The client's cancellation.
   * @returns The leader's answer.
   */
  delete(target: NodeId, request: DeleteRequest, signal: AbortSignal): Promise<DeleteResponse> {
    return this.#send(target, "delete", request, request.key.length, signal);
  }

  /**
   * Forwards an atomic write to `target`.
   *
   * @param target The partition's leader.
   * @param request The client's request.
   * @param signal The client's cancellation.
   * @returns The leader's answer.
   */
  atomic(target: NodeId, request: AtomicRequest, signal: AbortSignal): Promise<AtomicResponse> {
    let bytes = 0;
    for (const c of request.checks) bytes += c.key.length;
    for (const m of request.mutations) bytes += m.key.length + m.value.length;
    return this.#send(target, "atomic", request, bytes, signal);
  }

  /**
   * Forwards the opening of a session to `target`.
   *
   * @param target The partition's leader.
   * @param request The client's request.
   * @param signal The client's cancellation.
   * @returns The leader's answer.
   */
  openSession(
    target: NodeId,
    request: OpenSessionRequest,
    signal: AbortSignal,
  ): Promise<OpenSessionResponse> {
    return this.#send(target, "openSession", request, 8, signal);
  }

  /** Queues one write of kind `kind` and answers with the leader's result of the same kind. */
  async #send<K extends keyof Answers>(
    target: NodeId,
    kind: K,
    request: Writes[K],
    bytes: number,
    signal: AbortSignal,
    durableIn?: number,
  ): Promise<Answers[K]> {
    const call = { call: { case: kind, value: request } } as unknown as MessageInitShape<
      typeof ForwardedCallSchema
    >;
    const r = await this.#forward(target, call, bytes, signal, durableIn);
    if (r.result.case !== kind) throw mismatch(target);
    return (r.result as { value: unknown }).value as Answers[K];
  }

  #forward(
    target: NodeId,
    call: MessageInitShape<typeof ForwardedCallSchema>,
    bytes: number,
    signal: AbortSignal,
    durableIn?: number,
  ): Promise<ForwardedResult> {
    if (signal.aborted) return Promise.reject(signal.reason);
    let answer = this.#o.stream?.send(target, call, signal, durableIn);
    if (answer) this.#o.onForwarded?.("stream", 1);
    else answer = this.#queue(target, call, bytes, signal);
    return answer.then((r) => {
      if (r.result.case !== "error") return r;
      const { code, message, kind } = r.result.value;
      const metadata = new Headers({ [ANSWERED_HEADER]: String(target) });
      if (kind) metadata.set(ERROR_KIND_HEADER, kind);
      throw new ConnectError(message, code as Code, metadata);
    });
  }

  /** Queues a write for the next `Forward` call to `target`. */
  #queue(
    target: NodeId,
    call: MessageInitShape<typeof ForwardedCallSchema>,
    bytes: number,
    signal: AbortSignal,
  ): Promise<ForwardedResult> {
    return new Promise<ForwardedResult>((resolve, reject) => {
      let lane = this.#lanes.get(target);
      if (!lane) this.#lanes.set(target, lane = { queue: [], inflight: 0 });
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      lane.queue.push({
        call,
        bytes,
        signal,
        resolve: (r) => {
          signal.removeEventListener("abort", onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      });
      this.#pump(target, lane);
    });
  }

  /** One write as the single call of its kind, to a node without `Forward`. */
  #unary(url: string, w: Waiting): void {
    runForwarded(w.call.call as ForwardedCall["call"], async (kind, request) => {
      const method = KvService.method[kind];
      const answer = await callUnary(
        `${url}/${KvService.typeName}/${method.name}`,
        toBinary(
          method.input,
          create(method.input, request as MessageInitShape<typeof method.input>),
        ),
        {
          fetch: this.#o.fetch,
          headers: this.#o.headers,
          timeoutMs: this.#o.timeoutMs,
          signal: w.signal,
        },
      );
      return fromBinary(method.output, answer);
    }).then((result) => w.resolve(create(ForwardedResultSchema, result)), w.reject);
  }

  #pump(target: NodeId, lane: Lane): void {
    while (lane.queue.length > 0 && lane.inflight < this.#o.maxInflight) {
      let take = 0, bytes = 0;
      while (
        take < lane.queue.length && take < MAX_FORWARDED_CALLS &&
        (take === 0 || bytes + lane.queue[take].bytes <= MAX_CALL_BYTES)
      ) bytes += lane.queue[take++].bytes;
      // Callers that gave up are not sent.
      const batch = lane.queue.splice(0, take).filter((w) => !w.signal.aborted);
      if (batch.length === 0) continue;
      let url: string;
      try {
        url = this.#o.urlFor(target).replace(/\/$/, "");
      } catch (error) {
        // No way to reach the node (it left the address book): these writes were never sent.
        batch.forEach((w) => w.reject(error));
        continue;
      }
      if (performance.now() < (this.#legacy.get(target) ?? 0)) {
        this.#o.onForwarded?.("call", batch.length);
        for (const w of batch) this.#unary(url, w);
        continue;
      }
      lane.inflight++;
      this.#o.onForwarded?.("call", batch.length);
      const request = create(ForwardRequestSchema, { calls: batch.map((w) => w.call) });
      callUnary(`${url}/${KvService.typeName}/Forward`, toBinary(ForwardRequestSchema, request), {
        fetch: this.#o.fetch,
        headers: this.#o.headers,
        timeoutMs: this.#o.timeoutMs,
      }).then((answer) => fromBinary(ForwardResponseSchema, answer)).then(
        (response) => {
          batch.forEach((w, i) => {
            const r = response.results[i];
            if (r) w.resolve(r);
            else w.reject(mismatch(target));
          });
        },
        (error) => {
          // A leader of an earlier version has no Forward and did nothing: send each write on its
          // own, and keep doing so for a while.
          if (error instanceof ConnectError && error.code === Code.Unimplemented) {
            this.#legacy.set(target, performance.now() + OLDER_PEER_RECHECK_MS);
            for (const w of batch) this.#unary(url, w);
            return;
          }
          // The call failed as a whole: every write in it fails the same way.
          batch.forEach((w) => w.reject(error));
        },
      ).finally(() => {
        lane.inflight--;
        this.#pump(target, lane);
      });
    }
  }
}

/**
 * Runs one forwarded write with the method of the same name (the call's cases are the KvService
 * methods), and wraps its answer as the matching result.
 *
 * @param call The write.
 * @param method Calls the named method with the request.
 * @returns The result, of the write's kind.
 * @throws {ConnectError} For a call that carries no write, or what the method threw.
 *
 * @example Usage
 * ```ts ignore
 * const result = await runForwarded(call, (kind, request) => service[kind](request, ctx));
 * ```
 */
export async function runForwarded(
  call: ForwardedCall["call"],
  method: (kind: keyof Writes, request: unknown) => Promise<unknown>,
): Promise<MessageInitShape<typeof ForwardedResultSchema>> {
  if (call.case === undefined) {
    throw new ConnectError("a forwarded call carries no write", Code.InvalidArgument);
  }
  const value = await method(call.case, call.value);
  return { result: { case: call.case, value } } as MessageInitShape<typeof ForwardedResultSchema>;
}

function mismatch(target: NodeId): ConnectError {
  return new ConnectError(
    `Node ${target} answered a forwarded write with the wrong kind of result`,
    Code.Internal,
    new Headers({ [ANSWERED_HEADER]: String(target) }),
  );
}
