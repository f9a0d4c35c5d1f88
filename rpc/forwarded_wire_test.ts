import { assert, assertEquals, assertThrows } from "@std/assert";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { SeededRandom } from "../raft/mod.ts";
import {
  ForwardedCallSchema,
  ForwardedResultSchema,
  PutRequestSchema,
  PutResponseSchema,
  SessionSchema,
} from "./gen/prkdb/v1/kv_pb.ts";
import { encodeForwardedCall, encodeForwardedResult } from "./forwarded_wire.ts";
import { readForwardedCall, readForwardedResult } from "./forwarded_read.ts";

type CallInit = MessageInitShape<typeof ForwardedCallSchema>;
type ResultInit = MessageInitShape<typeof ForwardedResultSchema>;

/** Random values that reach every branch: absent, zero, small, past 2^53, past 2^64 - 1. */
function draw(rng: SeededRandom) {
  const bytes = (n: number) => new Uint8Array(rng.nextInt(n)).map(() => rng.nextInt(256));
  const big = (): bigint | undefined => {
    switch (rng.nextInt(6)) {
      case 0:
        return undefined;
      case 1:
        return 0n;
      case 2:
        return BigInt(Number.MAX_SAFE_INTEGER) + BigInt(rng.nextInt(3));
      case 3:
        return 2n ** 64n - 1n;
      default:
        return BigInt(rng.nextInt(2 ** 31)) * BigInt(1 + rng.nextInt(1000));
    }
  };
  const text = (): string | undefined => {
    switch (rng.nextInt(5)) {
      case 0:
        return undefined;
      case 1:
        return "";
      case 2:
        return `é-${rng.nextInt(100)}`; // not ASCII: the generated code's
      default:
        return `${rng.nextInt(8)}.${rng.nextInt(1e6)}`;
    }
  };
  const u32 = () =>
    [0, 1, 127, 128, 0xffff_ffff, rng.nextInt(1e6)][rng.nextInt(6)] as number | undefined;
  const session = () =>
    rng.nextInt(3) === 0
      ? undefined
      : { id: big(), seq: big(), firstIncomplete: rng.nextInt(2) === 0 ? undefined : big() };
  // Values of every length class: one-, two- and three-byte lengths once nested.
  const value = () => bytes([10, 200, 20_000][rng.nextInt(3)]);
  return { bytes, big, text, u32, session, value };
}

function randomCallInit(rng: SeededRandom): CallInit {
  const d = draw(rng);
  switch (rng.nextInt(5)) {
    case 0:
    case 1:
      return {
        call: {
          case: "put",
          value: {
            key: d.bytes(40),
            value: d.value(),
            session: d.session(),
            ifVersion: d.text(),
            expireInMs: d.big(),
          },
        },
      };
    case 2:
      return {
        call: {
          case: "delete",
          value: { key: d.bytes(40), session: d.session(), ifVersion: d.text() },
        },
      };
    case 3:
      return {
        call: {
          case: "atomic",
          value: {
            checks: [{ key: d.bytes(8) }],
            mutations: [{ key: d.bytes(8), value: d.value() }],
          },
        },
      };
    default:
      return rng.nextInt(2) === 0
        ? {}
        : { call: { case: "openSession", value: { partition: d.u32(), timeoutMs: d.u32() } } };
  }
}

function randomResultInit(rng: SeededRandom): ResultInit {
  const d = draw(rng);
  switch (rng.nextInt(5)) {
    case 0:
      return {
        result: {
          case: "put",
          value: {
            partition: d.u32(),
            index: d.big(),
            ok: rng.nextInt(2) === 0,
            version: d.text(),
          },
        },
      };
    case 1:
      return {
        result: {
          case: "delete",
          value: {
            found: rng.nextInt(2) === 0,
            ok: rng.nextInt(2) === 0,
            partition: d.u32(),
            index: d.big(),
          },
        },
      };
    case 2:
      return {
        result: { case: "error", value: { code: d.u32(), message: d.text(), kind: d.text() } },
      };
    case 3:
      return {
        result: { case: "atomic", value: { ok: true, failedCheck: d.u32(), index: d.big() } },
      };
    default:
      return {};
  }
}

/** What the generated writer makes of an init, or undefined when it refuses it. */
function generatedBytes<T>(write: () => T): T | undefined {
  try {
    return write();
  } catch {
    return undefined;
  }
}

Deno.test("encodeForwardedCall and encodeForwardedResult write byte for byte what the generated writer writes", () => {
  const rng = new SeededRandom(17);
  for (let round = 0; round < 3000; round++) {
    const call = randomCallInit(rng);
    const want = generatedBytes(() =>
      toBinary(ForwardedCallSchema, create(ForwardedCallSchema, call))
    );
    if (want === undefined) assertThrows(() => encodeForwardedCall(call));
    else assertEquals(encodeForwardedCall(call), want, `call, round ${round}`);
    const result = randomResultInit(rng);
    const wantResult = generatedBytes(() =>
      toBinary(ForwardedResultSchema, create(ForwardedResultSchema, result))
    );
    if (wantResult === undefined) assertThrows(() => encodeForwardedResult(result));
    else assertEquals(encodeForwardedResult(result), wantResult, `result, round ${round}`);
  }
});

