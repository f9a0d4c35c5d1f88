import { assert, assertEquals } from "@std/assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { SeededRandom } from "../raft/mod.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import { RaftBatchSchema } from "./gen/prkdb/v1/raft_pb.ts";
import { ForwardedCallSchema, ForwardedResultSchema } from "./gen/prkdb/v1/kv_pb.ts";
import { encodeRaftMessage, MAX_WIRE_NUMBER, receivedFromGenerated } from "./raft_codec.ts";
import { readRaftBatch, type ReceivedBatch, WireFormatError } from "./raft_read.ts";
import { encodeRaftBatch } from "./raft_wire.ts";
import { randomCall, randomMessage, randomResult } from "../tests/support/random_raft.ts";

/** A random batch as the generated code writes it: messages of every kind, writes, answers. */
function randomBatch(rng: SeededRandom, round: number): Uint8Array {
  const id = () => rng.nextInt(4) === 0 ? 0xffff_ffff : 1 + rng.nextInt(0xffff_fffe);
  const messages = Array.from({ length: rng.nextInt(8) }, (_, i) => ({
    partition: rng.nextInt(3) === 0 ? 0 : rng.nextInt(5000),
    message: randomMessage(rng, round + i),
  }));
  return toBinary(
    RaftBatchSchema,
    create(RaftBatchSchema, {
      from: rng.nextInt(4) === 0 ? 0 : 1 + rng.nextInt(70000),
      cluster: round % 5 === 0 ? "" : `cluster-${rng.nextInt(1e6)}-é`,
      messages: messages.map((m) => encodeRaftMessage(m.partition, m.message)),
      leading: round % 3 === 0 ? new Uint8Array([rng.nextInt(256), 0, 1]) : undefined,
      writes: Array.from({ length: rng.nextInt(3) }, () => ({
        id: id(),
        timeoutMs: rng.nextInt(3) === 0 ? 0 : rng.nextInt(60_000),
        incarnation: rng.nextInt(5) === 0 ? 0 : id(),
        ...(rng.nextInt(6) > 0 && { call: randomCall(rng) }),
      })),
      answers: Array.from({ length: rng.nextInt(3) }, () => ({
        id: id(),
        incarnation: id(),
        ...(rng.nextInt(6) > 0 && { result: randomResult(rng) }),
      })),
    }),
  );
}

/** What a batch says, in plain values: the same whichever reader read it. */
function plain(b: ReceivedBatch) {
  return {
    from: b.from,
    cluster: b.cluster,
    leading: [...b.leading],
    // A batch with a malformed message is refused whole: only that it is, and why, matter.
    messages: b.malformed === undefined ? b.messages : b.messages.length,
    writes: b.writes.map((w) => ({
      id: w.id,
      timeoutMs: w.timeoutMs,
      incarnation: w.incarnation,
      call: w.call && toBinary(ForwardedCallSchema, w.call),
    })),
    answers: b.answers.map((a) => ({
      id: a.id,
      incarnation: a.incarnation,
      result: a.result && toBinary(ForwardedResultSchema, a.result),
    })),
    malformed: b.malformed,
  };
}

/** The generated code's reading, the reference; undefined when it refuses the bytes. */
function reference(bytes: Uint8Array) {
  try {
    return plain(receivedFromGenerated(fromBinary(RaftBatchSchema, bytes)));
  } catch {
    return undefined;
  }
}

function ours(bytes: Uint8Array) {
  try {
    return plain(readRaftBatch(bytes));
  } catch (error) {
    assert(error instanceof WireFormatError, `not a WireFormatError: ${error}`);
    return undefined;
  }
}

Deno.test("readRaftBatch reads what the generated code writes exactly as the generated code reads it", () => {
  const rng = new SeededRandom(23);
  for (let round = 0; round < 400; round++) {
    const bytes = randomBatch(rng, round);
    const expected = reference(bytes);
    assert(expected, `round ${round}: the reference refused its own bytes`);
    assertEquals(plain(readRaftBatch(bytes)), expected, `round ${round}`);
  }
});

