/**
 * Writes passed on to a partition's leader on the peer streams, and their answers. A node that
 * receives a write for a partition it does not lead puts it on its stream to the leader, beside
 * the Raft messages it sends there anyway; the leader serves it as if it had been sent directly,
 * and puts the answer on its own stream back. Both directions ride connections that are already
 * open, so a write passed on costs no HTTP request of its own (a `Forward` call cost one on
 * each node). Nodes that do not say they serve such writes (an earlier version, during a rolling
 * upgrade) get `Forward` calls instead.
 *
 * What the sender learns about each write is one of three things, as with a `Forward` call:
 *
 * - the leader's answer: its outcome, or its error;
 * - the write never reached the leader (the stream could not take it, or the leader refused the
 *   batch that carried it before serving anything in it): a retry cannot apply it twice;
 * - nothing within the time limit: the write may or may not have been applied, and the caller
 *   is told it cannot know (sessions make its retry safe).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { NodeId } from "../raft/types.ts";
import type { Clock } from "../runtime/clock.ts";
import { systemClock } from "../runtime/clock.ts";
import { Deadlines } from "../runtime/deadlines.ts";
import { awaitRequest } from "../runtime/requests.ts";
import type { AnswerItem, DurableItem, WriteItem } from "../rpc/peer_item.ts";
import { formatVersion } from "../partition/version.ts";
import {
  type ForwardedCallSchema,
  type ForwardedResult,
  ForwardedResultSchema,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { encodeForwardedCall, encodeForwardedResult } from "../rpc/forwarded_wire.ts";
import type { ReceivedAnswer, ReceivedDurable, ReceivedWrite } from "../rpc/raft_read.ts";
import type { WriteStream } from "./forward_batcher.ts";
import type { ServeStreamed } from "./kv_service.ts";

/** How long before the sender's time limit a write passed on is cut short, at most. */
const ANSWER_MARGIN_MS = 250;

/**
 * How long a leader serves a write passed on with the time limit `limitMs`: the limit less a
 * margin (250 ms, or a tenth of the limit if less), so the answer still finds the sender waiting
 * and the sender learns the write's own outcome, not just that the leader never answered.
 *
 * @param limitMs The sender's time limit.
 * @returns The leader's.
 *
 * @example Usage
 * ```ts
 * import { answerLimitMs } from "./streamed_writes.ts";
 * console.log(answerLimitMs(2000), answerLimitMs(800)); // 1750 720
 * ```
 */
export function answerLimitMs(limitMs: number): number {
  return Math.max(0, limitMs - Math.min(ANSWER_MARGIN_MS, limitMs / 10));
}

/** The peer streams, as far as writes and answers go (the node's Raft transport). */
export interface WriteLink {
  /** Whether `to` said it serves writes passed on in its stream's batches. */
  servesWrites(to: NodeId): boolean;
  /** Puts a write on the stream to `to`; `item.dropped` runs if it cannot reach `to`. */
  sendWrite(to: NodeId, item: WriteItem): void;
  /** Puts an answer on the stream to `to`. */
  sendAnswer(to: NodeId, item: AnswerItem): void;
  /** Puts a durable notice on the stream to `to`. */
  sendDurable(to: NodeId, item: DurableItem): void;
}

/**
 * Runs `durable` once this node's replica of `partition` holds entry `index` of `term` on disk
 * (the node's `MultiRaftHost.awaitDurable`); returns a function that stops waiting.
 */
export type AwaitDurable = (
  partition: number,
  index: number,
  term: number,
  durable: () => void,
) => () => void;

/** Options for {@linkcode StreamedWrites}. */
export interface StreamedWritesOptions {
  /** The peer streams. */
  link: WriteLink;
  /** How long a sender waits for an answer. Default 2000 ms. */
  timeoutMs?: number;
  /** Writes one peer may have in service here at once; more are refused. Default 4096. */
  maxServing?: number;
  /** The clock for time limits. Default the system's. */
  clock?: Clock;
  /**
   * How this node learns that its own copy of an entry is durable. Given, the puts it passes on
   * that ask for it are answered once their entry is durable on the leader and here.
   */
  awaitDurable?: AwaitDurable;
  /** Observes each put answered on a durable notice. */
  onDurableAnswer?: () => void;
}

/**
 * Thrown (as the cause of an `unavailable` error) for a write that never reached its leader:
 * whoever retries it cannot apply it twice.
 *
 * @example Usage
 * ```ts
 * import { WriteNotSentError } from "./streamed_writes.ts";
 * const e = new WriteNotSentError(2, new Error("connection refused"));
 * console.log(e.message); // the write could not be sent to node 2: connection refused
 * ```
 */
