/**
 * Converts between the Raft core's messages and their protobuf form, validating everything
 * that arrives from the network: a malformed message is an error, never a crash.
 *
 * @module
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  decodeMembership,
  type Entry,
  type Membership,
  membership,
  type Message,
} from "../raft/mod.ts";
import { EntryType, type RaftMessage, type RaftMessageSchema } from "./gen/prkdb/v1/raft_pb.ts";

/** The RaftService method that carries each kind of message. */
export type RaftRpc = "vote" | "appendEntries" | "heartbeat" | "installSnapshot" | "readIndex";

/** Which RPC carries a message. */
export function rpcFor(type: Message["type"]): RaftRpc {
  switch (type) {
    case "Vote":
    case "VoteResponse":
    case "TimeoutNow":
      return "vote";
    case "AppendEntries":
    case "AppendEntriesResponse":
      return "appendEntries";
    case "Heartbeat":
    case "HeartbeatResponse":
      return "heartbeat";
    case "InstallSnapshot":
    case "InstallSnapshotResponse":
      return "installSnapshot";
    case "ReadIndex":
    case "ReadIndexResponse":
      return "readIndex";
  }
}

/**
 * About how many bytes a message adds to a batch: what bounds a batch under the receiver's body
 * limit.
 *
 * @param m The message.
 * @returns Its size, roughly.
 */
export function messageBytes(m: { readonly message: Message }): number {
  const message = m.message;
  if (message.type === "AppendEntries") {
    let n = 64;
    for (const e of message.entries) n += 24 + e.data.length;
    return n;
  }
  if (message.type === "InstallSnapshot") return 64 + message.data.length;
  return 48;
}

/** Thrown for a message that cannot be decoded. */
export class MalformedMessageError extends Error {
  /** What is wrong with the message, without the common prefix. */
  readonly detail: string;
  /** @param detail What is wrong with the message. */
  constructor(detail: string) {
    super(`Malformed Raft message: ${detail}`);
    this.name = "MalformedMessageError";
    this.detail = detail;
  }
}

const big = (n: number) => BigInt(n);

/**
 * The largest term, index, offset or counter accepted from the network: 2^48. A cluster that
 * starts an election every millisecond needs about 9,000 years to reach it, and a partition
 * committing 21,000 entries a second (the Raft host's measured rate) about 400 years. Anything
 * larger is forged or corrupt, and refusing it keeps the core far from 2^53, where JavaScript
 * integers stop being exact (a node at term 2^53 - 1 could never start another election).
 *
 * @example Usage
 * ```ts
 * import { MAX_WIRE_NUMBER } from "@prkdb/prkdb/server";
 * console.log(MAX_WIRE_NUMBER === 2 ** 48); // true
 * ```
 */
export const MAX_WIRE_NUMBER = 2 ** 48;
const MAX_WIRE_BIG = BigInt(MAX_WIRE_NUMBER);

/** A 64-bit field as an integer no larger than {@linkcode MAX_WIRE_NUMBER}. */
function num(v: bigint, field: string): number {
  if (v > MAX_WIRE_BIG) {
    throw new MalformedMessageError(`${field} ${v} is beyond the limit of ${MAX_WIRE_NUMBER}`);
  }
  return Number(v);
}

const ENTRY_TYPE_TO_WIRE: Record<Entry["type"], EntryType> = {
  normal: EntryType.NORMAL,
  noop: EntryType.NOOP,
  config: EntryType.CONFIG,
};

/**
 * An entry's type from the wire; a `config` entry must hold a membership the core can use.
 *
 * @param type The wire's entry type.
 * @param data The entry's data.
 * @param index The entry's index, for the error.
 * @returns The core's entry type.
 * @throws {MalformedMessageError} For an unknown type or a membership the core cannot use.
 */
