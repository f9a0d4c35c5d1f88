/**
 * Reads a `RaftBatch` (rpc/proto/prkdb/v1/raft.proto) from its bytes straight into the Raft
 * core's messages: the other half of [raft_wire.ts](./raft_wire.ts). Every batch a peer sends on
 * its stream comes through here, and the generic reader (a reflective walk over the schema, an
 * object per message, per body and per oneof, a BigInt per 64-bit field) was the largest item
 * of JavaScript in a node's profile under reads.
 *
 * It is stricter than the generic reader, never looser: whatever it accepts, the generated code
 * reads the same way (a test compares the two on random batches and on thousands of damaged
 * ones). It refuses, as the wire format allows a reader to:
 *
 * - a nested message whose fields run past its own length (the generic reader notices only the
 *   end of the buffer);
 * - a known field with the wrong wire type (the generic reader reads it as its own type anyway);
 * - a varint beyond 64 bits, a 32-bit field beyond 32 bits (the generic reader drops the high
 *   bits), and groups, which proto3 never writes;
 * - a second body in one message, a second membership in one snapshot, a second call in one
 *   write (the generic reader merges them).
 *
 * Unknown fields are skipped, so a batch from a newer node still reads. Numbers the Raft core
 * takes are checked against {@linkcode MAX_WIRE_NUMBER}, and entries, memberships and bodies as
 * [raft_codec.ts](./raft_codec.ts) checks them; such a problem does not stop the reading. It is
 * kept in {@linkcode ReceivedBatch.malformed}, so the receiver can first refuse a batch for who
 * sent it, and then for what it holds.
 *
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import type { Entry, Membership, Message } from "../raft/mod.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import {
  type ForwardedCall,
  ForwardedCallSchema,
  type ForwardedResult,
  ForwardedResultSchema,
} from "./gen/prkdb/v1/kv_pb.ts";
import {
  entryTypeFromWire,
  MalformedMessageError,
  MAX_WIRE_NUMBER,
  membershipFromWire,
} from "./raft_codec.ts";

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
 * A batch as a peer sent it, read and checked.
 *
 * @example Usage
 * ```ts
 * import type { ReceivedBatch } from "./raft_read.ts";
 * const ping: ReceivedBatch = {
 *   from: 2, cluster: "c1", messages: [], leading: new Uint8Array([1]), writes: [], answers: [],
 *   malformed: undefined,
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
   * entry per message the batch carried (for counting what is refused), but some are incomplete.
   */
  readonly messages: readonly PartitionMessage[];
  /** The partitions the sender leads, as a bitset (in a ping); empty otherwise. */
  readonly leading: Uint8Array;
  /** Writes passed on to partitions this node leads. */
  readonly writes: readonly ReceivedWrite[];
  /** Answers to writes this node passed on. */
  readonly answers: readonly ReceivedAnswer[];
  /**
   * The first thing wrong with a message (a number beyond the limit, entries out of sequence, a
   * message with no body, ...): the batch must be refused whole. Undefined when all is well.
   */
  readonly malformed: string | undefined;
}

/**
 * Thrown for bytes that are not a `RaftBatch` in the wire format this reader takes.
 *
 * @example Usage
 * ```ts
 * import { readRaftBatch, WireFormatError } from "./raft_read.ts";
 * try {
 *   readRaftBatch(new Uint8Array([0x08])); // a tag, and no value after it
 * } catch (error) {
 *   console.log(error instanceof WireFormatError); // true
 * }
 * ```
 */
export class WireFormatError extends Error {
  /** @param detail What is wrong, and where. */
  constructor(detail: string) {
    super(detail);
    this.name = "WireFormatError";
  }
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A cursor over the batch; `end` is where the message being read ends. */
class Cursor {
  pos = 0;
  end: number;
  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
  }

  /** A varint of up to 64 bits, as a number (exact up to 2^53, which is all the core takes). */
  varint(): number {
    const buf = this.buf;
    let b = buf[this.pos];
    if (this.pos < this.end && b < 128) {
      this.pos++;
      return b;
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireFormatError(`a varint runs past its end`);
      b = buf[this.pos++];
      if (i === 9 && b > 1) throw new WireFormatError("a varint overflows 64 bits");
      value += (b & 127) * scale;
      if (b < 128) return value;
      scale *= 128;
    }
    throw new WireFormatError("a varint overflows 64 bits");
  }

