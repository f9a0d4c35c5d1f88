import { assert, assertEquals } from "@std/assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { SeededRandom } from "../raft/mod.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import { RaftBatchSchema } from "./gen/prkdb/v1/raft_pb.ts";
import { ForwardedCallSchema, ForwardedResultSchema } from "./gen/prkdb/v1/kv_pb.ts";
import { encodeRaftMessage, MalformedMessageError, MAX_WIRE_NUMBER } from "./raft_codec.ts";
import { readRaftBatch, type ReceivedBatch, receivedFromGenerated } from "./raft_read.ts";
import { Checks } from "./raft_read_message.ts";
import { WireFormatError } from "./wire_cursor.ts";
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
        durableNotice: rng.nextInt(3) === 0,
        ...(rng.nextInt(6) > 0 && { call: randomCall(rng) }),
      })),
      answers: Array.from({ length: rng.nextInt(3) }, () => ({
        id: id(),
        incarnation: id(),
        ...(rng.nextInt(6) > 0 && { result: randomResult(rng) }),
      })),
      durable: Array.from({ length: rng.nextInt(3) }, () => ({
        id: id(),
        incarnation: id(),
        partition: rng.nextInt(3) === 0 ? 0 : rng.nextInt(5000),
        index: BigInt(rng.nextInt(4) === 0 ? MAX_WIRE_NUMBER : rng.nextInt(1e9)),
        term: BigInt(rng.nextInt(1000)),
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
      durableNotice: w.durableNotice === true,
      call: w.call && toBinary(ForwardedCallSchema, w.call),
    })),
    durable: b.durable.map((d) => ({ ...d })),
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

/** How the two readings of some bytes compare. */
type Outcome = "agreed" | "both refused" | "stricter";

/**
 * Compares the hand reader with the generated one on `bytes`: never accepting what the
 * generated one refuses, never finding a batch valid that it finds malformed, and reading a
 * valid batch the same way. It may refuse more, and find more malformed (it checks a value the
 * generated reader keeps only the last copy of); when both find a batch malformed, the first
 * problem may differ (the two check a message's fields in different orders).
 */
function compare(bytes: Uint8Array, what: string): Outcome {
  const theirs = reference(bytes);
  const mine = ours(bytes);
  if (mine === undefined) return theirs === undefined ? "both refused" : "stricter";
  assert(theirs, `${what}: accepted bytes the generated code refuses`);
  if (mine.malformed !== undefined) {
    return theirs.malformed === undefined ? "stricter" : "agreed";
  }
  assertEquals(theirs.malformed, undefined, `${what}: missed a malformed message`);
  assertEquals(mine, theirs, what);
  return "agreed";
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
    const outcome = compare(new Uint8Array(bytes), `round ${round}`);
    if (outcome === "agreed") agreed++;
    else if (outcome === "both refused") bothRefused++;
    else stricter++;
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

/** A field of a message read without its schema: a LEN field that reads as fields is a message. */
interface Field {
  field: number;
  wire: number;
  /** A varint's value. */
  value?: bigint;
  /** Extra bytes a varint is written with (the wire format allows up to ten in all). */
  padding?: number;
  /** Fixed-width and LEN bytes. */
  bytes?: Uint8Array;
  /** A LEN field's fields, when it reads as a message. */
  fields?: Field[];
}

/** Reads fields without a schema; undefined when the bytes are not a sequence of fields. */
function fieldsOf(bytes: Uint8Array, depth = 0): Field[] | undefined {
  const out: Field[] = [];
  let pos = 0;
  const uvarint = () => {
    let v = 0n, shift = 0n;
    for (let i = 0; i < 10 && pos < bytes.length; i++) {
      const b = bytes[pos++];
      v |= BigInt(b & 127) << shift;
      if (b < 128) return v;
      shift += 7n;
    }
    return undefined;
  };
  while (pos < bytes.length) {
    const t = uvarint();
    if (t === undefined || t >> 3n === 0n || t > 0xffff_ffffn) return undefined;
    const field = Number(t >> 3n), wire = Number(t & 7n);
    if (wire === 0) {
      const value = uvarint();
      if (value === undefined) return undefined;
      out.push({ field, wire, value });
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > bytes.length) return undefined;
      out.push({ field, wire, bytes: bytes.subarray(pos, pos + n) });
      pos += n;
    } else if (wire === 2) {
      const n = uvarint();
      if (n === undefined || pos + Number(n) > bytes.length) return undefined;
      const body = bytes.subarray(pos, pos + Number(n));
      pos += Number(n);
      const fields = depth < 6 && body.length > 0 ? fieldsOf(body, depth + 1) : undefined;
      out.push({ field, wire, bytes: body, ...(fields && { fields }) });
    } else return undefined;
  }
  return out;
}

function writeVarint(v: bigint, padding = 0): number[] {
  const out: number[] = [];
  do {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  } while (v > 0n);
  for (let i = 0; i < padding && out.length < 10; i++) out.push(128);
  out[out.length - 1] &= 127;
  return out;
}

function bytesOf(fields: Field[]): number[] {
  const out: number[] = [];
  for (const f of fields) {
    out.push(...writeVarint(BigInt(f.field * 8 + f.wire)));
    if (f.wire === 0) out.push(...writeVarint(f.value!, f.padding));
    else if (f.wire === 2) {
      const body = f.fields ? bytesOf(f.fields) : [...f.bytes!];
      out.push(...writeVarint(BigInt(body.length)), ...body);
    } else out.push(...f.bytes!);
  }
  return out;
}

