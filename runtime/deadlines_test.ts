import { assertEquals } from "@std/assert";
import { ManualClock } from "./clock.ts";
import { Deadlines } from "./deadlines.ts";

Deno.test("a deadline expires when its time is up, not before", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const expired: string[] = [];
  deadlines.add(100, () => expired.push("a"));
  clock.advance(99);
  assertEquals(expired, []);
  clock.advance(1);
  assertEquals(expired, ["a"]);
  assertEquals(deadlines.waiting, 0);
  assertEquals(clock.pending, 0);
});

Deno.test("a settled request never expires, and nothing stays armed once all settled", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const expired: number[] = [];
  const settle = Array.from({ length: 5 }, (_, i) => deadlines.add(100, () => expired.push(i)));
  settle[0]();
  settle[0](); // twice is harmless
  settle[3]();
  assertEquals(deadlines.waiting, 3);
  clock.advance(100);
  assertEquals(expired, [1, 2, 4]);
  for (const s of settle) s(); // late settles of expired requests change nothing
  assertEquals(deadlines.waiting, 0);

  deadlines.add(50, () => expired.push(9))();
  assertEquals(clock.pending, 0);
});

Deno.test("many waiting requests share one timer", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  let expired = 0;
  const settles: (() => void)[] = [];
  for (let i = 0; i < 1000; i++) {
    settles.push(deadlines.add(5000, () => expired++));
    clock.advance(1);
    assertEquals(clock.pending, 1);
    // Most requests settle quickly; every tenth one is left to expire.
    if (i % 10 !== 0) settles[i]();
  }
  clock.advance(5000);
  assertEquals(expired, 100);
  assertEquals(clock.pending, 0);
});

Deno.test("deadlines expire in time order, whatever order they were added in", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const expired: string[] = [];
  deadlines.add(300, () => expired.push("long"));
  deadlines.add(100, () => expired.push("short"));
  deadlines.add(200, () => expired.push("middle"));
  clock.advance(150);
  assertEquals(expired, ["short"]);
  clock.advance(100);
  assertEquals(expired, ["short", "middle"]);
  clock.advance(100);
  assertEquals(expired, ["short", "middle", "long"]);
});

Deno.test("an expiring request may add and settle others", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const expired: string[] = [];
  let settleB = () => {};
  deadlines.add(10, () => {
    expired.push("a");
    settleB();
    deadlines.add(10, () => expired.push("c"));
  });
  settleB = deadlines.add(10, () => expired.push("b"));
  clock.advance(10);
  assertEquals(expired, ["a"]);
  assertEquals(deadlines.waiting, 1);
  clock.advance(10);
  assertEquals(expired, ["a", "c"]);
  assertEquals(clock.pending, 0);
});
