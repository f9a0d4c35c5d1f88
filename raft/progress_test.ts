import { assertEquals } from "@std/assert";
import { Inflights } from "./inflights.ts";
import { Progress } from "./progress.ts";

Deno.test("Inflights: a bounded FIFO freed by acknowledged index", () => {
  const w = new Inflights(3);
  w.add(5);
  w.add(9);
  w.add(12);
  assertEquals([w.full, w.count], [true, 3]);
  w.freeTo(9);
  assertEquals(w.count, 1);
  w.add(20);
  w.add(25);
  w.freeFirst();
  assertEquals(w.count, 2);
  w.freeTo(100);
  assertEquals(w.count, 0);
});

Deno.test("Progress: probe sends one message at a time", () => {
  const pr = new Progress(11, 4);
  pr.sent(10, 0);
  assertEquals(pr.paused, true);
  pr.probeSent = false; // a heartbeat answer arrives
  assertEquals(pr.paused, false);
});

Deno.test("Progress: replicate streams until the window is full", () => {
  const pr = new Progress(1, 2);
  pr.update(0);
  pr.becomeReplicate();
  pr.sent(5, 5);
  pr.sent(8, 3);
  assertEquals([pr.nextIndex, pr.paused], [9, true]);
  assertEquals(pr.update(5), true);
  assertEquals([pr.matchIndex, pr.paused], [5, false]);
  assertEquals(pr.update(3), false, "a stale acknowledgement does not move matchIndex back");
});

Deno.test("Progress: a rejection in replicate state falls back to probing from matchIndex", () => {
  const pr = new Progress(1, 8);
  pr.update(4);
  pr.becomeReplicate();
  pr.sent(10, 6);
  assertEquals(pr.decreaseTo(3, 3), false, "rejecting an index at or below matchIndex is stale");
  assertEquals(pr.decreaseTo(7, 6), true);
  assertEquals([pr.state, pr.nextIndex], ["probe", 5]);
});

Deno.test("Progress: a rejection in probe state uses the hint, never below matchIndex", () => {
  const pr = new Progress(20, 8);
  pr.matchIndex = 3;
  assertEquals(pr.decreaseTo(15, 9), false, "only the probe just sent (nextIndex - 1) counts");
  assertEquals(pr.decreaseTo(19, 9), true);
  assertEquals(pr.nextIndex, 10);
  pr.nextIndex = 8;
  assertEquals(pr.decreaseTo(7, 0), true);
  assertEquals(pr.nextIndex, 4, "clamped to matchIndex + 1");
});
