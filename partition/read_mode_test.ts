import { assertEquals, assertThrows } from "@std/assert";
import { parseReadMode, READ_MODES } from "./read_mode.ts";

Deno.test("parseReadMode: accepts every read mode", () => {
  assertEquals(READ_MODES, ["linearizable", "follower", "stale"]);
  for (const mode of READ_MODES) assertEquals(parseReadMode(mode), mode);
});

Deno.test("parseReadMode: refuses anything else, naming the modes that exist", () => {
  for (const value of ["", "Stale", "strong", " follower"]) {
    assertThrows(
      () => parseReadMode(value),
      RangeError,
      `Unknown read mode "${value}": use "linearizable", "follower", "stale"`,
    );
  }
});
