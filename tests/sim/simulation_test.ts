import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Simulation, SimulationFailure, type SimulationOptions } from "./simulation.ts";

/** Runs seeds until one fails; returns the failure (or undefined if none did). */
function firstFailure(
  options: Omit<SimulationOptions, "seed">,
  seeds: number,
): SimulationFailure | undefined {
  for (let seed = 1; seed <= seeds; seed++) {
    try {
      new Simulation({ ...options, seed }).run();
    } catch (error) {
      if (error instanceof SimulationFailure) return error;
      throw error;
    }
  }
  return undefined;
}

Deno.test("simulation: the same seed replays the same run", () => {
  const a = new Simulation({ seed: 7, nodes: 3 }).run();
  const b = new Simulation({ seed: 7, nodes: 3 }).run();
  assertEquals(a, b);
  assert(a.operations.ok > 50, `only ${a.operations.ok} writes were acknowledged`);
  assert(a.operations.reads > 50, `only ${a.operations.reads} reads completed`);
  assert(a.crashes + a.partitions + a.pauses > 5, "the run injected almost no faults");
});

Deno.test("simulation: catches a runtime that serves reads before applying the read index", () => {
  const failure = firstFailure({ nodes: 5, bugs: { readBeforeApply: true } }, 60);
  assert(failure, "60 seeds with stale reads all passed: the linearizability check is blind");
  assertStringIncludes(failure.message, "not linearizable");
  assertStringIncludes(failure.message, "Replay: deno task sim --seed");
});

Deno.test("simulation: catches a runtime that acknowledges before it persists", () => {
  const failure = firstFailure({ nodes: 3, bugs: { ackBeforeFsync: true } }, 20);
  assert(failure, "20 seeds that lose acknowledged writes all passed");
  assertStringIncludes(failure.message, "Replay: deno task sim --seed");
});