  /** A varint that must fit in 32 bits. */
  uint32(): number {
    const v = this.varint();
    if (v > 0xffff_ffff) throw new WireFormatError(`${v} does not fit a 32-bit field`);
    return v;
  }

  /** A field's tag: its number is `tag >>> 3`, its wire type `tag & 7`. */
  tag(): number {
    const start = this.pos;
    const t = this.uint32();
    if (this.pos - start > 5) throw new WireFormatError("a tag longer than five bytes");
    if (t < 8) throw new WireFormatError("a field numbered 0");
    return t;
  }

  /** The length of a length-delimited field, checked against the end of its message. */
  length(): number {
    const n = this.uint32();
    if (n > this.end - this.pos) {
      throw new WireFormatError(`a field of ${n} bytes runs past its end`);
    }
    return n;
  }

  /** A length-delimited field's bytes (a view into the batch, not a copy). */
  bytes(): Uint8Array {
    const n = this.length();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * Enters a nested message: its length comes first, and its fields must end exactly there.
   * Returns the enclosing message's end, for {@linkcode Cursor.leave}.
   */
  enter(): number {
    const n = this.length();
    const outer = this.end;
    this.end = this.pos + n;
    return outer;
  }

  /**
   * Leaves a nested message, back to the enclosing one, which ends at `outer`. No read goes
   * past `end`, so the check is a guard against a mistake in this file.
   */
  leave(outer: number): void {
    if (this.pos !== this.end) throw new WireFormatError("a nested message runs past its length");
    this.end = outer;
  }

  /** Skips a field this reader does not know. */
  skip(wire: number, field: number): void {
    switch (wire) {
      case VARINT:
        this.varint();
        return;
      case I64:
        return this.advance(8);
      case LEN:
        return this.advance(this.length());
      case I32:
        return this.advance(4);
      default:
        throw new WireFormatError(`field ${field} has wire type ${wire}, which is not read`);
    }
  }

  advance(n: number): void {
    if (n > this.end - this.pos) throw new WireFormatError("a field runs past its end");
    this.pos += n;
  }
}

/** Reads a nested message with `read`. */
function within<T>(c: Cursor, read: (c: Cursor) => T): T {
  const outer = c.enter();
  const value = read(c);
  c.leave(outer);
  return value;
}

/** Fails unless a known field came with the wire type its kind uses. */
function expect(wire: number, want: number, field: number, what: string): void {
  if (wire !== want) {
    throw new WireFormatError(`${what} field ${field} has wire type ${wire}, not ${want}`);
  }
}

/** Checks as it reads: the first problem is kept, and the reading goes on. */
class Checks {
  problem: string | undefined;

  /** A 64-bit field the core takes: at most MAX_WIRE_NUMBER. */
  number(v: number, field: string): number {
    if (v > MAX_WIRE_NUMBER) {
      this.problem ??= new MalformedMessageError(
        `${field} ${v} is beyond the limit of ${MAX_WIRE_NUMBER}`,
      ).message;
      return 0;
    }
    return v;
  }

  /** Runs a check of raft_codec.ts, keeping its complaint. */
  run<T>(check: () => T, fallback: T): T {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      this.problem ??= error.message;
      return fallback;
    }
  }
}

/** A 64-bit varint field of a body, checked. */
function u64(c: Cursor, wire: number, field: number, name: string, checks: Checks): number {
  expect(wire, VARINT, field, name);
  return checks.number(c.varint(), name);
}

/** A bool field: any varint other than 0 is true. */
function bool(c: Cursor, wire: number, field: number, name: string): boolean {
  expect(wire, VARINT, field, name);
  return c.varint() !== 0;
}

/** A packed (or, as a reader must also take, unpacked) list of 32-bit ids. */
function ids(c: Cursor, wire: number, field: number, into: number[]): void {
  if (wire === VARINT) return void into.push(c.uint32());
  expect(wire, LEN, field, "id list");
  const outer = c.enter();
  while (c.pos < c.end) into.push(c.uint32());
  c.leave(outer);
}

