import { assertEquals } from "@std/assert";
import { SeededRandom } from "../raft/rng.ts";
import { crc32 } from "./crc32.ts";

/** The bitwise definition of CRC-32 (reflected, polynomial 0xEDB88320), as a reference. */
function reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

Deno.test("crc32: known vectors", () => {
  const te = new TextEncoder();
  assertEquals(crc32(new Uint8Array()), 0);
  assertEquals(crc32(te.encode("a")), 0xe8b7be43);
  assertEquals(crc32(te.encode("123456789")), 0xcbf43926);
  assertEquals(crc32(te.encode("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  assertEquals(crc32(new Uint8Array(32)), 0x190a55ad);
  assertEquals(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
});

Deno.test("crc32: equals the bitwise definition on seeded random buffers and views", () => {
  const r = new SeededRandom(2026);
  for (let n = 0; n < 300; n++) {
    const buffer = Uint8Array.from({ length: r.nextInt(3000) }, () => r.nextInt(256));
    assertEquals(crc32(buffer), reference(buffer), `length ${buffer.length}`);
    // A view into a larger buffer checksums only its own bytes, as records are read.
    const start = r.nextInt(buffer.length + 1);
    const view = buffer.subarray(start, start + r.nextInt(buffer.length - start + 1));
    assertEquals(crc32(view), reference(view.slice()));
  }
});