export class WriteNotSentError extends Error {
  constructor(target: NodeId, cause: unknown) {
    super(
      `the write could not be sent to node ${target}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "WriteNotSentError";
  }
}

/** A write sent and not yet answered. */
interface Pending {
  readonly target: NodeId;
  readonly settle: (result: ForwardedResult) => void;
  /** The partition of a put that may be answered on a durable notice. */
  readonly durableIn?: number;
  /** Stops waiting for this node's copy of the put's entry. */
  stopWaiting?: () => void;
}

/**
 * Both ends of writes passed on over peer streams: the sender's waiting writes, and the
 * leader's serving of writes sent to it.
 *
 * @example Usage
 * ```ts ignore
 * const writes = new StreamedWrites({ link: transport });
 * const forwards = new ForwardBatcher({ urlFor, headers, stream: writes });
 * // For each batch from a peer:
 * writes.answered(batch.from, batch.answers);
 * writes.serve(batch.from, batch.writes, serveStreamed);
 * ```
 */
export class StreamedWrites implements WriteStream {
  readonly #link: WriteLink;
  readonly #timeoutMs: number;
  readonly #maxServing: number;
  readonly #clock: Clock;
  readonly #awaitDurable: AwaitDurable | undefined;
  readonly #onDurableAnswer: (() => void) | undefined;
  /** The sender's waits, and the leader's batches: each queue gets deadlines in time order. */
  readonly #waits: Deadlines;
  readonly #batches: Deadlines;
  /** This run's random number, so that answers meant for an earlier run are not taken. */
  readonly #incarnation: number;
  readonly #pending = new Map<number, Pending>();
  /** Writes from each peer in service here. */
  readonly #serving = new Map<NodeId, number>();
  #lastId = 0;

  constructor(options: StreamedWritesOptions) {
    this.#link = options.link;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#maxServing = options.maxServing ?? 4096;
    this.#clock = options.clock ?? systemClock;
    this.#awaitDurable = options.awaitDurable;
    this.#onDurableAnswer = options.onDurableAnswer;
    this.#waits = new Deadlines(this.#clock);
    this.#batches = new Deadlines(this.#clock);
    this.#incarnation = crypto.getRandomValues(new Uint32Array(1))[0] || 1;
  }

  /** Writes sent and not yet answered. */
  get waiting(): number {
    return this.#pending.size;
  }

  /**
   * Sends one write to `target` on its stream, or returns undefined when `target` does not
   * serve writes there.
   *
   * @param target The partition's leader.
   * @param call The write.
   * @param signal The caller's cancellation: it stops waiting (the write may still be applied).
   * @param durableIn The partition of a put whose answer follows from its log position: it is
   *   answered as soon as its entry is durable on the leader and here, if the leader says so.
   * @returns The leader's result.
   */
  send(
    target: NodeId,
    call: MessageInitShape<typeof ForwardedCallSchema>,
    signal: AbortSignal,
    durableIn?: number,
  ): Promise<ForwardedResult> | undefined {
    if (!this.#link.servesWrites(target)) return undefined;
    const id = this.#nextId();
    const bytes = encodeForwardedCall(call);
    const early = this.#awaitDurable !== undefined && durableIn !== undefined &&
      call.call?.case === "put";
    return awaitRequest<ForwardedResult>(
      this.#waits,
      this.#timeoutMs,
      `A write passed on to node ${target}`,
      signal,
      (resolve, reject) => {
        const pending: Pending = {
          target,
          settle: resolve,
          durableIn: early ? durableIn : undefined,
        };
        this.#pending.set(id, pending);
        this.#link.sendWrite(target, {
          write: {
            id,
            timeoutMs: this.#timeoutMs,
            call: bytes,
            incarnation: this.#incarnation,
            durableNotice: early,
          },
          dropped: (error) => {
            const cause = new WriteNotSentError(target, error);
            reject(new ConnectError(cause.message, Code.Unavailable, undefined, undefined, cause));
          },
        });
        return () => {
          this.#pending.delete(id);
          pending.stopWaiting?.();
        };
      },
      // No metadata: nothing was answered, so the write's fate is unknown.
      () => new ConnectError(`node ${target} did not answer in time`, Code.DeadlineExceeded),
    );
  }

  /**
   * Takes the answers `from` sent to writes this node passed on to it. An answer to a write
   * sent elsewhere, or to one no longer waited for, is ignored.
   *
   * @param from The node that sent them.
   * @param answers The answers.
   */
  answered(from: NodeId, answers: readonly ReceivedAnswer[]): void {
    for (const { id, result, incarnation } of answers) {
      if (incarnation !== this.#incarnation) continue;
      const pending = this.#pending.get(id);
      if (pending?.target !== from) continue;
      pending.settle(result ?? create(ForwardedResultSchema));
    }
  }

  /**
   * Takes the notices `from` sent that puts this node passed on to it are durable there: each
   * such put is answered once this node holds its entry durably too (a majority of the voters
   * then has it in the leader's term, so it is committed; see `runtime/durability.ts`). Its
   * answer is the one the leader would send: applied, at that index and version.
   *
   * @param from The leader that sent them.
   * @param notices The notices.
   */
  durable(from: NodeId, notices: readonly ReceivedDurable[]): void {
    const awaitDurable = this.#awaitDurable;
    if (!awaitDurable) return;
    for (const notice of notices) {
      const { id, incarnation, index, term } = notice;
      if (incarnation !== this.#incarnation) continue;
      const pending = this.#pending.get(id);
      const partition = pending?.durableIn;
      if (pending?.target !== from || partition === undefined || pending.stopWaiting) continue;
      // The leader names the partition it wrote the entry in: a node that maps keys to partitions
      // differently (started with another partition count) must not match it in its own.
      if (notice.partition !== partition) continue;
      if (!Number.isSafeInteger(index) || index <= 0 || !Number.isSafeInteger(term)) continue;
      pending.stopWaiting = awaitDurable(
        partition,
        index,
        term,
        () => {
          if (this.#pending.get(id) !== pending) return; // answered meanwhile
          this.#onDurableAnswer?.();
          pending.settle(create(ForwardedResultSchema, {
            result: {
              case: "put",
              value: {
                partition,
                index: BigInt(index),
                ok: true,
                version: formatVersion(partition, index),
              },
            },
          }));
        },
      );
    }
  }

  /**
   * Serves the writes `from` passed on in one batch, and sends each answer back as soon as it
   * is ready. Past the limit of writes in service for one peer, a write is answered at once
   * with `resource_exhausted`, unapplied.
   *
   * @param from The node that sent them.
   * @param writes The writes.
   * @param serve Serves them (the node's KvService).
   */
  serve(from: NodeId, writes: readonly ReceivedWrite[], serve: ServeStreamed): void {
    const inService = this.#serving.get(from) ?? 0;
    const room = Math.max(0, this.#maxServing - inService);
    // Nearly always every write fits: no copy then.
    const taken = room >= writes.length ? writes : writes.slice(0, room);
    for (let i = taken.length; i < writes.length; i++) {
      this.#answer(from, writes[i], {
        result: {
          case: "error",
          value: {
            code: Code.ResourceExhausted,
            message: `node ${from} has ${this.#maxServing} writes in service here already`,
            kind: "",
          },
        },
      });
    }
    if (taken.length === 0) return;
    this.#serving.set(from, inService + taken.length);
    let limitMs = this.#timeoutMs;
    for (const w of taken) if (w.timeoutMs > 0) limitMs = Math.min(limitMs, w.timeoutMs);
    // One deadline for the batch, on the shared timer: it stops whatever is still waiting.
    const ms = answerLimitMs(limitMs);
    const stop = new AbortController();
    const settle = this.#batches.add(
      ms,
      () => stop.abort(new DOMException("the time limit of a write passed on", "TimeoutError")),
    );
    const end = this.#clock.now() + ms;
    const remainingMs = () => Math.max(0, end - this.#clock.now());
    let open = taken.length;
    serve(
      from,
      taken,
      stop.signal,
      remainingMs,
      (i, result) => {
        const left = (this.#serving.get(from) ?? 1) - 1;
        if (left > 0) this.#serving.set(from, left);
        else this.#serving.delete(from);
        if (--open === 0) settle();
        this.#answer(from, taken[i], result);
      },
      (i, partition, index, term) => {
        const { id, incarnation } = taken[i];
        this.#link.sendDurable(from, { durable: { id, incarnation, partition, index, term } });
      },
    );
  }

  /** Sends the answer to `write`; a result that cannot be encoded is answered as `internal`. */
  #answer(
    to: NodeId,
    write: ReceivedWrite,
    result: MessageInitShape<typeof ForwardedResultSchema>,
  ): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeForwardedResult(result);
    } catch (error) {
      bytes = encodeForwardedResult({
        result: { case: "error", value: { code: Code.Internal, message: String(error), kind: "" } },
      });
    }
    this.#link.sendAnswer(to, {
      answer: { id: write.id, result: bytes, incarnation: write.incarnation },
    });
  }

  /** The next id: never 0, wrapping within 32 bits, skipping any still waiting. */
  #nextId(): number {
    let id = this.#lastId;
    do id = id >= 0xffff_ffff ? 1 : id + 1; while (this.#pending.has(id));
    return this.#lastId = id;
  }
}
