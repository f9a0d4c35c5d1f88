import { assertEquals, assertThrows } from "@std/assert";
import { create } from "@bufbuild/protobuf";
import { RaftMessageSchema } from "./gen/prkdb/v1/raft_pb.ts";
import {
  decodeRaftMessage,
  encodeRaftMessage,
  MalformedMessageError,
  MAX_WIRE_NUMBER,
} from "./raft_codec.ts";

const heartbeat = (term: number) =>
  create(
    RaftMessageSchema,
    encodeRaftMessage(0, {
      type: "Heartbeat",
      from: 1,
      to: 2,
      term,
      leaderCommit: 0,
      readRound: 0,
    }),
  );

Deno.test("raft codec: terms up to the wire limit pass, beyond it are refused", () => {
  assertEquals(decodeRaftMessage(heartbeat(MAX_WIRE_NUMBER)).message.term, MAX_WIRE_NUMBER);
  assertThrows(
    () => decodeRaftMessage(heartbeat(Number.MAX_SAFE_INTEGER)),
    MalformedMessageError,
    "term 9007199254740991 is beyond the limit",
  );
  assertThrows(() => decodeRaftMessage(heartbeat(MAX_WIRE_NUMBER + 1)), MalformedMessageError);
});

Deno.test("raft codec: an index beyond the wire limit is refused", () => {
  const m = create(
    RaftMessageSchema,
    encodeRaftMessage(0, {
      type: "AppendEntries",
      from: 1,
      to: 2,
      term: 1,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [],
      leaderCommit: 0,
    }),
  );
  if (m.body.case !== "appendEntries") throw new Error("not AppendEntries");
  m.body.value.leaderCommit = 2n ** 60n;
  assertThrows(() => decodeRaftMessage(m), MalformedMessageError, "leaderCommit");
});
