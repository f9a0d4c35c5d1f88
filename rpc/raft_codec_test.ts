import { assertEquals, assertThrows } from "@std/assert";
import { create } from "@bufbuild/protobuf";
import { RaftMessageSchema } from "./gen/prkdb/v1/raft_pb.ts";
import type { Message } from "../raft/mod.ts";
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

Deno.test("raft codec: quiesce, commit-only, config entries and a snapshot's membership survive the wire", () => {
  const messages: Message[] = [
    { type: "Heartbeat", from: 1, to: 2, term: 3, leaderCommit: 7, readRound: 1, quiesce: true },
    { type: "Heartbeat", from: 1, to: 2, term: 3, leaderCommit: 7, readRound: 0, commitOnly: true },
    { type: "Heartbeat", from: 1, to: 2, term: 3, leaderCommit: 7, readRound: 1 },
    {
      type: "AppendEntries",
      from: 1,
      to: 2,
      term: 3,
      prevLogIndex: 4,
      prevLogTerm: 3,
      leaderCommit: 4,
      entries: [{
        index: 5,
        term: 3,
        type: "config",
        data: new TextEncoder().encode('{"voters":[1,2],"learners":[3]}'),
      }],
    },
    {
      type: "InstallSnapshot",
      from: 1,
      to: 2,
      term: 3,
      snapshotIndex: 9,
      snapshotTerm: 3,
      offset: 0,
      data: new Uint8Array([1]),
      done: true,
      membership: { voters: [1, 2], learners: [3] },
    },
  ];
  for (const m of messages) {
    const wire = create(RaftMessageSchema, encodeRaftMessage(0, m));
    assertEquals(decodeRaftMessage(wire).message, m);
  }
  const bad = create(
    RaftMessageSchema,
    encodeRaftMessage(0, {
      ...(messages[3] as Message & { type: "AppendEntries" }),
      entries: [{ index: 5, term: 3, type: "config", data: new TextEncoder().encode("nope") }],
    }),
  );
  assertThrows(() => decodeRaftMessage(bad), MalformedMessageError, "entry 5");
});
