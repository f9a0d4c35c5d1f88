/**
 * Reads one `RaftMessage` of a peer batch from its bytes straight into the Raft core's
 * {@linkcode Message}, for [raft_read.ts](./raft_read.ts): the envelope (partition, from, to,
 * term), then the body, whose field number says its kind.
 *
 * Two kinds of trouble, told apart:
 *
 * - bytes that are not a message in the wire format throw a `WireFormatError`
 *   ([wire_cursor.ts](./wire_cursor.ts)), as do a second body in one message and a second
 *   membership in one snapshot (the generated reader merges those);
 * - a message that is well-formed but not valid for the core (a number beyond
 *   {@linkcode MAX_WIRE_NUMBER}, entries out of sequence, an unknown entry type, a snapshot
 *   membership without voters, no body) is noted in {@linkcode Checks} and the reading goes on,
 *   so the receiver can refuse the batch first for who sent it, then for what it holds. After the
 *   first problem no further check runs: the batch is refused whole anyway, and a batch full of
 *   bad entries must not cost more to read than a good one.
 *
 * @module
 */
import type { Entry, Membership, Message } from "../raft/mod.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import {
  entryTypeFromWire,
  MalformedMessageError,
  MAX_WIRE_NUMBER,
  membershipFromWire,
} from "./raft_codec.ts";
import { type Cursor, LEN, VARINT, WireFormatError } from "./wire_cursor.ts";

/**
 * The first problem found in a batch's messages, if any.
 *
 * @example Usage
 * ```ts
 * import { Checks } from "./raft_read_message.ts";
 * const checks = new Checks();
 * checks.number(2 ** 50, "term");
 * console.log(checks.problem); // "term 1125899906842624 is beyond the limit of 281474976710656"
 * ```
 */
export class Checks {
  /** What is wrong, in the words of `MalformedMessageError.detail`; undefined while all is well. */
  problem: string | undefined;

  /**
   * A 64-bit field the core takes: at most {@linkcode MAX_WIRE_NUMBER}.
   *
   * @param v The value read.
   * @param field Its name, for the problem.
   * @returns The value, or 0 when it is beyond the limit.
   */
  number(v: number, field: string): number {
    if (v <= MAX_WIRE_NUMBER) return v;
    this.problem ??= `${field} ${v} is beyond the limit of ${MAX_WIRE_NUMBER}`;
    return 0;
  }

  /**
   * Notes a problem; the first one is kept.
   *
   * @param detail What is wrong.
   */
  fail(detail: string): void {
    this.problem ??= detail;
  }

  /**
   * Runs one of raft_codec.ts's checks, noting its complaint; once a problem is known, returns
   * `fallback` without running it.
   *
   * @param check The check.
   * @param fallback What to return instead of its result.
   * @returns The check's result, or `fallback`.
   */
  run<T>(check: () => T, fallback: T): T {
    if (this.problem !== undefined) return fallback;
    try {
      return check();
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      this.problem = error.detail;
      return fallback;
    }
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** A 64-bit varint field of a body, checked. */
function u64(c: Cursor, wire: number, field: number, name: string, checks: Checks): number {
  c.expect(wire, VARINT, field, name);
  return checks.number(c.varint(), name);
}

/** A bool field: any varint other than 0 is true. */
function bool(c: Cursor, wire: number, field: number, name: string): boolean {
  c.expect(wire, VARINT, field, name);
  return c.varint() !== 0;
}

/** A packed (or, as a reader must also take, unpacked) list of 32-bit ids. */
function ids(c: Cursor, wire: number, field: number, into: number[]): void {
  if (wire === VARINT) return void into.push(c.uint32());
  c.expect(wire, LEN, field, "id list");
  const outer = c.enter();
  while (c.pos < c.end) into.push(c.uint32());
  c.leave(outer);
}

/** A `Membership`, unchecked. */
function membershipFields(c: Cursor): { voters: number[]; learners: number[] } {
  const m = { voters: [] as number[], learners: [] as number[] };
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) ids(c, wire, field, m.voters);
    else if (field === 2) ids(c, wire, field, m.learners);
    else c.skip(wire, field);
  }
  return m;
}

/** One `Entry`, unchecked: its message checks it once it knows `prevLogIndex`. */
function entryFields(c: Cursor) {
  let index = 0, term = 0, type = 0;
  let data = EMPTY;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      c.expect(wire, VARINT, field, "entry index");
      index = c.varint();
    } else if (field === 2) {
      c.expect(wire, VARINT, field, "entry term");
      term = c.varint();
    } else if (field === 3) {
      c.expect(wire, VARINT, field, "entry type");
      // An open enum is an int32: the low 32 bits, signed.
      type = c.uint32() | 0;
    } else if (field === 4) {
      c.expect(wire, LEN, field, "entry data");
      data = c.bytes();
    } else c.skip(wire, field);
  }
  return { index, term, type, data };
}

