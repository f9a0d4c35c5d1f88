import { assert, assertEquals } from "@std/assert";
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

Deno.test("Deadlines.signal: aborts with a TimeoutError when its time is up, on the one timer", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const parent = new AbortController();
  const { signal } = deadlines.signal(parent.signal, 100);
  clock.advance(99);
  assertEquals(signal.aborted, false);
  clock.advance(1);
  assertEquals(signal.aborted, true);
  assertEquals((signal.reason as DOMException).name, "TimeoutError");
  assertEquals(deadlines.waiting, 0);
  // The parent aborting later changes nothing.
  parent.abort(new Error("late"));
  assertEquals((signal.reason as DOMException).name, "TimeoutError");
  // With no parent, only the time limit aborts it.
  const alone = deadlines.signal(undefined, 50);
  clock.advance(49);
  assertEquals(alone.signal.aborted, false);
  clock.advance(1);
  assertEquals((alone.signal.reason as DOMException).name, "TimeoutError");
  assertEquals(deadlines.waiting, 0);
});

Deno.test("Deadlines.signal: follows its parent's abort, with its reason, and forgets its deadline once released", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const parent = new AbortController();
  const first = deadlines.signal(parent.signal, 100);
  const second = deadlines.signal(parent.signal, 100);
  second.release();
  assertEquals(deadlines.waiting, 1);
  const reason = new Error("client went away");
  parent.abort(reason);
  assertEquals(first.signal.reason, reason);
  assertEquals(second.signal.aborted, false, "released: no longer follows its parent");
  first.release();
  assertEquals(deadlines.waiting, 0);
  clock.advance(1000);
  assertEquals(second.signal.aborted, false, "released: no deadline either");
  // A parent aborted already: aborted at once, with nothing to wait for.
  const late = deadlines.signal(parent.signal, 100);
  assertEquals(late.signal.reason, reason);
  assertEquals(deadlines.waiting, 0);
  late.release();
});

Deno.test("Deadlines: limits in any order expire in time order; one beyond a timer's longest delay neither fires early nor spins", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const expired: number[] = [];
  let seed = 7;
  const limits = Array.from({ length: 500 }, () => (seed = (seed * 48271) % 2147483647) % 10_000);
  const settles = limits.map((ms, i) => deadlines.add(ms, () => expired.push(i)));
  for (let i = 0; i < settles.length; i += 3) settles[i]();
  clock.advance(10_000);
  const due = limits.map((ms, i) => [ms, i]).filter(([, i]) => i % 3 !== 0);
  assertEquals(expired.map((i) => limits[i]), due.map(([ms]) => ms).sort((a, b) => a - b));
});

Deno.test("Deadlines: a limit beyond a timer's longest delay arms the timer at that delay, neither firing early nor spinning", () => {
  const clock = new ManualClock();
  const delays: number[] = [];
  const deadlines = new Deadlines({
    now: () => clock.now(),
    setTimeout: (fn, ms) => (delays.push(ms), clock.setTimeout(fn, ms)),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  });
  let late = 0;
  deadlines.add(1e12, () => late++);
  // A real timer given more than 2^31 - 1 ms fires after 1 ms instead.
  assertEquals(delays, [2 ** 31 - 1]);
  clock.advance(2 ** 31 - 1);
  assertEquals([late, delays.length], [0, 2]);
  clock.advance(1e12);
  assertEquals(late, 1);
  assertEquals(delays.length < 500, true, `${delays.length} timers armed`);
});

Deno.test("settled entries are dropped long before their deadline, and the waiting ones still expire on time", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  const expired: number[] = [];
  let most = 0;
  // A busy host: 10,000 requests, each settling soon after it started, and every 1,000th one
  // never settling. Time moves 1 ms per request; the limit is 60 s.
  for (let i = 0; i < 10_000; i++) {
    const settle = deadlines.add(60_000, () => expired.push(i));
    if (i % 1000 !== 999) settle();
    most = Math.max(most, deadlines.held);
    clock.advance(1);
  }
  assertEquals(deadlines.waiting, 10);
  // Without dropping, the queue would hold all 10,000 until their time passed.
  assert(most <= 2 * 10 + 256 + 1, `the queue held up to ${most} entries`);
  clock.advance(60_000 - 10_000 + 999 - 1);
  assertEquals(expired, []);
  clock.advance(1);
  assertEquals(expired, [999]);
  clock.advance(9_000);
  assertEquals(expired, [999, 1999, 2999, 3999, 4999, 5999, 6999, 7999, 8999, 9999]);
  assertEquals(clock.pending, 0);
});

Deno.test("expired entries are dropped too, while requests keep arriving and none settles", () => {
  const clock = new ManualClock();
  const deadlines = new Deadlines(clock);
  let expired = 0;
  let most = 0;
  // A request every millisecond, each with a 100 ms limit, none answered: about 100 wait at a time.
  for (let i = 0; i < 5_000; i++) {
    deadlines.add(100, () => expired++);
    clock.advance(1);
    most = Math.max(most, deadlines.held);
  }
  // Added at 0..4999, each due 100 ms later: those due by 5,000 expired.
  assertEquals(expired, 4_901);
  assertEquals(deadlines.waiting, 99);
  assert(most <= 2 * 101 + 256 + 1, `the queue held up to ${most} entries`);
});
