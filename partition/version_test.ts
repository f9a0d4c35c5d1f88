import { assert, assertEquals, assertThrows } from "@std/assert";
import { formatVersion, isVersion, parseVersion } from "./version.ts";

Deno.test("formatVersion: 4 hex digits of partition, then 16 of index", () => {
  assertEquals(formatVersion(3, 42), "0003000000000000002a");
  assertEquals(formatVersion(0, 0), "00000000000000000000");
  assertEquals(formatVersion(0xffff, Number.MAX_SAFE_INTEGER), "ffff001fffffffffffff");
});

Deno.test("parseVersion: round trips formatVersion", () => {
  for (const partition of [0, 1, 255, 0xffff]) {
    for (const index of [0, 1, 15, 16, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) {
      const version = formatVersion(partition, index);
      assert(isVersion(version), version);
      assertEquals(parseVersion(version), { partition, index });
    }
  }
});

Deno.test("versions: string order is index order within one partition", () => {
  const indexes = [1, 2, 9, 10, 15, 16, 255, 256, 4096, 0xffffffff, 0x100000000, 2 ** 52];
  const versions = indexes.map((i) => formatVersion(7, i));
  const sorted = [...versions].sort();
  assertEquals(sorted, versions);
  for (let i = 1; i < versions.length; i++) assert(versions[i - 1] < versions[i]);
});

Deno.test("formatVersion: refuses a partition or index out of range", () => {
  for (const p of [-1, 0x10000, 1.5, Number.NaN]) {
    assertThrows(() => formatVersion(p, 1), RangeError, "Partition must be in 0..65535");
  }
  for (const i of [-1, 1.5, 2 ** 53, Number.NaN]) {
    assertThrows(() => formatVersion(0, i), RangeError, "Index must be a non-negative");
  }
});

Deno.test("parseVersion: refuses strings that are not versions", () => {
  const bad = [
    "",
    "v1",
    "0003000000000000002",
    "0003000000000000002a0",
    "0003000000000000002A",
    "0003000000000000002g",
    " 003000000000000002a",
  ];
  for (const s of bad) {
    assertEquals(isVersion(s), false, s);
    assertThrows(() => parseVersion(s), RangeError, "is not a version");
  }
  // The right shape, but an index no JavaScript number holds exactly.
  assertThrows(() => parseVersion("0000ffffffffffffffff"), RangeError, "beyond 2^53");
});
