import { assertEquals } from "@std/assert";
import { shouldCompact } from "./compaction.ts";

const status = (lastApplied: number, firstIndex: number, logBytes: number) => ({
  lastApplied,
  firstIndex,
  logBytes,
});

Deno.test("shouldCompact: by entries applied past the snapshot, or by log bytes", () => {
  assertEquals(shouldCompact(status(99, 1, 0), { entries: 100 }), false);
  assertEquals(shouldCompact(status(100, 1, 0), { entries: 100 }), true);
  assertEquals(
    shouldCompact(status(150, 101, 0), { entries: 100 }),
    false,
    "counted from the snapshot",
  );
  assertEquals(shouldCompact(status(10, 1, 5000), { entries: 100, bytes: 4096 }), true);
  assertEquals(
    shouldCompact(status(100, 101, 1 << 30), { bytes: 1 }),
    false,
    "nothing applied to compact",
  );
});

Deno.test("shouldCompact: defaults to 10,000 entries or 64 MiB", () => {
  assertEquals(shouldCompact(status(9_999, 1, 0)), false);
  assertEquals(shouldCompact(status(10_000, 1, 0)), true);
  assertEquals(shouldCompact(status(1, 1, (64 << 20) - 1)), false);
  assertEquals(shouldCompact(status(1, 1, 64 << 20)), true);
});