function membershipBody(c: Cursor): { voters: number[]; learners: number[] } {
  const m = { voters: [] as number[], learners: [] as number[] };
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) ids(c, wire, field, m.voters);
    else if (field === 2) ids(c, wire, field, m.learners);
    else c.skip(wire, field);
  }
  return m;
}

/** One `Entry`, unchecked; its place in the sequence is checked by its message. */
function entryBody(c: Cursor) {
  let index = 0, term = 0, type = 0;
  let data = EMPTY;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    switch (field) {
      case 1:
        expect(wire, VARINT, field, "entry index");
        index = c.varint();
        break;
      case 2:
        expect(wire, VARINT, field, "entry term");
        term = c.varint();
        break;
      case 3:
        expect(wire, VARINT, field, "entry type");
        // An open enum is an int32: the low 32 bits, signed.
        type = c.uint32() | 0;
        break;
      case 4:
        expect(wire, LEN, field, "entry data");
        data = c.bytes();
        break;
      default:
        c.skip(wire, field);
    }
  }
  return { index, term, type, data };
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** The fields of one message body, by kind; `head` already holds from, to and term. */
function body(c: Cursor, kind: number, head: Head, checks: Checks): Message {
  const outer = c.enter();
  const message = bodyFields(c, kind, head, checks);
  c.leave(outer);
  return message;
}

function bodyFields(r: Cursor, kind: number, head: Head, checks: Checks): Message {
  {
    switch (kind) {
      case 10: {
        let preVote = false, lastLogIndex = 0, lastLogTerm = 0, leadershipTransfer = false;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) preVote = bool(r, wire, field, "preVote");
          else if (field === 2) lastLogIndex = u64(r, wire, field, "lastLogIndex", checks);
          else if (field === 3) lastLogTerm = u64(r, wire, field, "lastLogTerm", checks);
          else if (field === 4) leadershipTransfer = bool(r, wire, field, "leadershipTransfer");
          else r.skip(wire, field);
        }
        return { ...head, type: "Vote", preVote, lastLogIndex, lastLogTerm, leadershipTransfer };
      }
      case 11: {
        let preVote = false, granted = false;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) preVote = bool(r, wire, field, "preVote");
          else if (field === 2) granted = bool(r, wire, field, "granted");
          else r.skip(wire, field);
        }
        return { ...head, type: "VoteResponse", preVote, granted };
      }
      case 12:
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          r.skip(wire, field);
        }
        return { ...head, type: "TimeoutNow" };
      case 13:
        return appendEntries(r, head, checks);
      case 14: {
        let success = false, matchIndex = 0, rejectedIndex = 0, hintIndex = 0, hintTerm = 0;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) success = bool(r, wire, field, "success");
          else if (field === 2) matchIndex = u64(r, wire, field, "matchIndex", checks);
          else if (field === 3) rejectedIndex = u64(r, wire, field, "rejectedIndex", checks);
          else if (field === 4) hintIndex = u64(r, wire, field, "hintIndex", checks);
          else if (field === 5) hintTerm = u64(r, wire, field, "hintTerm", checks);
          else r.skip(wire, field);
        }
        return {
          ...head,
          type: "AppendEntriesResponse",
          success,
          matchIndex,
          rejectedIndex,
          hintIndex,
          hintTerm,
        };
      }
      case 15: {
        let leaderCommit = 0, readRound = 0, quiesce = false;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) leaderCommit = u64(r, wire, field, "leaderCommit", checks);
          else if (field === 2) readRound = u64(r, wire, field, "readRound", checks);
          else if (field === 3) quiesce = bool(r, wire, field, "quiesce");
          else r.skip(wire, field);
        }
        return {
          ...head,
          type: "Heartbeat",
          leaderCommit,
          readRound,
          ...(quiesce && { quiesce: true }),
        };
      }
      case 16: {
        let readRound = 0;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) readRound = u64(r, wire, field, "readRound", checks);
          else r.skip(wire, field);
        }
        return { ...head, type: "HeartbeatResponse", readRound };
      }
      case 17:
        return installSnapshot(r, head, checks);
      case 18: {
        let snapshotIndex = 0, nextOffset = 0, installed = false;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) snapshotIndex = u64(r, wire, field, "snapshotIndex", checks);
          else if (field === 2) nextOffset = u64(r, wire, field, "nextOffset", checks);
          else if (field === 3) installed = bool(r, wire, field, "installed");
          else r.skip(wire, field);
        }
        return { ...head, type: "InstallSnapshotResponse", snapshotIndex, nextOffset, installed };
      }
      case 19: {
        let context = 0;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) context = u64(r, wire, field, "context", checks);
          else r.skip(wire, field);
        }
        return { ...head, type: "ReadIndex", context };
      }
      default: {
        let context = 0, index = 0;
        while (r.pos < r.end) {
          const t = r.tag(), field = t >>> 3, wire = t & 7;
          if (field === 1) context = u64(r, wire, field, "context", checks);
          else if (field === 2) index = u64(r, wire, field, "index", checks);
          else r.skip(wire, field);
        }
        return { ...head, type: "ReadIndexResponse", context, index };
      }
    }
  }
}

