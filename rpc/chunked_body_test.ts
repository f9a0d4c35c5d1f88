import { assertEquals, assertThrows } from "@std/assert";
import { ChunkedBody, ChunkedBodyError } from "./chunked_body.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** Feeds `bytes` in pieces cut at `cuts`, returning the body read and the bytes left after it. */
function read(bytes: Uint8Array, cuts: number[]): { body: string; rest: string; done: boolean } {
  const decoder = new ChunkedBody();
  let body = "";
  let rest = "";
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const piece = bytes.subarray(from, to);
    from = to;
    if (decoder.done) {
      rest += new TextDecoder().decode(piece);
      continue;
    }
    const used = decoder.push(piece, (data) => body += new TextDecoder().decode(data));
    rest += new TextDecoder().decode(piece.subarray(used));
  }
  return { body, rest, done: decoder.done };
}

Deno.test("ChunkedBody: a body reads the same however the network cuts it, and ends where it ends", () => {
  const wire = text(
    "5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-t: 1\r\n\r\nPOST /next",
  );
  const whole = "hello" + "abcdefghijklmnopqrstuvwxyz";
  assertEquals(read(wire, []), { body: whole, rest: "POST /next", done: true });
  for (let a = 1; a < wire.length; a++) {
    assertEquals(read(wire, [a]), { body: whole, rest: "POST /next", done: true }, `cut at ${a}`);
    for (let b = a + 1; b < wire.length; b += 7) {
      assertEquals(read(wire, [a, b]), { body: whole, rest: "POST /next", done: true });
    }
  }
});

Deno.test("ChunkedBody: it is not done before the empty line that follows the last chunk", () => {
  const wire = text("2\r\nab\r\n0\r\n\r\n");
  for (let end = 0; end < wire.length; end++) {
    assertEquals(read(wire.subarray(0, end), []).done, false, `after ${end} bytes`);
  }
  assertEquals(read(wire, []).done, true);
});

Deno.test("ChunkedBody: bytes that break the coding are refused, whatever the size claims", () => {
  for (
    const bad of [
      "3;name=v\r\nabc\r\n", // a chunk extension
      " 3\r\nabc\r\n", // a leading space
      "3 \r\nabc\r\n", // a trailing space
      "x\r\n", // not hex
      "\r\n", // no size at all
      "123456789\r\n", // more than 8 hex digits
      "3\nabc\r\n", // a bare line feed
      "3\r\nabcX\r\n", // data longer than its size
      "3\r\nabc\rX", // a chunk ended by CR and something else
      "0\r\nnot a header\r\n", // a trailer that is no header
      "0\r\n" + "x: " + "y".repeat(9000) + "\r\n", // trailers too long
      "0".repeat(11), // a size line too long, before its end arrives
    ]
  ) {
    assertThrows(() => read(text(bad), []), ChunkedBodyError, "malformed chunked body");
  }
});

Deno.test("ChunkedBody: many trailer lines are bounded together, not line by line", () => {
  const trailers = "x-a: 1\r\n".repeat(2000);
  assertThrows(() => read(text("0\r\n" + trailers), []), ChunkedBodyError, "trailers too long");
});

Deno.test("ChunkedBody: a large chunk is handed over as it arrives, without waiting for its end", () => {
  const decoder = new ChunkedBody();
  const seen: number[] = [];
  decoder.push(text("10000\r\n"), (d) => seen.push(d.length));
  decoder.push(new Uint8Array(1000), (d) => seen.push(d.length));
  decoder.push(new Uint8Array(64536), (d) => seen.push(d.length));
  assertEquals(seen, [1000, 64536]);
  assertEquals(decoder.done, false);
  decoder.push(text("\r\n0\r\n\r\n"), () => seen.push(-1));
  assertEquals(decoder.done, true);
  assertEquals(seen, [1000, 64536]);
});
