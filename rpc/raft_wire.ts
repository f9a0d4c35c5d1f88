/**
 * Writes a `RaftBatch` (rpc/proto/prkdb/v1/raft.proto) straight from the Raft core's messages,
 * in the protobuf wire format, byte for byte what the generated code writes. Every message a
 * node sends to a peer goes through here, so the generic path's costs (an object per message
 * and per entry, a BigInt per 64-bit field, a reflective walk over the schema) were a large part
 * of a node's work for each write. [raft_read.ts](./raft_read.ts) is the reading half.
 *
 * The wire format, as much as this needs:
 *
 * - a field is a tag, `(field number << 3) | wire type`, as a varint, then its value;
 * - wire type 0 is a varint (integers, enums, booleans), 2 is length-delimited (bytes,
 *   strings, nested messages, packed repeated integers): a varint length, then the bytes;
 * - a varint holds 7 bits per byte, lowest first, with the high bit set on all but the last;
 * - proto3 leaves out a field that holds its default (0, false, empty), except a message in a
 *   `oneof` or with presence, which is written even when empty.
 *
 * Each message's fields are described once ({@linkcode raftMessage}), and the description runs
 * twice: on a counter, for the size (a nested message's length comes before it, so the counting
 * pass keeps every nested length for the writing pass), then on the buffer, allocated once for
 * the whole batch. One description cannot disagree with itself about what a size covers.
 *
 * @module
 */
import type { Entry, Message } from "../raft/mod.ts";
import type { PeerItem } from "./peer_item.ts";

const VARINT = 0;
const LEN = 2;

/** Where a message's fields go: counted, to learn its size, or written. */
interface Fields {
  /** A varint field; left out when 0. */
  uint(field: number, v: number): void;
  /** A bool field; left out when false. */
  bool(field: number, v: boolean): void;
  /** A bytes or string field; left out when empty. */
  bytes(field: number, data: Uint8Array): void;
  /** A nested message (or a packed list) whose fields `body` gives; present even when empty. */
  message(field: number, body: (f: Fields) => void): void;
  /** A nested message already encoded; present even when empty. */
  encoded(field: number, data: Uint8Array): void;
  /** A bare varint, an element of a packed list. */
  varint(v: number): void;
}

