/**
 * `deno bench storage/crc32_bench.ts`: the platform's CRC-32 against the table-driven loop
 * this module used before, on a 200-byte record and on 1 MiB.
 */
import { crc32 } from "./crc32.ts";

const TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function tableCrc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const big = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
const record = big.subarray(0, 200);
for (const [name, bytes] of [["200 B", record], ["1 MiB", big]] as const) {
  Deno.bench(`table loop, ${name}`, { group: name, baseline: true }, () => void tableCrc32(bytes));
  Deno.bench(`node:zlib crc32, ${name}`, { group: name }, () => void crc32(bytes));
}