/** From, to and term: what every message carries. */
interface Head {
  from: number;
  to: number;
  term: number;
}

function appendEntries(c: Cursor, head: Head, checks: Checks): Message {
  let prevLogIndex = 0, prevLogTerm = 0, leaderCommit = 0;
  const raw: ReturnType<typeof entryFields>[] = [];
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) prevLogIndex = u64(c, wire, field, "prevLogIndex", checks);
    else if (field === 2) prevLogTerm = u64(c, wire, field, "prevLogTerm", checks);
    else if (field === 3) {
      c.expect(wire, LEN, field, "entry");
      raw.push(c.within(entryFields));
    } else if (field === 4) leaderCommit = u64(c, wire, field, "leaderCommit", checks);
    else c.skip(wire, field);
  }
  const entries: Entry[] = [];
  for (let i = 0; i < raw.length; i++) {
    const e = raw[i];
    const index = checks.number(e.index, "entry index");
    if (index !== prevLogIndex + 1 + i && checks.problem === undefined) {
      checks.fail(`entry ${index} out of sequence after ${prevLogIndex}`);
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

function installSnapshot(c: Cursor, head: Head, checks: Checks): Message {
  let snapshotIndex = 0, snapshotTerm = 0, offset = 0, done = false;
  let data = EMPTY;
  let members: { voters: number[]; learners: number[] } | undefined;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) snapshotIndex = u64(c, wire, field, "snapshotIndex", checks);
    else if (field === 2) snapshotTerm = u64(c, wire, field, "snapshotTerm", checks);
    else if (field === 3) offset = u64(c, wire, field, "offset", checks);
    else if (field === 4) {
      c.expect(wire, LEN, field, "snapshot data");
      data = c.bytes();
    } else if (field === 5) done = bool(c, wire, field, "done");
    else if (field === 6) {
      c.expect(wire, LEN, field, "membership");
      if (members) throw new WireFormatError("a snapshot with two memberships");
      members = c.within(membershipFields);
    } else c.skip(wire, field);
  }
  const found = members;
  const membership = found &&
    checks.run<Membership | undefined>(() => membershipFromWire(found), undefined);
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

/**
 * The fields of one message body (the cursor inside it), by the body's field number in
 * `RaftMessage`.
 */
function bodyFields(c: Cursor, kind: number, head: Head, checks: Checks): Message {
  switch (kind) {
    case 10: {
      let preVote = false, lastLogIndex = 0, lastLogTerm = 0, leadershipTransfer = false;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) preVote = bool(c, wire, field, "preVote");
        else if (field === 2) lastLogIndex = u64(c, wire, field, "lastLogIndex", checks);
        else if (field === 3) lastLogTerm = u64(c, wire, field, "lastLogTerm", checks);
        else if (field === 4) leadershipTransfer = bool(c, wire, field, "leadershipTransfer");
        else c.skip(wire, field);
      }
      return { ...head, type: "Vote", preVote, lastLogIndex, lastLogTerm, leadershipTransfer };
    }
    case 11: {
      let preVote = false, granted = false;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) preVote = bool(c, wire, field, "preVote");
        else if (field === 2) granted = bool(c, wire, field, "granted");
        else c.skip(wire, field);
      }
      return { ...head, type: "VoteResponse", preVote, granted };
    }
    case 12:
      while (c.pos < c.end) {
        const t = c.tag();
        c.skip(t & 7, t >>> 3);
      }
      return { ...head, type: "TimeoutNow" };
    case 13:
      return appendEntries(c, head, checks);
    case 14: {
      let success = false, matchIndex = 0, rejectedIndex = 0, hintIndex = 0, hintTerm = 0;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) success = bool(c, wire, field, "success");
        else if (field === 2) matchIndex = u64(c, wire, field, "matchIndex", checks);
        else if (field === 3) rejectedIndex = u64(c, wire, field, "rejectedIndex", checks);
        else if (field === 4) hintIndex = u64(c, wire, field, "hintIndex", checks);
        else if (field === 5) hintTerm = u64(c, wire, field, "hintTerm", checks);
        else c.skip(wire, field);
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
      let leaderCommit = 0, readRound = 0, quiesce = false, commitOnly = false;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) leaderCommit = u64(c, wire, field, "leaderCommit", checks);
        else if (field === 2) readRound = u64(c, wire, field, "readRound", checks);
        else if (field === 3) quiesce = bool(c, wire, field, "quiesce");
        else if (field === 4) commitOnly = bool(c, wire, field, "commitOnly");
        else c.skip(wire, field);
      }
      return {
        ...head,
        type: "Heartbeat",
        leaderCommit,
        readRound,
        ...(quiesce && { quiesce }),
        ...(commitOnly && { commitOnly }),
      };
    }
    case 16: {
      let readRound = 0;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) readRound = u64(c, wire, field, "readRound", checks);
        else c.skip(wire, field);
      }
      return { ...head, type: "HeartbeatResponse", readRound };
    }
    case 17:
      return installSnapshot(c, head, checks);
    case 18: {
      let snapshotIndex = 0, nextOffset = 0, installed = false;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) snapshotIndex = u64(c, wire, field, "snapshotIndex", checks);
        else if (field === 2) nextOffset = u64(c, wire, field, "nextOffset", checks);
        else if (field === 3) installed = bool(c, wire, field, "installed");
        else c.skip(wire, field);
      }
      return { ...head, type: "InstallSnapshotResponse", snapshotIndex, nextOffset, installed };
    }
    case 19: {
      let context = 0;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) context = u64(c, wire, field, "context", checks);
        else c.skip(wire, field);
      }
      return { ...head, type: "ReadIndex", context };
    }
    case 20: {
      let context = 0, index = 0;
      while (c.pos < c.end) {
        const t = c.tag(), field = t >>> 3, wire = t & 7;
        if (field === 1) context = u64(c, wire, field, "context", checks);
        else if (field === 2) index = u64(c, wire, field, "index", checks);
        else c.skip(wire, field);
      }
      return { ...head, type: "ReadIndexResponse", context, index };
    }
    default:
      throw new RangeError(`field ${kind} is not a message body`);
  }
}

