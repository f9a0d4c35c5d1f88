/**
 * Reads a `RaftBatch` (rpc/proto/prkdb/v1/raft.proto) from its bytes straight into the Raft
 * core's messages: the other half of [raft_wire.ts](./raft_wire.ts). Every batch a peer sends on
 * its stream comes through here, and the generic reader (a reflective walk over the schema, an
 * object per message, per body and per oneof, a BigInt per 64-bit field) was the largest item
 * of JavaScript in a node's profile under reads.
 *
 * It is stricter than the generic reader, never looser: whatever it accepts, the generated code
 * reads the same way (a test compares the two on random batches, on thousands of damaged ones and
 * on batches rebuilt field by field). The cursor ([wire_cursor.ts](./wire_cursor.ts)) says what
 * it refuses that the generic reader lets through; one message is read by
 * [raft_read_message.ts](./raft_read_message.ts). A second call in one write or a second result
 * in one answer is refused too (the generic reader merges them).
 *
 * Unknown fields are skipped, so a batch from a newer node still reads. A message that is
 * well-formed but not valid for the Raft core does not stop the reading: its problem is kept in
 * {@linkcode ReceivedBatch.malformed}, so the receiver can first refuse a batch for who sent it,
 * and then for what it holds.
 *
 * @module
 */
import type { PartitionMessage } from "../partition/transport.ts";
import type { ForwardedCall, ForwardedResult } from "./gen/prkdb/v1/kv_pb.ts";
import { readForwardedCall, readForwardedResult } from "./forwarded_read.ts";
import type { RaftBatch } from "./gen/prkdb/v1/raft_pb.ts";
import { decodeRaftMessage, MalformedMessageError } from "./raft_codec.ts";
import { Checks, readRaftMessage } from "./raft_read_message.ts";
import { Cursor, LEN, VARINT, WireFormatError } from "./wire_cursor.ts";

/**
 * A write passed on to this node in a batch (`StreamedWrite`).
 *
 * @example Usage
 * ```ts
 * import type { ReceivedWrite } from "./raft_read.ts";
 * const w: ReceivedWrite = { id: 1, timeoutMs: 2000, incarnation: 7 };
 * ```
 */
export interface ReceivedWrite {
  /** The sender's number for it; never 0 in a batch that is accepted. */
  readonly id: number;
  /** How long the sender waits for the answer (ms); 0 when it did not say. */
  readonly timeoutMs: number;
  /** The write, when the batch carried one. */
  readonly call?: ForwardedCall;
  /** The sender's random number for this run of it. */
  readonly incarnation: number;
  /** Whether the sender asks for a durable notice; absent when it does not. */
  readonly durableNotice?: boolean;
}

/**
 * An answer to a write this node passed on (`StreamedAnswer`).
 *
 * @example Usage
 * ```ts
 * import type { ReceivedAnswer } from "./raft_read.ts";
 * const a: ReceivedAnswer = { id: 1, incarnation: 7 };
 * ```
 */
export interface ReceivedAnswer {
  /** The number the write went out with. */
  readonly id: number;
  /** The leader's result, when the batch carried one. */
  readonly result?: ForwardedResult;
  /** The write's `incarnation`. */
  readonly incarnation: number;
}

/**
 * A leader's notice that the entry of a write this node passed on is durable on it
 * (`StreamedDurable`).
 *
 * @example Usage
 * ```ts
 * import type { ReceivedDurable } from "./raft_read.ts";
 * const d: ReceivedDurable = { id: 1, incarnation: 7, partition: 0, index: 42, term: 3 };
 * ```
 */
export interface ReceivedDurable {
  /** The number the write went out with. */
  readonly id: number;
  /** The write's `incarnation`. */
  readonly incarnation: number;
  /** The partition whose log holds the write. */
  readonly partition: number;
  /** The write's log entry. */
  readonly index: number;
  /** The entry's term. */
  readonly term: number;
}

/**
 * A batch as a peer sent it, read and checked.
 *
 * @example Usage
 * ```ts
 * import type { ReceivedBatch } from "./raft_read.ts";
 * const ping: ReceivedBatch = {
 *   from: 2, cluster: "c1", messages: [], leading: new Uint8Array([1]), writes: [], answers: [],
 *   durable: [], malformed: undefined,
 * };
 * ```
 */