export function entryTypeFromWire(
  type: EntryType,
  data: Uint8Array,
  index: number,
): Entry["type"] {
  switch (type) {
    case EntryType.NORMAL:
      return "normal";
    case EntryType.NOOP:
      return "noop";
    case EntryType.CONFIG:
      try {
        decodeMembership(data);
      } catch (error) {
        throw new MalformedMessageError(`entry ${index}: ${(error as Error).message}`);
      }
      return "config";
    default:
      throw new MalformedMessageError(`entry ${index} has unknown type ${type}`);
  }
}

/**
 * A snapshot's membership from the wire: at least one voter, positive ids.
 *
 * @param m The wire's voters and learners.
 * @returns The membership.
 * @throws {MalformedMessageError} When it has no voter, or an id of 0.
 */
export function membershipFromWire(m: { voters: number[]; learners: number[] }): Membership {
  const ids = [...m.voters, ...m.learners];
  if (m.voters.length === 0 || ids.some((id) => id <= 0)) {
    throw new MalformedMessageError("a snapshot membership needs voters with positive ids");
  }
  return membership(m.voters, m.learners);
}

/** Encodes one partition's message. */
export function encodeRaftMessage(
  partition: number,
  m: Message,
): MessageInitShape<typeof RaftMessageSchema> {
  const head = { partition, from: m.from, to: m.to, term: big(m.term) };
  switch (m.type) {
    case "Vote":
      return {
        ...head,
        body: {
          case: "vote",
          value: {
            preVote: m.preVote,
            lastLogIndex: big(m.lastLogIndex),
            lastLogTerm: big(m.lastLogTerm),
            leadershipTransfer: m.leadershipTransfer,
          },
        },
      };
    case "VoteResponse":
      return {
        ...head,
        body: { case: "voteResponse", value: { preVote: m.preVote, granted: m.granted } },
      };
    case "TimeoutNow":
      return { ...head, body: { case: "timeoutNow", value: {} } };
    case "AppendEntries":
      return {
        ...head,
        body: {
          case: "appendEntries",
          value: {
            prevLogIndex: big(m.prevLogIndex),
            prevLogTerm: big(m.prevLogTerm),
            leaderCommit: big(m.leaderCommit),
            entries: m.entries.map((e) => ({
              index: big(e.index),
              term: big(e.term),
              type: ENTRY_TYPE_TO_WIRE[e.type],
              data: e.data,
            })),
          },
        },
      };
    case "AppendEntriesResponse":
      return {
        ...head,
        body: {
          case: "appendEntriesResponse",
          value: {
            success: m.success,
            matchIndex: big(m.matchIndex),
            rejectedIndex: big(m.rejectedIndex),
            hintIndex: big(m.hintIndex),
            hintTerm: big(m.hintTerm),
          },
        },
      };
    case "Heartbeat":
      return {
        ...head,
        body: {
          case: "heartbeat",
          value: {
            leaderCommit: big(m.leaderCommit),
            readRound: big(m.readRound),
            quiesce: m.quiesce === true,
            commitOnly: m.commitOnly === true,
          },
        },
      };
    case "HeartbeatResponse":
      return {
        ...head,
        body: { case: "heartbeatResponse", value: { readRound: big(m.readRound) } },
      };
    case "InstallSnapshot":
      return {
        ...head,
        body: {
          case: "installSnapshot",
          value: {
            snapshotIndex: big(m.snapshotIndex),
            snapshotTerm: big(m.snapshotTerm),
            offset: big(m.offset),
            data: m.data,
            done: m.done,
            membership: m.membership &&
              { voters: [...m.membership.voters], learners: [...m.membership.learners] },
          },
        },
      };
    case "InstallSnapshotResponse":
      return {
        ...head,
        body: {
          case: "installSnapshotResponse",
          value: {
            snapshotIndex: big(m.snapshotIndex),
            nextOffset: big(m.nextOffset),
            installed: m.installed,
          },
        },
      };
    case "ReadIndex":
      return { ...head, body: { case: "readIndex", value: { context: big(m.context) } } };
    case "ReadIndexResponse":
      return {
        ...head,
        body: {
          case: "readIndexResponse",
          value: { context: big(m.context), index: big(m.index) },
        },
      };
  }
}