/** Every list of fields in a tree: the messages a mutation may change. */
function lists(fields: Field[], into: Field[][] = []): Field[][] {
  into.push(fields);
  for (const f of fields) if (f.fields) lists(f.fields, into);
  return into;
}

const EDGES = [
  0n,
  1n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 48n,
  2n ** 48n + 1n,
  2n ** 53n + 1n,
  2n ** 64n - 1n,
];

/** One change a careless or hostile encoder might make, on a random message of the tree. */
function mutate(rng: SeededRandom, tree: Field[]): void {
  const all = lists(tree);
  const list = all[rng.nextInt(all.length)];
  const i = rng.nextInt(Math.max(1, list.length));
  const f = list[i];
  switch (rng.nextInt(8)) {
    case 0: // fields in another order
      for (let k = list.length - 1; k > 0; k--) {
        const j = rng.nextInt(k + 1);
        [list[k], list[j]] = [list[j], list[k]];
      }
      return;
    case 1: // a field written twice
      if (f) list.splice(rng.nextInt(list.length + 1), 0, structuredClone(f));
      return;
    case 2: // a varint at an edge of what the fields hold
      if (f?.wire === 0) f.value = EDGES[rng.nextInt(EDGES.length)];
      return;
    case 3: // a varint in more bytes than it needs
      if (f?.wire === 0) f.padding = 1 + rng.nextInt(9);
      return;
    case 4: // a field this reader does not know
      list.splice(
        rng.nextInt(list.length + 1),
        0,
        [
          { field: 50 + rng.nextInt(10), wire: 0, value: EDGES[rng.nextInt(EDGES.length)] },
          { field: 50 + rng.nextInt(10), wire: 1, bytes: new Uint8Array(8).fill(7) },
          { field: 50 + rng.nextInt(10), wire: 2, bytes: new Uint8Array([1, 2, 3]) },
          { field: 50 + rng.nextInt(10), wire: 5, bytes: new Uint8Array(4).fill(9) },
        ][rng.nextInt(4)],
      );
      return;
    case 5: // a byte-order mark in front of bytes or a string
      if (f?.wire === 2 && !f.fields) f.bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...f.bytes!]);
      return;
    case 6: // a field lost
      if (f) list.splice(i, 1);
      return;
    default: // a message's fields flattened into bytes, or a field of another kind
      if (f?.fields && rng.nextInt(2) === 0) delete f.fields;
      else if (f) f.field = 1 + rng.nextInt(21);
  }
}

Deno.test("readRaftBatch agrees with the generated code on batches rebuilt field by field: reordered, repeated, padded, unknown and edge-valued fields", () => {
  const rng = new SeededRandom(211);
  const outcomes: Record<Outcome, number> = { agreed: 0, "both refused": 0, stricter: 0 };
  for (let round = 0; round < 3000; round++) {
    const tree = fieldsOf(randomBatch(rng, round))!;
    for (let k = 1 + rng.nextInt(3); k > 0; k--) mutate(rng, tree);
    outcomes[compare(new Uint8Array(bytesOf(tree)), `round ${round}`)]++;
  }
  assert(outcomes.agreed > 1000 && outcomes.stricter > 0, JSON.stringify(outcomes));
});

Deno.test("readRaftBatch reads a cluster name with a byte-order mark as the generated code does: as text", () => {
  const bytes = new Uint8Array([...len(2, [0xef, 0xbb, 0xbf, 0x63, 0x31]), ...tag(1, 0), 1]);
  assertEquals(readRaftBatch(bytes).cluster, "\ufeffc1");
  assertEquals(compare(bytes, "byte-order mark"), "agreed");
});

Deno.test("readRaftBatch refuses a ten-byte varint that holds more than 64 bits, even in a bool", () => {
  // VoteResponse.granted (field 2 of body 11) with bit 65 set: the generated reader drops it.
  const body = [...tag(2, 0), ...Array(9).fill(0x80), 0x02];
  const bytes = new Uint8Array(len(3, [...tag(2, 0), 1, ...len(11, body)]));
  assertEquals(ours(bytes), undefined);
  assertEquals(compare(bytes, "65-bit varint"), "stricter");
});

Deno.test("readRaftBatch gives a write's call as much nesting as the generated code does, no more", () => {
  for (let depth = 90; depth <= 102; depth++) {
    // An unknown group (field 9) nested `depth` deep inside the call.
    const call = [...Array(depth).fill((9 << 3) | 3), ...Array(depth).fill((9 << 3) | 4)];
    const bytes = new Uint8Array([...len(5, [...tag(1, 0), 1, ...len(3, call)])]);
    const outcome = compare(bytes, `depth ${depth}`);
    assert(outcome !== "stricter", `depth ${depth}: refused what the generated code reads`);
  }
});

Deno.test("Checks: after the first problem no further check runs", () => {
  const checks = new Checks();
  let ran = 0;
  const bad = () => {
    ran++;
    throw new MalformedMessageError("bad entry");
  };
  assertEquals(checks.run(bad, "fallback"), "fallback");
  assertEquals(checks.problem, "bad entry");
  for (let i = 0; i < 1000; i++) checks.run(bad, "fallback");
  assertEquals(ran, 1, "a batch of bad entries costs one failed check, not one per entry");
  checks.number(MAX_WIRE_NUMBER + 1, "term");
  checks.fail("later");
  assertEquals(checks.problem, "bad entry", "the first problem is the one kept");
});
