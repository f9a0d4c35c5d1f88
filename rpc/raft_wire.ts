/**
 * Writes a `RaftBatch` (rpc/proto/prkdb/v1/raft.proto) straight from the Raft core's messages,
 * in the protobuf wire format, byte for byte what the generated code writes. Every message a
 * node sends to a peer goes through here, so the generic path's costs (an object per message
 * and per entry, a BigInt per 64-bit field, a reflective walk over the schema) were a large part
 * of a node's work for each write. Reading stays with the generated code, which checks
 * everything (see raft_codec.ts).
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
 * Each message is written in two passes: its size first (a nested message's length comes
 * before it), then its bytes, into one buffer allocated once for the whole batch.
 *
 * @module
 */
import type { Entry, Message } from "../raft/mod.ts";
import type { PartitionMessage } from "../partition/transport.ts";

const VARINT = 0;
const LEN = 2;

/** Bytes of `v` (a non-negative integer below 2^53) as a varint. */
function varintSize(v: number): number {
  let n = 1;
  while (v > 127) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Bytes of a varint field holding `v`; 0 when `v` is the default and left out. */
const uintField = (field: number, v: number) =>
  v === 0 ? 0 : varintSize(field << 3) + varintSize(v);
/** Bytes of a bool field. */
const boolField = (field: number, v: boolean) => v ? varintSize(field << 3) + 1 : 0;
/** Bytes of a length-delimited field of `length` bytes, written even when empty. */
const lenField = (field: number, length: number) =>
  varintSize((field << 3) | LEN) + varintSize(length) + length;
/** Bytes of a bytes field; 0 when empty. */
const bytesField = (field: number, length: number) => length === 0 ? 0 : lenField(field, length);

/** A cursor over the batch's buffer. */
class Out {
  pos = 0;
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
  /** The start of a length-delimited field of `length` bytes; the caller writes them. */
  len(field: number, length: number): void {
    this.varint((field << 3) | LEN);
    this.varint(length);
  }
  bytes(field: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.len(field, data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
}

const ENTRY_TYPE: Record<Entry["type"], number> = { normal: 0, noop: 1, config: 2 };

function entrySize(e: Entry): number {
  return uintField(1, e.index) + uintField(2, e.term) + uintField(3, ENTRY_TYPE[e.type]) +
    bytesField(4, e.data.length);
}

/** The packed form of a repeated uint32 field: its payload's size. */
function packedSize(values: readonly number[]): number {
  let n = 0;
  for (const v of values) n += varintSize(v);
  return n;
}

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

function membershipSize(m: { voters: readonly number[]; learners: readonly number[] }): number {
  const v = packedSize(m.voters), l = packedSize(m.learners);
  return (v === 0 ? 0 : lenField(1, v)) + (l === 0 ? 0 : lenField(2, l));
}

/** The size of the message in `RaftMessage.body`. */
function bodySize(m: Message): number {
  switch (m.type) {
    case "Vote":
      return boolField(1, m.preVote) + uintField(2, m.lastLogIndex) +
        uintField(3, m.lastLogTerm) + boolField(4, m.leadershipTransfer);
    case "VoteResponse":
      return boolField(1, m.preVote) + boolField(2, m.granted);
    case "TimeoutNow":
      return 0;
    case "AppendEntries": {
      let n = uintField(1, m.prevLogIndex) + uintField(2, m.prevLogTerm) +
        uintField(4, m.leaderCommit);
      for (const e of m.entries) n += lenField(3, entrySize(e));
      return n;
    }
    case "AppendEntriesResponse":
      return boolField(1, m.success) + uintField(2, m.matchIndex) +
        uintField(3, m.rejectedIndex) + uintField(4, m.hintIndex) + uintField(5, m.hintTerm);
    case "Heartbeat":
      return uintField(1, m.leaderCommit) + uintField(2, m.readRound) +
        boolField(3, m.quiesce === true);
    case "HeartbeatResponse":
      return uintField(1, m.readRound);
    case "InstallSnapshot":
      return uintField(1, m.snapshotIndex) + uintField(2, m.snapshotTerm) +
        uintField(3, m.offset) + bytesField(4, m.data.length) + boolField(5, m.done) +
        (m.membership ? lenField(6, membershipSize(m.membership)) : 0);
    case "InstallSnapshotResponse":
      return uintField(1, m.snapshotIndex) + uintField(2, m.nextOffset) +
        boolField(3, m.installed);
    case "ReadIndex":
      return uintField(1, m.context);
    case "ReadIndexResponse":
      return uintField(1, m.context) + uintField(2, m.index);
  }
}

function writeBody(out: Out, m: Message): void {
  switch (m.type) {
    case "Vote":
      out.bool(1, m.preVote);
      out.uint(2, m.lastLogIndex);
      out.uint(3, m.lastLogTerm);
      out.bool(4, m.leadershipTransfer);
      return;
    case "VoteResponse":
      out.bool(1, m.preVote);
      out.bool(2, m.granted);
      return;
    case "TimeoutNow":
      return;
    case "AppendEntries":
      out.uint(1, m.prevLogIndex);
      out.uint(2, m.prevLogTerm);
      for (const e of m.entries) {
        out.len(3, entrySize(e));
        out.uint(1, e.index);
        out.uint(2, e.term);
        out.uint(3, ENTRY_TYPE[e.type]);
        out.bytes(4, e.data);
      }
      out.uint(4, m.leaderCommit);
      return;
    case "AppendEntriesResponse":
      out.bool(1, m.success);
      out.uint(2, m.matchIndex);
      out.uint(3, m.rejectedIndex);
      out.uint(4, m.hintIndex);
      out.uint(5, m.hintTerm);
      return;
    case "Heartbeat":
      out.uint(1, m.leaderCommit);
      out.uint(2, m.readRound);
      out.bool(3, m.quiesce === true);
      return;
    case "HeartbeatResponse":
      out.uint(1, m.readRound);
      return;
    case "InstallSnapshot":
      out.uint(1, m.snapshotIndex);
      out.uint(2, m.snapshotTerm);
      out.uint(3, m.offset);
      out.bytes(4, m.data);
      out.bool(5, m.done);
      if (m.membership) {
        out.len(6, membershipSize(m.membership));
        for (
          const [field, ids] of [[1, m.membership.voters], [2, m.membership.learners]] as const
        ) {
          if (ids.length === 0) continue;
          out.len(field, packedSize(ids));
          for (const id of ids) out.varint(id);
        }
      }
      return;
    case "InstallSnapshotResponse":
      out.uint(1, m.snapshotIndex);
      out.uint(2, m.nextOffset);
      out.bool(3, m.installed);
      return;
    case "ReadIndex":
      out.uint(1, m.context);
      return;
    case "ReadIndexResponse":
      out.uint(1, m.context);
      out.uint(2, m.index);
      return;
  }
}

/** The size of a `RaftMessage`, given its body's. */
function messageSize(partition: number, m: Message, body: number): number {
  return uintField(1, partition) + uintField(2, m.from) + uintField(3, m.to) +
    uintField(4, m.term) + lenField(BODY_FIELD[m.type], body);
}

/**
 * Encodes a `RaftBatch`.
 *
 * @param from The sending node.
 * @param cluster The cluster's id, UTF-8 encoded.
 * @param messages The messages, each with its partition.
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
  messages: readonly PartitionMessage[],
  leading?: Uint8Array,
): Uint8Array {
  const bodies = new Array<number>(messages.length);
  let size = uintField(1, from) + bytesField(2, cluster.length) +
    bytesField(4, leading?.length ?? 0);
  for (let i = 0; i < messages.length; i++) {
    const { partition, message } = messages[i];
    bodies[i] = bodySize(message);
    size += lenField(3, messageSize(partition, message, bodies[i]));
  }
  const out = new Out(new Uint8Array(size));
  out.uint(1, from);
  out.bytes(2, cluster);
  for (let i = 0; i < messages.length; i++) {
    const { partition, message } = messages[i];
    out.len(3, messageSize(partition, message, bodies[i]));
    out.uint(1, partition);
    out.uint(2, message.from);
    out.uint(3, message.to);
    out.uint(4, message.term);
    out.len(BODY_FIELD[message.type], bodies[i]);
    writeBody(out, message);
  }
  if (leading) out.bytes(4, leading);
  return out.buf;
}