/** The first field number of `RaftMessage.body`, and the last. */
const FIRST_BODY = 10;
const LAST_BODY = 20;

/**
 * A message that cannot be delivered: what stands in for one whose problem is noted, so the
 * batch keeps its count of messages. It comes from node 0, which no receiver accepts a message
 * from, in case a receiver ever forgot to refuse a batch with a problem.
 */
const UNDELIVERABLE: Message = { type: "TimeoutNow", from: 0, to: 0, term: 0 };

/**
 * Reads one `RaftMessage`, length first.
 *
 * @param c The cursor, at the message's length.
 * @param checks Where a problem with the message is noted.
 * @returns The message with its partition; a stand-in from node 0 when the message has a
 * problem that stops it from being built (no body).
 * @throws {WireFormatError} When the bytes are not a `RaftMessage`.
 *
 * @example Usage
 * ```ts
 * import { Checks, readRaftMessage } from "./raft_read_message.ts";
 * import { Cursor } from "./wire_cursor.ts";
 * // 10 bytes: partition 3, from 1, to 2, term 7, and an empty TimeoutNow body (field 12)
 * const c = new Cursor(new Uint8Array([10, 0x08, 3, 0x10, 1, 0x18, 2, 0x20, 7, 0x62, 0]));
 * const checks = new Checks();
 * console.log(readRaftMessage(c, checks).message.type, checks.problem); // TimeoutNow undefined
 * ```
 */
export function readRaftMessage(c: Cursor, checks: Checks): PartitionMessage {
  const outer = c.enter();
  const message = messageFields(c, checks);
  c.leave(outer);
  return message;
}

/** The fields of one `RaftMessage` (the cursor inside it). */
function messageFields(c: Cursor, checks: Checks): PartitionMessage {
  let partition = 0;
  const head: Head = { from: 0, to: 0, term: 0 };
  let bodyAt = -1;
  let kind = 0;
  while (c.pos < c.end) {
    const t = c.tag(), field = t >>> 3, wire = t & 7;
    if (field === 1) {
      c.expect(wire, VARINT, field, "partition");
      partition = c.uint32();
    } else if (field === 2) {
      c.expect(wire, VARINT, field, "from");
      head.from = c.uint32();
    } else if (field === 3) {
      c.expect(wire, VARINT, field, "to");
      head.to = c.uint32();
    } else if (field === 4) {
      c.expect(wire, VARINT, field, "term");
      head.term = c.varint();
    } else if (field >= FIRST_BODY && field <= LAST_BODY) {
      c.expect(wire, LEN, field, "body");
      if (bodyAt >= 0) throw new WireFormatError("a message with two bodies");
      // Read once the envelope is whole: the term may come after the body.
      bodyAt = c.pos;
      kind = field;
      c.advance(c.length());
    } else c.skip(wire, field);
  }
  head.term = checks.number(head.term, "term");
  if (bodyAt < 0) {
    checks.fail("it carries no body");
    return { partition, message: UNDELIVERABLE };
  }
  const after = c.pos;
  c.pos = bodyAt;
  const outer = c.enter();
  const message = bodyFields(c, kind, head, checks);
  c.leave(outer);
  c.pos = after;
  return { partition, message };
}
