import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { fnv1a32, hashTag, partitionForKey } from "./hash.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("fnv1a32: matches the published test vectors", () => {
  assertEquals(fnv1a32(new Uint8Array()), 0x811c9dc5);
  assertEquals(fnv1a32(te.encode("a")), 0xe40c292c);
  assertEquals(fnv1a32(te.encode("foobar")), 0xbf9cf968);
});

Deno.test("partitionForKey: stable, in range, and spread evenly", () => {
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 8000; i++) counts[partitionForKey(te.encode(`user:${i}`), 8)]++;
  for (const c of counts) assert(c > 800 && c < 1200, `uneven spread: ${counts}`);
  assertEquals(partitionForKey(te.encode("user:1"), 8), partitionForKey(te.encode("user:1"), 8));
});

Deno.test("partitionForKey: refuses a partition count that is not a positive integer", () => {
  for (const n of [0, -1, 1.5, Number.NaN]) {
    assertThrows(() => partitionForKey(te.encode("k"), n), RangeError, "positive integer");
  }
});

Deno.test("hashTag: keys with the same tag share a partition", () => {
  const a = te.encode("{user:42}:a");
  const b = te.encode("{user:42}:b");
  assertEquals(td.decode(hashTag(a)), "user:42");
  assertEquals(fnv1a32(hashTag(a)), fnv1a32(te.encode("user:42")));
  for (const n of [2, 3, 8, 64, 1024]) {
    assertEquals(partitionForKey(a, n), partitionForKey(b, n), `${n} partitions`);
  }
  // Only the first {...} counts, wherever it is in the key.
  assertEquals(td.decode(hashTag(te.encode("orders:{user:42}:{x}"))), "user:42");
});

Deno.test("hashTag: without a tag, the whole key is hashed", () => {
  // Without tags these two keys land apart, so the tag tests above are not luck.
  assertNotEquals(
    fnv1a32(te.encode("{user:42}:a")) % 1024,
    fnv1a32(te.encode("{user:42}:b")) % 1024,
  );
  for (const key of ["plain", "user:{}", "{}:a", "{unclosed", "a}b{", "{", "}{"]) {
    const bytes = te.encode(key);
    assertEquals(td.decode(hashTag(bytes)), key, key);
    assertEquals(partitionForKey(bytes, 1024), fnv1a32(bytes) % 1024, key);
  }
  // An empty tag does not group keys: "{}:a" and "{}:b" hash whole, like any other key.
  assertNotEquals(fnv1a32(hashTag(te.encode("{}:a"))), fnv1a32(hashTag(te.encode("{}:b"))));
});