function appendEntries(r: Cursor, head: Head, checks: Checks): Message {
  let prevLogIndex = 0, prevLogTerm = 0, leaderCommit = 0;
  const raw: ReturnType<typeof entryBody>[] = [];
  while (r.pos < r.end) {
    const t = r.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) prevLogIndex = u64(r, wire, field, "prevLogIndex", checks);
    else if (field === 2) prevLogTerm = u64(r, wire, field, "prevLogTerm", checks);
    else if (field === 3) {
      expect(wire, LEN, field, "entry");
      raw.push(within(r, entryBody));
    } else if (field === 4) leaderCommit = u64(r, wire, field, "leaderCommit", checks);
    else r.skip(wire, field);
  }
  // Entries are checked once the whole message is read: prevLogIndex may come after them.
  const entries: Entry[] = [];
  for (let i = 0; i < raw.length; i++) {
    const e = raw[i];
    const index = checks.number(e.index, "entry index");
    if (index !== prevLogIndex + 1 + i) {
      checks.problem ??= new MalformedMessageError(
        `entry ${index} out of sequence after ${prevLogIndex}`,
      ).message;
    }
    entries.push({
      index,
      term: checks.number(e.term, "entry term"),
      type: checks.run(() => entryTypeFromWire(e.type, e.data, index), "normal"),
      data: e.data,
    });
  }
  return { ...head, type: "AppendEntries", prevLogIndex, prevLogTerm, entries, leaderCommit };
}

function installSnapshot(r: Cursor, head: Head, checks: Checks): Message {
  let snapshotIndex = 0, snapshotTerm = 0, offset = 0, done = false;
  let data = EMPTY;
  let members: { voters: number[]; learners: number[] } | undefined;
  while (r.pos < r.end) {
    const t = r.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) snapshotIndex = u64(r, wire, field, "snapshotIndex", checks);
    else if (field === 2) snapshotTerm = u64(r, wire, field, "snapshotTerm", checks);
    else if (field === 3) offset = u64(r, wire, field, "offset", checks);
    else if (field === 4) {
      expect(wire, LEN, field, "snapshot data");
      data = r.bytes();
    } else if (field === 5) done = bool(r, wire, field, "done");
    else if (field === 6) {
      expect(wire, LEN, field, "membership");
      if (members) throw new WireFormatError("a snapshot with two memberships");
      members = within(r, membershipBody);
    } else r.skip(wire, field);
  }
  const found = members;
  const membership = found && checks.run<Membership | undefined>(
    () => membershipFromWire(found),
    undefined,
  );
  return {
    ...head,
    type: "InstallSnapshot",
    snapshotIndex,
    snapshotTerm,
    offset,
    data,
    done,
    ...(membership && { membership }),
  };
}

interface Head {
  from: number;
  to: number;
  term: number;
}