export interface ReceivedBatch {
  /** The node that says it sent the batch. */
  readonly from: number;
  /** The cluster it says it belongs to. */
  readonly cluster: string;
  /**
   * The Raft messages, each with its partition. When `malformed` is set, there is still one
   * entry per message the batch carried (for counting what is refused), but some stand in for a
   * message that could not be built, as from node 0.
   */
  readonly messages: readonly PartitionMessage[];
  /** The partitions the sender leads, as a bitset (in a ping); empty otherwise. */
  readonly leading: Uint8Array;
  /** Writes passed on to partitions this node leads. */
  readonly writes: readonly ReceivedWrite[];
  /** Answers to writes this node passed on. */
  readonly answers: readonly ReceivedAnswer[];
  /** Notices that writes this node passed on are durable on their leader. */
  readonly durable: readonly ReceivedDurable[];
  /**
   * The first thing wrong with a message (a number beyond the limit, entries out of sequence, a
   * message with no body, ...), in the words of `MalformedMessageError.detail`: the batch must be
   * refused whole. Undefined when all is well.
   */
  readonly malformed: string | undefined;
}

/** Strict UTF-8, as the generated reader reads a string: a leading U+FEFF is text, kept. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Longest string read without the decoder when it is all ASCII. */
const SHORT = 64;

/** A string field; the cluster's name in every batch, so short ASCII skips the decoder's call. */
function text(bytes: Uint8Array): string {
  if (bytes.length <= SHORT) {
    let ascii = true;
    for (let i = 0; i < bytes.length && ascii; i++) ascii = bytes[i] < 0x80;
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new WireFormatError("a string that is not UTF-8");
  }
}

/** No bytes: what an absent bytes field reads as (shared; it has nothing to change). */
const NONE: Uint8Array = new Uint8Array(0);

function streamedWrite(c: Cursor): ReceivedWrite {
  let id = 0, timeoutMs = 0, incarnation = 0;
  let durableNotice = false;
  let call: ForwardedCall | undefined;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      c.expect(wire, VARINT, field, "write id");
      id = c.uint32();
    } else if (field === 2) {
      c.expect(wire, VARINT, field, "write timeout");
      timeoutMs = c.uint32();
    } else if (field === 3) {
      c.expect(wire, LEN, field, "write call");
      if (call) throw new WireFormatError("a write with two calls");
      const bytes = c.bytes();
      call = generated(() => readForwardedCall(bytes));
    } else if (field === 4) {
      c.expect(wire, VARINT, field, "write incarnation");
      incarnation = c.uint32();
    } else if (field === 5) {
      c.expect(wire, VARINT, field, "write durable notice");
      durableNotice = c.varint() !== 0;
    } else c.skip(wire, field);
  }
  const write: ReceivedWrite = call
    ? { id, timeoutMs, call, incarnation }
    : { id, timeoutMs, incarnation };
  return durableNotice ? { ...write, durableNotice } : write;
}

function streamedDurable(c: Cursor): ReceivedDurable {
  let id = 0, incarnation = 0, index = 0, term = 0, partition = 0;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      c.expect(wire, VARINT, field, "durable id");
      id = c.uint32();
    } else if (field === 2) {
      c.expect(wire, VARINT, field, "durable incarnation");
      incarnation = c.uint32();
    } else if (field === 3) {
      c.expect(wire, VARINT, field, "durable index");
      index = c.varint();
    } else if (field === 4) {
      c.expect(wire, VARINT, field, "durable term");
      term = c.varint();
    } else if (field === 5) {
      c.expect(wire, VARINT, field, "durable partition");
      partition = c.uint32();
    } else c.skip(wire, field);
  }
  return { id, incarnation, partition, index, term };
}

function streamedAnswer(c: Cursor): ReceivedAnswer {
  let id = 0, incarnation = 0;
  let result: ForwardedResult | undefined;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      c.expect(wire, VARINT, field, "answer id");
      id = c.uint32();
    } else if (field === 2) {
      c.expect(wire, LEN, field, "answer result");
      if (result) throw new WireFormatError("an answer with two results");
      const bytes = c.bytes();
      result = generated(() => readForwardedResult(bytes));
    } else if (field === 3) {
      c.expect(wire, VARINT, field, "answer incarnation");
      incarnation = c.uint32();
    } else c.skip(wire, field);
  }
  return result ? { id, result, incarnation } : { id, incarnation };
}

/**
 * A write's call or an answer's result (one per write passed on, against several Raft
 * messages), read by [forwarded_read.ts](./forwarded_read.ts) into the generated types that the
 * code serving them takes; whatever it refuses is a wire format error of the batch.
 */