/** Decodes one message; throws {@linkcode MalformedMessageError} when it is not a valid message. */
export function decodeRaftMessage(p: RaftMessage): { partition: number; message: Message } {
  const head = { from: p.from, to: p.to, term: num(p.term, "term") };
  const body = p.body;
  let message: Message;
  switch (body.case) {
    case "vote":
      message = {
        ...head,
        type: "Vote",
        preVote: body.value.preVote,
        lastLogIndex: num(body.value.lastLogIndex, "lastLogIndex"),
        lastLogTerm: num(body.value.lastLogTerm, "lastLogTerm"),
        leadershipTransfer: body.value.leadershipTransfer,
      };
      break;
    case "voteResponse":
      message = {
        ...head,
        type: "VoteResponse",
        preVote: body.value.preVote,
        granted: body.value.granted,
      };
      break;
    case "timeoutNow":
      message = { ...head, type: "TimeoutNow" };
      break;
    case "appendEntries": {
      const v = body.value;
      const prevLogIndex = num(v.prevLogIndex, "prevLogIndex");
      const entries: Entry[] = v.entries.map((e, i) => {
        const index = num(e.index, "entry index");
        if (index !== prevLogIndex + 1 + i) {
          throw new MalformedMessageError(`entry ${index} out of sequence after ${prevLogIndex}`);
        }
        return {
          index,
          term: num(e.term, "entry term"),
          type: entryTypeFromWire(e.type, e.data, index),
          data: e.data,
        };
      });
      message = {
        ...head,
        type: "AppendEntries",
        prevLogIndex,
        prevLogTerm: num(v.prevLogTerm, "prevLogTerm"),
        entries,
        leaderCommit: num(v.leaderCommit, "leaderCommit"),
      };
      break;
    }
    case "appendEntriesResponse": {
      const v = body.value;
      message = {
        ...head,
        type: "AppendEntriesResponse",
        success: v.success,
        matchIndex: num(v.matchIndex, "matchIndex"),
        rejectedIndex: num(v.rejectedIndex, "rejectedIndex"),
        hintIndex: num(v.hintIndex, "hintIndex"),
        hintTerm: num(v.hintTerm, "hintTerm"),
      };
      break;
    }
    case "heartbeat":
      message = {
        ...head,
        type: "Heartbeat",
        leaderCommit: num(body.value.leaderCommit, "leaderCommit"),
        readRound: num(body.value.readRound, "readRound"),
        ...(body.value.quiesce && { quiesce: true }),
        ...(body.value.commitOnly && { commitOnly: true }),
      };
      break;
    case "heartbeatResponse":
      message = {
        ...head,
        type: "HeartbeatResponse",
        readRound: num(body.value.readRound, "readRound"),
      };
      break;
    case "installSnapshot": {
      const v = body.value;
      message = {
        ...head,
        type: "InstallSnapshot",
        snapshotIndex: num(v.snapshotIndex, "snapshotIndex"),
        snapshotTerm: num(v.snapshotTerm, "snapshotTerm"),
        offset: num(v.offset, "offset"),
        data: v.data,
        done: v.done,
        ...(v.membership && { membership: membershipFromWire(v.membership) }),
      };
      break;
    }
    case "installSnapshotResponse":
      message = {
        ...head,
        type: "InstallSnapshotResponse",
        snapshotIndex: num(body.value.snapshotIndex, "snapshotIndex"),
        nextOffset: num(body.value.nextOffset, "nextOffset"),
        installed: body.value.installed,
      };
      break;
    case "readIndex":
      message = { ...head, type: "ReadIndex", context: num(body.value.context, "context") };
      break;
    case "readIndexResponse":
      message = {
        ...head,
        type: "ReadIndexResponse",
        context: num(body.value.context, "context"),
        index: num(body.value.index, "index"),
      };
      break;
    default:
      throw new MalformedMessageError("it carries no body");
  }
  return { partition: p.partition, message };
}