/** Bytes of `v` (a non-negative integer below 2^53) as a varint. */
function varintSize(v: number): number {
  // Every value is sized before anything is written: a value the format cannot hold stops the
  // batch here, instead of writing bytes a reader would misread.
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${v} cannot be written as an unsigned varint`);
  }
  let n = 1;
  while (v > 127) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Counts the bytes that fields take. */
class Size implements Fields {
  n = 0;
  uint(field: number, v: number): void {
    if (v !== 0) this.n += varintSize(field << 3) + varintSize(v);
  }
  bool(field: number, v: boolean): void {
    if (v) this.n += varintSize(field << 3) + 1;
  }
  bytes(field: number, data: Uint8Array): void {
    if (data.length > 0) {
      this.n += varintSize((field << 3) | LEN) + varintSize(data.length) + data.length;
    }
  }
  message(field: number, body: (f: Fields) => void): void {
    // The length is kept for the writing pass, in the order the messages start.
    const slot = lengths.length;
    lengths.push(0);
    const before = this.n;
    body(this);
    const length = this.n - before;
    lengths[slot] = length;
    this.n += varintSize((field << 3) | LEN) + varintSize(length);
  }
  encoded(field: number, data: Uint8Array): void {
    this.n += varintSize((field << 3) | LEN) + varintSize(data.length) + data.length;
  }
  varint(v: number): void {
    this.n += varintSize(v);
  }
}

/**
 * The length of every nested message of the batch being written, in the order the messages
 * start: the counting pass fills it, the writing pass reads it back, so no message is counted
 * twice however deep it sits.
 */
const lengths: number[] = [];

/** The size of the fields `body` gives, with every nested message's length in `lengths`. */
function sizeOf(body: (f: Fields) => void): number {
  lengths.length = 0;
  const counter = new Size();
  body(counter);
  return counter.n;
}

/** Writes fields into a buffer of the right size. */
class Out implements Fields {
  pos = 0;
  /** The next nested message's place in `lengths`. */
  next = 0;
  constructor(readonly buf: Uint8Array) {}

  varint(v: number): void {
    while (v > 127) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  uint(field: number, v: number): void {
    if (v === 0) return;
    this.varint((field << 3) | VARINT);
    this.varint(v);
  }
  bool(field: number, v: boolean): void {
    if (!v) return;
    this.varint((field << 3) | VARINT);
    this.buf[this.pos++] = 1;
  }
  bytes(field: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.varint((field << 3) | LEN);
    this.varint(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  message(field: number, body: (f: Fields) => void): void {
    this.varint((field << 3) | LEN);
    this.varint(lengths[this.next++]);
    body(this);
  }
  encoded(field: number, data: Uint8Array): void {
    this.varint((field << 3) | LEN);
    this.varint(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
}

const ENTRY_TYPE: Record<Entry["type"], number> = { normal: 0, noop: 1, config: 2 };

/** The field number of each kind of message in `RaftMessage.body`. */
const BODY_FIELD: Record<Message["type"], number> = {
  Vote: 10,
  VoteResponse: 11,
  TimeoutNow: 12,
  AppendEntries: 13,
  AppendEntriesResponse: 14,
  Heartbeat: 15,
  HeartbeatResponse: 16,
  InstallSnapshot: 17,
  InstallSnapshotResponse: 18,
  ReadIndex: 19,
  ReadIndexResponse: 20,
};

/** An `Entry`. */
function entry(f: Fields, e: Entry): void {
  f.uint(1, e.index);
  f.uint(2, e.term);
  f.uint(3, ENTRY_TYPE[e.type]);
  f.bytes(4, e.data);
}

/** A packed list of node ids. */
function ids(f: Fields, field: number, list: readonly number[]): void {
  if (list.length > 0) f.message(field, (p) => list.forEach((id) => p.varint(id)));
}

/** The message in `RaftMessage.body`, by kind. */
function body(f: Fields, m: Message): void {
  switch (m.type) {
    case "Vote":
      f.bool(1, m.preVote);
      f.uint(2, m.lastLogIndex);
      f.uint(3, m.lastLogTerm);
      f.bool(4, m.leadershipTransfer);
      return;
    case "VoteResponse":
      f.bool(1, m.preVote);
      f.bool(2, m.granted);
      return;
    case "TimeoutNow":
      return;
    case "AppendEntries":
      f.uint(1, m.prevLogIndex);
      f.uint(2, m.prevLogTerm);
      for (const e of m.entries) f.message(3, (g) => entry(g, e));
      f.uint(4, m.leaderCommit);
      return;
    case "AppendEntriesResponse":
      f.bool(1, m.success);
      f.uint(2, m.matchIndex);
      f.uint(3, m.rejectedIndex);
      f.uint(4, m.hintIndex);
      f.uint(5, m.hintTerm);
      return;
    case "Heartbeat":
      f.uint(1, m.leaderCommit);
      f.uint(2, m.readRound);
      f.bool(3, m.quiesce === true);
      f.bool(4, m.commitOnly === true);
      return;
    case "HeartbeatResponse":
      f.uint(1, m.readRound);
      return;
    case "InstallSnapshot": {
      f.uint(1, m.snapshotIndex);
      f.uint(2, m.snapshotTerm);
      f.uint(3, m.offset);
      f.bytes(4, m.data);
      f.bool(5, m.done);
      const membership = m.membership;
      if (membership) {
        f.message(6, (g) => {
          ids(g, 1, membership.voters);
          ids(g, 2, membership.learners);
        });
      }
      return;
    }
    case "InstallSnapshotResponse":
      f.uint(1, m.snapshotIndex);
      f.uint(2, m.nextOffset);
      f.bool(3, m.installed);
      return;
    case "ReadIndex":
      f.uint(1, m.context);
      return;
    case "ReadIndexResponse":
      f.uint(1, m.context);
      f.uint(2, m.index);
      return;
  }
}

/** A `RaftMessage`: the envelope, then the body in the field of its kind. */
function raftMessage(f: Fields, partition: number, m: Message): void {
  f.uint(1, partition);
  f.uint(2, m.from);
  f.uint(3, m.to);
  f.uint(4, m.term);
  f.message(BODY_FIELD[m.type], (g) => body(g, m));
}

/**
 * Encodes a `RaftBatch`. Fields go out in field-number order, as the generated code writes them:
 * the Raft messages, then the writes passed on, then the answers to those, then durable notices.
 *
 * @param from The sending node.
 * @param cluster The cluster's id, UTF-8 encoded.
 * @param items The Raft messages (each with its partition), writes, answers and notices.
 * @param leading The partitions the sender leads, for a batch with no messages (a ping).
 * @returns The batch's bytes.
 *
 * @example Usage
 * ```ts
 * import { fromBinary } from "@bufbuild/protobuf";
 * import { RaftBatchSchema } from "./gen/prkdb/v1/raft_pb.ts";
 * import { encodeRaftBatch } from "./raft_wire.ts";
 * const bytes = encodeRaftBatch(1, new TextEncoder().encode("c1"), [{
 *   partition: 3,
 *   message: { type: "HeartbeatResponse", from: 1, to: 2, term: 7, readRound: 4 },
 * }]);
 * console.log(fromBinary(RaftBatchSchema, bytes).messages[0].partition); // 3
 * ```
 */
export function encodeRaftBatch(
  from: number,
  cluster: Uint8Array,
  items: readonly PeerItem[],
  leading?: Uint8Array,
): Uint8Array {
  const batch = (f: Fields) => {
    f.uint(1, from);
    f.bytes(2, cluster);
    for (const item of items) {
      if ("message" in item) f.message(3, (g) => raftMessage(g, item.partition, item.message));
    }
    if (leading) f.bytes(4, leading);
    for (const item of items) {
      if (!("write" in item)) continue;
      const { id, timeoutMs, call, incarnation, durableNotice } = item.write;
      f.message(5, (g) => {
        g.uint(1, id);
        g.uint(2, timeoutMs);
        g.encoded(3, call);
        g.uint(4, incarnation);
        g.bool(5, durableNotice === true);
      });
    }
    for (const item of items) {
      if (!("answer" in item)) continue;
      const { id, result, incarnation } = item.answer;
      f.message(6, (g) => {
        g.uint(1, id);
        g.encoded(2, result);
        g.uint(3, incarnation);
      });
    }
    for (const item of items) {
      if (!("durable" in item)) continue;
      const { id, incarnation, partition, index, term } = item.durable;
      f.message(7, (g) => {
        g.uint(1, id);
        g.uint(2, incarnation);
        g.uint(3, index);
        g.uint(4, term);
        g.uint(5, partition);
      });
    }
  };
  const out = new Out(new Uint8Array(sizeOf(batch)));
  batch(out);
  if (out.pos !== out.buf.length || out.next !== lengths.length) {
    throw new Error(
      `a batch was counted as ${out.buf.length} bytes and ${lengths.length} nested messages, ` +
        `but written as ${out.pos} and ${out.next}`,
    );
  }
  return out.buf;
}
