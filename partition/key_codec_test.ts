import { assert, assertEquals, assertThrows } from "@std/assert";
import { SeededRandom } from "../raft/rng.ts";
import { hashTag, partitionForKey } from "./hash.ts";
import {
  decodeKey,
  encodeKey,
  encodeKeyPrefix,
  isTupleKey,
  type Key,
  KeyError,
  type KeyPart,
} from "./key_codec.ts";

/** Byte order, as a store sorts keys. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}

const TYPE_ORDER = ["bytes", "string", "number", "bigint", "boolean"];
const typeOf = (p: KeyPart) => p instanceof Uint8Array ? "bytes" : typeof p;
const te = new TextEncoder();

/** The documented tuple order (docs/keys.md), written independently of the codec. */
function compareParts(a: KeyPart, b: KeyPart): number {
  const ta = TYPE_ORDER.indexOf(typeOf(a)), tb = TYPE_ORDER.indexOf(typeOf(b));
  if (ta !== tb) return Math.sign(ta - tb);
  if (a instanceof Uint8Array) return compareBytes(a, b as Uint8Array);
  if (typeof a === "string") return compareBytes(te.encode(a), te.encode(b as string));
  if (typeof a === "boolean") return Number(a) - Number(b);
  return a < (b as number | bigint) ? -1 : a > (b as number | bigint) ? 1 : 0;
}

function compareTuples(a: Key, b: Key): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareParts(a[i], b[i]);
    if (c !== 0) return c;
  }
  return Math.sign(a.length - b.length);
}

/** Random parts, biased towards the bytes the codec must escape and values that nearly tie. */
function randomPart(r: SeededRandom): KeyPart {
  const special = [0x00, 0x01, 0x02, 0x7b, 0x7c, 0x7d, 0x7e, 0xff];
  const byte = () => r.chance(0.5) ? special[r.nextInt(special.length)] : r.nextInt(256);
  switch (r.nextInt(5)) {
    case 0:
      return Uint8Array.from({ length: r.nextInt(4) }, byte);
    case 1: {
      const chars = ["", "a", "b", "{", "|", "}", "\0", "é", "\u{1F600}", "\uffff", "z"];
      return Array.from({ length: r.nextInt(4) }, () => chars[r.nextInt(chars.length)]).join("");
    }
    case 2: {
      const n = [0, -0, 1, -1, 0.5, -0.5, 1e300, -1e300, Infinity, -Infinity, 5e-324, 125, 124];
      return r.chance(0.5) ? n[r.nextInt(n.length)] : (r.next() - 0.5) * 2 ** r.nextInt(70);
    }
    case 3: {
      const big = BigInt(r.nextInt(2 ** 31)) ** BigInt(r.nextInt(4));
      return r.chance(0.5) ? -big : big;
    }
    default:
      return r.chance(0.5);
  }
}

function randomTuple(r: SeededRandom): KeyPart[] {
  return Array.from({ length: 1 + r.nextInt(4) }, () => randomPart(r));
}

Deno.test("tuple keys: byte order equals tuple order (seeded random tuples)", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const r = new SeededRandom(seed);
    for (let n = 0; n < 500; n++) {
      const a = randomTuple(r);
      // Half of the pairs share leading parts, so later parts decide.
      const b = r.chance(0.5)
        ? [...a.slice(0, r.nextInt(a.length + 1)), ...randomTuple(r)]
        : randomTuple(r);
      const hashedParts = r.chance(0.5) ? undefined : 1 + r.nextInt(3);
      const ea = encodeKey(a, { hashedParts }), eb = encodeKey(b, { hashedParts });
      const want = compareTuples(a, b), got = compareBytes(ea, eb);
      assertEquals(got, want, `seed ${seed}: ${Deno.inspect(a)} vs ${Deno.inspect(b)}`);
      assertEquals(decodeKey(ea).parts.map(norm), a.map(norm), `seed ${seed}: round trip`);
    }
  }
});

/** -0 encodes as 0. */
const norm = (p: KeyPart) => Object.is(p, -0) ? 0 : p;

