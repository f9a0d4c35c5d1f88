import { assertEquals } from "@std/assert";
import { SweptDeadlines } from "./swept_deadlines.ts";

Deno.test("SweptDeadlines: a limit fires once at the first sweep after it passes; a cleared or replaced one does not", () => {
  let now = 0;
  const deadlines = new SweptDeadlines(100, () => now, true);
  const fired: string[] = [];
  const [a, b, c] = [{}, {}, {}];
  deadlines.set(a, 300, () => fired.push("a"));
  deadlines.set(b, 300, () => fired.push("b"));
  deadlines.set(c, 300, () => fired.push("c"));
  deadlines.clear(b); // answered in time
  now = 200;
  deadlines.set(c, 300, () => fired.push("c again")); // moved on: now due at 500
  deadlines.sweep();
  assertEquals(fired, []);
  now = 300;
  deadlines.sweep();
  assertEquals(fired, ["a"]);
  deadlines.sweep();
  assertEquals(fired, ["a"], "once");
  now = 500;
  deadlines.sweep();
  assertEquals(fired, ["a", "c again"]);
  assertEquals(deadlines.size, 0);
  deadlines.close();
});

Deno.test("SweptDeadlines: the real sweep expires a limit on its own, and close forgets the rest", async () => {
  const deadlines = new SweptDeadlines(5);
  const fired = Promise.withResolvers<void>();
  deadlines.set({}, 20, () => fired.resolve());
  deadlines.set({}, 60_000, () => {
    throw new Error("never");
  });
  // The sweep's timer never keeps a process alive; this one does, and bounds the wait.
  const guard = setTimeout(() => fired.reject(new Error("no sweep within 5 s")), 5000);
  await fired.promise.finally(() => clearTimeout(guard));
  assertEquals(deadlines.size, 1);
  deadlines.close();
  assertEquals(deadlines.size, 0);
  // A closed server's last answers may still finish: their limits start nothing.
  deadlines.set({}, 10, () => {});
  assertEquals(deadlines.size, 0);
});