Deno.test("readRaftBatch reads the core's messages back from the batch writer", () => {
  const rng = new SeededRandom(5);
  for (let round = 0; round < 200; round++) {
    const messages: PartitionMessage[] = Array.from({ length: 1 + rng.nextInt(6) }, (_, i) => ({
      partition: rng.nextInt(64),
      message: randomMessage(rng, round + i),
    })).filter(({ message: m }) =>
      m.type !== "InstallSnapshot" || !m.membership || m.membership.voters.length > 0
    );
    const bytes = encodeRaftBatch(4, new TextEncoder().encode("c1"), messages);
    const batch = readRaftBatch(bytes);
    assertEquals(batch.malformed, undefined);
    assertEquals(batch.messages, messages);
  }
});

Deno.test("readRaftBatch never accepts what the generated code refuses, and agrees on what both accept, over damaged batches", () => {
  const rng = new SeededRandom(101);
  let agreed = 0, bothRefused = 0, stricter = 0;
  for (let round = 0; round < 4000; round++) {
    const bytes = [...randomBatch(rng, round)];
    for (let k = 1 + rng.nextInt(3); k > 0; k--) {
      const at = rng.nextInt(bytes.length + 1);
      switch (rng.nextInt(5)) {
        case 0: // a flipped bit
          if (at < bytes.length) bytes[at] ^= 1 << rng.nextInt(8);
          break;
        case 1: // a byte replaced
          if (at < bytes.length) bytes[at] = rng.nextInt(256);
          break;
        case 2: // a byte lost
          bytes.splice(at, 1);
          break;
        case 3: // a byte added
          bytes.splice(at, 0, rng.nextInt(256));
          break;
        default: // cut short
          bytes.length = at;
      }
    }
    const damaged = new Uint8Array(bytes);
    const theirs = reference(damaged);
    const mine = ours(damaged);
    if (mine === undefined) {
      if (theirs === undefined) bothRefused++;
      else stricter++;
      continue;
    }
    assert(theirs, `round ${round}: accepted bytes the generated code refuses`);
    assertEquals(mine, theirs, `round ${round}`);
    agreed++;
  }
  // The damage must exercise all three outcomes, or the test proves little.
  assert(agreed > 400 && bothRefused > 400 && stricter > 0, `${agreed}/${bothRefused}/${stricter}`);
});