function generated<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new WireFormatError((error as Error).message);
  }
}

/**
 * Reads a `RaftBatch`.
 *
 * @param bytes The batch's bytes, as a peer sent them. Byte fields of the result (entries'
 * data, snapshot chunks, `leading`) are views into them, not copies.
 * @returns The batch. A message that is well-formed on the wire but not a valid Raft message is
 * reported in `malformed`, not thrown.
 * @throws {WireFormatError} When the bytes are not a batch in the wire format.
 *
 * @example Usage
 * ```ts
 * import { encodeRaftBatch } from "./raft_wire.ts";
 * import { readRaftBatch } from "./raft_read.ts";
 * const bytes = encodeRaftBatch(1, new TextEncoder().encode("c1"), [{
 *   partition: 3,
 *   message: { type: "HeartbeatResponse", from: 1, to: 2, term: 7, readRound: 4 },
 * }]);
 * const batch = readRaftBatch(bytes);
 * console.log(batch.messages[0].partition, batch.malformed); // 3 undefined
 * ```
 */
export function readRaftBatch(bytes: Uint8Array): ReceivedBatch {
  const c = new Cursor(bytes);
  const checks = new Checks();
  let from = 0;
  let cluster = "";
  let leading = NONE;
  const messages: PartitionMessage[] = [];
  const writes: ReceivedWrite[] = [];
  const answers: ReceivedAnswer[] = [];
  const durable: ReceivedDurable[] = [];
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    switch (field) {
      case 1:
        c.expect(wire, VARINT, field, "from");
        from = c.uint32();
        break;
      case 2:
        c.expect(wire, LEN, field, "cluster");
        cluster = text(c.bytes());
        break;
      case 3:
        c.expect(wire, LEN, field, "message");
        messages.push(readRaftMessage(c, checks));
        break;
      case 4:
        c.expect(wire, LEN, field, "leading");
        leading = c.bytes();
        break;
      case 5:
        c.expect(wire, LEN, field, "write");
        writes.push(c.within(streamedWrite));
        break;
      case 6:
        c.expect(wire, LEN, field, "answer");
        answers.push(c.within(streamedAnswer));
        break;
      case 7:
        c.expect(wire, LEN, field, "durable");
        durable.push(c.within(streamedDurable));
        break;
      default:
        c.skip(wire, field);
    }
  }
  return {
    from,
    cluster,
    messages,
    leading,
    writes,
    answers,
    durable,
    malformed: checks.problem,
  };
}

/**
 * A batch the generated code read (a unary peer call, a stream in JSON) in the form
 * {@linkcode readRaftBatch} gives, so both are checked by the same code. As there, the first
 * message that is not valid is reported in `malformed`, and no message after it is decoded.
 *
 * @param batch The batch.
 * @returns The batch with the core's messages.
 *
 * @example Usage
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { RaftBatchSchema } from "./gen/prkdb/v1/raft_pb.ts";
 * import { receivedFromGenerated } from "./raft_read.ts";
 * const b = receivedFromGenerated(create(RaftBatchSchema, { from: 2, cluster: "c1" }));
 * console.log(b.from, b.messages.length, b.malformed); // 2 0 undefined
 * ```
 */
export function receivedFromGenerated(batch: RaftBatch): ReceivedBatch {
  let malformed: string | undefined;
  const messages: PartitionMessage[] = [];
  for (const m of batch.messages) {
    if (malformed === undefined) {
      try {
        messages.push(decodeRaftMessage(m));
        continue;
      } catch (error) {
        if (!(error instanceof MalformedMessageError)) throw error;
        malformed = error.detail;
      }
    }
    // Counted like the others: the whole batch is refused, with its number of messages.
    messages.push({ partition: m.partition, message: UNDELIVERABLE });
  }
  return {
    from: batch.from,
    cluster: batch.cluster,
    messages,
    leading: batch.leading,
    writes: batch.writes,
    answers: batch.answers,
    durable: batch.durable.map((d) => ({
      id: d.id,
      incarnation: d.incarnation,
      partition: d.partition,
      index: Number(d.index),
      term: Number(d.term),
    })),
    malformed,
  };
}

/** What stands in for a message that could not be decoded: from node 0, never accepted. */
const UNDELIVERABLE = { type: "TimeoutNow", from: 0, to: 0, term: 0 } as const;
