/**
 * Random Raft messages, writes passed on and answers, for the tests of the batch writer and
 * reader.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { encodeMembership, membership, type Message, type SeededRandom } from "../../raft/mod.ts";
import {
  type ForwardedCall,
  ForwardedCallSchema,
  type ForwardedResult,
  ForwardedResultSchema,
} from "../../rpc/gen/prkdb/v1/kv_pb.ts";
import { MAX_WIRE_NUMBER } from "../../rpc/raft_codec.ts";

/** A random message of every kind in turn, with numbers from 0 up to the wire limit. */
export function randomMessage(rng: SeededRandom, i: number): Message {
  const n = () => {
    switch (rng.nextInt(4)) {
      case 0:
        return 0;
      case 1:
        return rng.nextInt(128);
      case 2:
        return rng.nextInt(1 << 30);
      default:
        return Math.floor(rng.next() * MAX_WIRE_NUMBER);
    }
  };
  const flag = () => rng.nextInt(2) === 1;
  const bytes = () =>
    new Uint8Array(rng.nextInt(3) === 0 ? 0 : rng.nextInt(300)).map(() => rng.nextInt(256));
  const head = { from: 1 + rng.nextInt(9), to: 1 + rng.nextInt(9), term: n() };
  switch (i % 11) {
    case 0:
      return {
        ...head,
        type: "Vote",
        preVote: flag(),
        lastLogIndex: n(),
        lastLogTerm: n(),
        leadershipTransfer: flag(),
      };
    case 1:
      return { ...head, type: "VoteResponse", preVote: flag(), granted: flag() };
    case 2:
      return { ...head, type: "TimeoutNow" };
    case 3: {
      const prevLogIndex = rng.nextInt(1 << 20);
      const entries = Array.from({ length: rng.nextInt(5) }, (_, k) => {
        const type = (["normal", "noop", "config"] as const)[rng.nextInt(3)];
        const data = type === "config"
          ? encodeMembership(membership([1, 2 + rng.nextInt(5)], rng.nextInt(2) ? [9] : []))
          : bytes();
        return { index: prevLogIndex + 1 + k, term: n(), type, data };
      });
      return {
        ...head,
        type: "AppendEntries",
        prevLogIndex,
        prevLogTerm: n(),
        entries,
        leaderCommit: n(),
      };
    }
    case 4:
      return {
        ...head,
        type: "AppendEntriesResponse",
        success: flag(),
        matchIndex: n(),
        rejectedIndex: n(),
        hintIndex: n(),
        hintTerm: n(),
      };
    case 5:
      return {
        ...head,
        type: "Heartbeat",
        leaderCommit: n(),
        readRound: n(),
        ...(flag() && { quiesce: true }),
        ...(flag() && { commitOnly: true }),
      };
    case 6:
      return { ...head, type: "HeartbeatResponse", readRound: n() };
    case 7:
      return {
        ...head,
        type: "InstallSnapshot",
        snapshotIndex: n(),
        snapshotTerm: n(),
        offset: n(),
        data: bytes(),
        done: flag(),
        ...(flag() && {
          membership: membership([1 + rng.nextInt(300), 2], flag() ? [] : [200 + rng.nextInt(9)]),
        }),
        // An empty membership cannot be valid, but it must still be written as present.
        ...(rng.nextInt(8) === 0 && { membership: { voters: [], learners: [] } as never }),
      };
    case 8:
      return {
        ...head,
        type: "InstallSnapshotResponse",
        snapshotIndex: n(),
        nextOffset: n(),
        installed: flag(),
      };
    case 9:
      return { ...head, type: "ReadIndex", context: n() };
    default:
      return { ...head, type: "ReadIndexResponse", context: n(), index: n() };
  }
}

/** A random write passed on: a put, a delete, or one that carries nothing. */
export function randomCall(rng: SeededRandom): ForwardedCall {
  const bytes = (n: number) => new Uint8Array(rng.nextInt(n)).map(() => rng.nextInt(256));
  switch (rng.nextInt(3)) {
    case 0:
      return create(ForwardedCallSchema, {
        call: { case: "put", value: { key: bytes(40), value: bytes(300), ifVersion: "3" } },
      });
    case 1:
      return create(ForwardedCallSchema, { call: { case: "delete", value: { key: bytes(40) } } });
    default:
      return create(ForwardedCallSchema);
  }
}

/** A random answer: a put's outcome, or an error. */
export function randomResult(rng: SeededRandom): ForwardedResult {
  return rng.nextInt(2) === 0
    ? create(ForwardedResultSchema, {
      result: { case: "put", value: { ok: true, version: "7", index: BigInt(rng.nextInt(1e9)) } },
    })
    : create(ForwardedResultSchema, {
      result: { case: "error", value: { code: 14, message: "no leader", kind: "" } },
    });
}