/** Bytes of a varint. */
function varint(v: number): number[] {
  const out = [];
  while (v > 127) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const len = (field: number, body: number[]) => [...tag(field, 2), ...varint(body.length), ...body];

Deno.test("readRaftBatch takes what any encoder may write: fields out of order, unknown fields, unpacked lists, repeated scalars", () => {
  const unknown = [
    ...tag(90, 0),
    ...varint(300),
    ...tag(91, 1),
    ...Array(8).fill(7),
    ...len(92, [1, 2, 3]),
    ...tag(93, 5),
    ...Array(4).fill(9),
  ];
  const snapshot = [
    ...len(6, [...tag(1, 0), 3, ...tag(1, 0), 4, ...len(1, [5, 6]), ...unknown]), // unpacked, packed
    ...tag(5, 0),
    1,
    ...tag(1, 0),
    ...varint(99),
    ...tag(1, 0),
    ...varint(100), // the last one counts
    ...unknown,
  ];
  const message = [
    ...len(17, snapshot), // the body before the envelope
    ...tag(4, 0),
    ...varint(7),
    ...tag(3, 0),
    2,
    ...tag(2, 0),
    1,
    ...unknown,
    ...tag(1, 0),
    ...[0x85, 0x80, 0x80, 0x00], // partition 5, in more bytes than it needs
  ];
  const bytes = new Uint8Array([
    ...len(3, message),
    ...unknown,
    ...len(2, [...new TextEncoder().encode("c1")]),
    ...tag(1, 0),
    1,
  ]);
  const batch = readRaftBatch(bytes);
  assertEquals(batch.malformed, undefined);
  assertEquals(batch.from, 1);
  assertEquals(batch.messages, [{
    partition: 5,
    message: {
      type: "InstallSnapshot",
      from: 1,
      to: 2,
      term: 7,
      snapshotIndex: 100,
      snapshotTerm: 0,
      offset: 0,
      data: new Uint8Array(),
      done: true,
      membership: { voters: [3, 4, 5, 6], learners: [] },
    },
  }]);
  assertEquals(plain(batch), reference(bytes));
});

Deno.test("readRaftBatch keeps a malformed message's problem for the receiver, and reads on", () => {
  const heartbeat = (term: number) =>
    len(3, [...tag(2, 0), 1, ...tag(3, 0), 2, ...tag(4, 0), ...varint(term), ...len(15, [])]);
  const ok = readRaftBatch(new Uint8Array([...heartbeat(MAX_WIRE_NUMBER), ...tag(1, 0), 1]));
  assertEquals(ok.malformed, undefined);
  assertEquals(ok.messages[0].message.term, MAX_WIRE_NUMBER);
  const cases: [string, number[]][] = [
    [
      `term ${MAX_WIRE_NUMBER + 1} is beyond the limit`,
      [...heartbeat(1), ...heartbeat(MAX_WIRE_NUMBER + 1), ...tag(1, 0), 1],
    ],
    ["it carries no body", len(3, [...tag(2, 0), 1])],
    [
      "entry 9 out of sequence after 4",
      len(3, [...len(13, [...tag(1, 0), 4, ...len(3, [...tag(1, 0), 9])])]),
    ],
    [
      "entry 5 has unknown type 7",
      len(3, [...len(13, [...tag(1, 0), 4, ...len(3, [...tag(1, 0), 5, ...tag(3, 0), 7])])]),
    ],
    ["a snapshot membership needs voters", len(3, [...len(17, [...len(6, [])])])],
  ];
  for (const [problem, bytes] of cases) {
    const batch = readRaftBatch(new Uint8Array(bytes));
    assert(batch.malformed?.includes(problem), `${problem}: ${batch.malformed}`);
    // The generated code's reading finds the same problem, in the same words.
    assertEquals(reference(new Uint8Array(bytes))?.malformed, batch.malformed);
  }
  const beyond = readRaftBatch(new Uint8Array(cases[0][1]));
  assertEquals([beyond.from, beyond.messages.length], [1, 2], "read on past the problem");
});

Deno.test("readRaftBatch refuses what the wire format does not allow, with a WireFormatError", () => {
  const cases: [string, number[]][] = [
    ["a tag and no value", [...tag(1, 0)]],
    ["a varint past 64 bits", [...tag(1, 0), ...Array(10).fill(0xff), 1]],
    ["a 32-bit field beyond 32 bits", [...tag(1, 0), ...varint(2 ** 32)]],
    ["a length past the end", [...tag(2, 2), 5, 1, 2]],
    ["field 0", [...tag(0, 0), 1]],
    ["a group", [...tag(9, 3), ...tag(9, 4)]],
    ["wire type 7", [...tag(9, 7), 1]],
    ["a known field with the wrong wire type", [...len(1, [1])]],
    ["a nested field running past its message", [...len(3, [...tag(4, 0)]), 5]],
    ["two bodies", [...len(3, [...len(15, []), ...len(16, [])])]],
    ["a cluster name that is not UTF-8", [...len(2, [0xff, 0xfe])]],
    ["an undecodable write", [...len(5, [...len(3, [0xff])])]],
  ];
  for (const [what, bytes] of cases) {
    let error: unknown;
    try {
      readRaftBatch(new Uint8Array(bytes));
    } catch (e) {
      error = e;
    }
    assert(error instanceof WireFormatError, `${what}: ${error}`);
  }
});