/** Reads `bytes` both ways; they must agree on the message, or both refuse. */
function compare<T>(mine: () => T, theirs: () => T, what: string): "agreed" | "refused" {
  let want: T;
  try {
    want = theirs();
  } catch {
    assertThrows(mine, Error, undefined);
    return "refused";
  }
  assertEquals(mine(), want, what);
  return "agreed";
}

/** `bytes` with one to three bits flipped, bytes replaced, lost, added, or cut short. */
function damage(rng: SeededRandom, original: Uint8Array): Uint8Array {
  const bytes = [...original];
  for (let k = 1 + rng.nextInt(3); k > 0; k--) {
    const at = rng.nextInt(bytes.length + 1);
    switch (rng.nextInt(5)) {
      case 0:
        if (at < bytes.length) bytes[at] ^= 1 << rng.nextInt(8);
        break;
      case 1:
        if (at < bytes.length) bytes[at] = rng.nextInt(256);
        break;
      case 2:
        bytes.splice(at, 1);
        break;
      case 3:
        bytes.splice(at, 0, rng.nextInt(256));
        break;
      default:
        bytes.length = at;
    }
  }
  return new Uint8Array(bytes);
}

Deno.test("readForwardedCall and readForwardedResult read every call and result as the generated reader does, whole or damaged", () => {
  const rng = new SeededRandom(29);
  const outcomes = { agreed: 0, refused: 0 };
  for (let round = 0; round < 3000; round++) {
    const call = generatedBytes(() =>
      toBinary(ForwardedCallSchema, create(ForwardedCallSchema, randomCallInit(rng)))
    );
    const result = generatedBytes(() =>
      toBinary(ForwardedResultSchema, create(ForwardedResultSchema, randomResultInit(rng)))
    );
    for (const bytes of call ? [call, damage(rng, call)] : []) {
      outcomes[
        compare(
          () => readForwardedCall(bytes),
          () => fromBinary(ForwardedCallSchema, bytes),
          `call, round ${round}`,
        )
      ]++;
    }
    for (const bytes of result ? [result, damage(rng, result)] : []) {
      outcomes[
        compare(
          () => readForwardedResult(bytes),
          () => fromBinary(ForwardedResultSchema, bytes),
          `result, round ${round}`,
        )
      ]++;
    }
  }
  // Damage must both break messages and leave some readable, or the test proves little.
  assert(outcomes.agreed > 3000 && outcomes.refused > 300, JSON.stringify(outcomes));
});

Deno.test("readForwardedCall agrees with the generated reader on what any encoder may write: repeated, reordered and unknown fields", () => {
  const key = [0x0a, 0x01, 0x41]; // key = "A"
  const value = [0x12, 0x01, 0x42]; // value = "B"
  const cases: Record<string, number[]> = {
    "fields in reverse order": [...value, ...key],
    "a key given twice (the last wins)": [...key, 0x0a, 0x01, 0x43],
    "an unknown field": [...key, 0x78, 0x05],
    "a session given twice (merged)": [...key, 0x1a, 0x02, 0x08, 0x01, 0x1a, 0x02, 0x10, 0x02],
    "an empty if_version (present)": [...key, 0x22, 0x00],
    "a key with the wire type of a varint": [0x08, 0x01],
    "a put given twice (merged)": [],
  };
  for (const [name, body] of Object.entries(cases)) {
    const bytes = name === "a put given twice (merged)"
      ? new Uint8Array([0x0a, 3, ...key, 0x0a, 3, ...value])
      : new Uint8Array([0x0a, body.length, ...body]);
    compare(() => readForwardedCall(bytes), () => fromBinary(ForwardedCallSchema, bytes), name);
  }
});

Deno.test("readForwardedCall gives byte fields as views into the bytes read, not copies", () => {
  const bytes = encodeForwardedCall({
    call: { case: "put", value: { key: new Uint8Array([1, 2]), value: new Uint8Array([3]) } },
  });
  const call = readForwardedCall(bytes);
  assert(call.call.case === "put");
  assertEquals(call.call.value.key.buffer, bytes.buffer);
});

Deno.test("encodeForwardedCall keeps fields its reader did not know, as the generated writer does", () => {
  // A put with key 7 and an unknown field 16 = 5, as a newer client might send it.
  const request = fromBinary(
    PutRequestSchema,
    new Uint8Array([0x0a, 0x01, 0x07, 0x80, 0x01, 0x05]),
  );
  const session = fromBinary(SessionSchema, new Uint8Array([0x08, 0x01, 0x78, 0x02]));
  for (
    const call of [
      { call: { case: "put" as const, value: request } },
      { call: { case: "put" as const, value: { key: new Uint8Array([1]), session } } },
      // A put of key 7, then an unknown field 15 = 1 of the call itself.
      fromBinary(ForwardedCallSchema, new Uint8Array([0x0a, 0x03, 0x0a, 0x01, 0x07, 0x78, 0x01])),
    ]
  ) {
    const want = toBinary(ForwardedCallSchema, create(ForwardedCallSchema, call as never));
    assertEquals(encodeForwardedCall(call as never), want);
  }
  const answer = fromBinary(PutResponseSchema, new Uint8Array([0x08, 0x03, 0x78, 0x09]));
  const result = { result: { case: "put" as const, value: answer } };
  assertEquals(
    encodeForwardedResult(result),
    toBinary(ForwardedResultSchema, create(ForwardedResultSchema, result)),
  );
});