/** One `RaftMessage`: the envelope, then its body, whose field number says its kind. */
function raftMessage(c: Cursor, checks: Checks): PartitionMessage {
  let partition = 0;
  const head: Head = { from: 0, to: 0, term: 0 };
  let bodyAt = -1;
  let kind = 0;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      expect(wire, VARINT, field, "partition");
      partition = c.uint32();
    } else if (field === 2) {
      expect(wire, VARINT, field, "from");
      head.from = c.uint32();
    } else if (field === 3) {
      expect(wire, VARINT, field, "to");
      head.to = c.uint32();
    } else if (field === 4) {
      expect(wire, VARINT, field, "term");
      head.term = c.varint();
    } else if (field >= 10 && field <= 20) {
      expect(wire, LEN, field, "body");
      if (bodyAt >= 0) throw new WireFormatError("a message with two bodies");
      // The body is read once the envelope is whole: a term may come after it.
      bodyAt = c.pos;
      kind = field;
      c.advance(c.length());
    } else c.skip(wire, field);
  }
  head.term = checks.number(head.term, "term");
  if (bodyAt < 0) {
    checks.problem ??= new MalformedMessageError("it carries no body").message;
    return { partition, message: { ...head, type: "TimeoutNow" } };
  }
  const after = c.pos;
  c.pos = bodyAt;
  const message = body(c, kind, head, checks);
  c.pos = after;
  return { partition, message };
}

function streamedWrite(c: Cursor): ReceivedWrite {
  let id = 0, timeoutMs = 0, incarnation = 0;
  let call: ForwardedCall | undefined;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      expect(wire, VARINT, field, "write id");
      id = c.uint32();
    } else if (field === 2) {
      expect(wire, VARINT, field, "write timeout");
      timeoutMs = c.uint32();
    } else if (field === 3) {
      expect(wire, LEN, field, "write call");
      if (call) throw new WireFormatError("a write with two calls");
      const bytes = c.bytes();
      call = generated(() => fromBinary(ForwardedCallSchema, bytes));
    } else if (field === 4) {
      expect(wire, VARINT, field, "write incarnation");
      incarnation = c.uint32();
    } else c.skip(wire, field);
  }
  return call ? { id, timeoutMs, call, incarnation } : { id, timeoutMs, incarnation };
}

function streamedAnswer(c: Cursor): ReceivedAnswer {
  let id = 0, incarnation = 0;
  let result: ForwardedResult | undefined;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      expect(wire, VARINT, field, "answer id");
      id = c.uint32();
    } else if (field === 2) {
      expect(wire, LEN, field, "answer result");
      if (result) throw new WireFormatError("an answer with two results");
      const bytes = c.bytes();
      result = generated(() => fromBinary(ForwardedResultSchema, bytes));
    } else if (field === 3) {
      expect(wire, VARINT, field, "answer incarnation");
      incarnation = c.uint32();
    } else c.skip(wire, field);
  }
  return result ? { id, result, incarnation } : { id, incarnation };
}

/**
 * A write's call or an answer's result, read by the generated code: one per write passed on,
 * against several Raft messages, and served by code that takes the generated types.
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
  let leading = EMPTY;
  const messages: PartitionMessage[] = [];
  const writes: ReceivedWrite[] = [];
  const answers: ReceivedAnswer[] = [];
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    switch (field) {
      case 1:
        expect(wire, VARINT, field, "from");
        from = c.uint32();
        break;
      case 2:
        expect(wire, LEN, field, "cluster");
        try {
          cluster = utf8.decode(c.bytes());
        } catch {
          throw new WireFormatError("the cluster name is not UTF-8");
        }
        break;
      case 3:
        expect(wire, LEN, field, "message");
        {
          const outer = c.enter();
          messages.push(raftMessage(c, checks));
          c.leave(outer);
        }
        break;
      case 4:
        expect(wire, LEN, field, "leading");
        leading = c.bytes();
        break;
      case 5:
        expect(wire, LEN, field, "write");
        writes.push(within(c, streamedWrite));
        break;
      case 6:
        expect(wire, LEN, field, "answer");
        answers.push(within(c, streamedAnswer));
        break;
      default:
        c.skip(wire, field);
    }
  }
  return { from, cluster, messages, leading, writes, answers, malformed: checks.problem };
}
