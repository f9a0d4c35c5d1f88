import { assertEquals, assertThrows } from "@std/assert";
import { ConfigError } from "./errors.ts";
import { resolveConfig } from "./config.ts";
import { SeededRandom } from "./rng.ts";

const random = new SeededRandom(1);

Deno.test("resolveConfig: fills defaults and sorts voters", () => {
  const c = resolveConfig({ id: 2, voters: [3, 1, 2, 2], random });
  assertEquals(c.voters, [1, 2, 3]);
  assertEquals([c.electionTick, c.heartbeatTick, c.preVote, c.checkQuorum], [10, 1, true, true]);
});

Deno.test("resolveConfig: rejects nonsense with a clear message", () => {
  assertThrows(
    () => resolveConfig({ id: 4, voters: [1, 2, 3], random }),
    ConfigError,
    "must include this node (4)",
  );
  assertThrows(
    () => resolveConfig({ id: 1, voters: [1, 2], learners: [2], random }),
    ConfigError,
    "both voters and learners",
  );
  assertThrows(
    () => resolveConfig({ id: 1, voters: [1], random, electionTick: 1 }),
    ConfigError,
    "greater than heartbeatTick",
  );
  assertThrows(
    () => resolveConfig({ id: 0, voters: [0], random }),
    ConfigError,
    "id must be a positive integer",
  );
  assertThrows(() => resolveConfig({ id: 1, voters: [1, -2], random }), ConfigError, "member ids");
  assertThrows(
    () => resolveConfig({ id: 1, voters: [1], random, maxInflightMessages: 0.5 }),
    ConfigError,
    "maxInflightMessages",
  );
});

Deno.test("SeededRandom: same seed, same sequence; bounded", () => {
  const a = new SeededRandom(99), b = new SeededRandom(99), c = new SeededRandom(100);
  const xs = Array.from({ length: 50 }, () => a.nextInt(10));
  assertEquals(xs, Array.from({ length: 50 }, () => b.nextInt(10)));
  assertEquals(xs.every((x) => x >= 0 && x < 10), true);
  assertEquals(new Set(xs).size > 5, true, "the values should spread");
  assertEquals(xs.join() === Array.from({ length: 50 }, () => c.nextInt(10)).join(), false);
});