Deno.test("tuple keys: a prefix's bytes start every key that extends it, and no other", () => {
  const r = new SeededRandom(99);
  for (let n = 0; n < 2000; n++) {
    const prefix = randomTuple(r).slice(0, r.nextInt(3));
    const hashedParts = r.chance(0.5) ? undefined : 1 + r.nextInt(3);
    const p = encodeKeyPrefix(prefix, { hashedParts });
    const key = [...prefix, ...randomTuple(r)];
    const starts = (k: Uint8Array) => p.every((b, i) => k[i] === b);
    assert(starts(encodeKey(key, { hashedParts })), Deno.inspect({ prefix, key, hashedParts }));
    const other = randomTuple(r);
    const extends_ = other.length >= prefix.length &&
      prefix.every((part, i) => compareParts(part, other[i]) === 0);
    assertEquals(
      starts(encodeKey(other, { hashedParts })),
      extends_,
      Deno.inspect({ prefix, other }),
    );
  }
  // Without hashedParts a prefix fits keys that hash at least as many parts as it has.
  const p = encodeKeyPrefix(["user", 1]);
  for (const hashedParts of [1, 2, 3, undefined]) {
    const k = encodeKey(["user", 1, "x"], { hashedParts });
    assertEquals(p.every((b, i) => k[i] === b), hashedParts !== 1, `hashedParts ${hashedParts}`);
  }
});

Deno.test("tuple keys: the leading hashed parts decide the partition through the {...} rule", () => {
  const profile = encodeKey(["user", 42, "profile"], { hashedParts: 2 });
  const orders = encodeKey(["user", 42, "orders"], { hashedParts: 2 });
  assertEquals(hashTag(profile), hashTag(orders));
  assertEquals(hashTag(profile), encodeKeyPrefix(["user", 42]).subarray(2));
  const r = new SeededRandom(7);
  for (let n = 0; n < 300; n++) {
    const head = randomTuple(r);
    const a = encodeKey([...head, ...randomTuple(r)], { hashedParts: head.length });
    const b = encodeKey([...head, ...randomTuple(r)], { hashedParts: head.length });
    assertEquals(partitionForKey(a, 16), partitionForKey(b, 16), Deno.inspect(head));
    // The tag is exactly the hashed parts: no "}" inside them ends it early.
    assertEquals(hashTag(a).length, encodeKeyPrefix(head).length - 2);
  }
  // By default every part is hashed, so keys spread.
  const spread = new Set(
    Array.from({ length: 64 }, (_, i) => partitionForKey(encodeKey(["user", i]), 8)),
  );
  assert(spread.size > 4, `only ${spread.size} partitions used`);
});

Deno.test("tuple keys never equal a string key's bytes", () => {
  const r = new SeededRandom(3);
  for (let n = 0; n < 500; n++) {
    const k = encodeKey(randomTuple(r));
    assert(isTupleKey(k));
    // 0xFF never occurs in UTF-8.
    assert(
      !te.encode(
        String.fromCharCode(...Array.from({ length: 8 }, () => r.nextInt(0x10000))).toWellFormed(),
      ).includes(0xff),
    );
  }
  assert(!isTupleKey(te.encode("users")));
  assertEquals(encodeKey(["a", true]), Uint8Array.from([255, 123, 129, 97, 0, 133, 125]));
});

Deno.test("tuple keys: invalid parts are refused, naming the part, never coerced", () => {
  const cases: [unknown[], number, RegExp][] = [
    [["users", {}], 1, /part 1 is an object/],
    [["users", NaN], 1, /part 1 is NaN/],
    [[undefined], 0, /part 0 is undefined/],
    [["a", "b", ["c"]], 2, /cannot nest/],
    [[Symbol("s")], 0, /part 0 is a symbol/],
    [[null], 0, /part 0 is null/],
    [["\ud800"], 0, /lone surrogate/],
    [[2n ** 1100n], 0, /more than 127 bytes/],
    [[], -1, /at least one part/],
  ];
  for (const [key, part, message] of cases) {
    const e = assertThrows(() => encodeKey(key as Key), KeyError);
    assertEquals(e.part, part);
    assert(message.test(e.message), e.message);
  }
  assertThrows(() => encodeKey(["a"], { hashedParts: 0 }), KeyError, "positive integer");
  assertThrows(() => encodeKey("users" as unknown as Key), KeyError, "must be an array");
  assertThrows(() => decodeKey(te.encode("users")), KeyError, "Not a tuple key");
});
