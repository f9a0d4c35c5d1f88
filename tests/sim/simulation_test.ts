import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Simulation, SimulationFailure, type SimulationOptions } from "./simulation.ts";

/** Runs seeds until one fails; returns the failure (or undefined if none did). */
async function firstFailure(
  options: Omit<SimulationOptions, "seed">,
  seeds: number,
): Promise<SimulationFailure | undefined> {
  for (let seed = 1; seed <= seeds; seed++) {
    try {
      await new Simulation({ ...options, seed }).run();
    } catch (error) {
      if (error instanceof SimulationFailure) return error;
      throw error;
    }
  }
  return undefined;
}

Deno.test("simulation: the same seed replays the same run", async () => {
  const a = await new Simulation({ seed: 7, nodes: 3 }).run();
  const b = await new Simulation({ seed: 7, nodes: 3 }).run();
  assertEquals(a, b);
  assert(a.operations.ok > 50, `only ${a.operations.ok} writes were acknowledged`);
  assert(a.operations.reads > 50, `only ${a.operations.reads} reads completed`);
  assert(a.crashes + a.partitions + a.pauses > 5, "the run injected almost no faults");
  assert(a.snapshots.taken > 3, `only ${a.snapshots.taken} snapshots were taken`);
});

Deno.test("simulation: catches a runtime that serves reads before applying the read index", async () => {
  const failure = await firstFailure({ nodes: 5, bugs: { readBeforeApply: true } }, 60);
  assert(failure, "60 seeds with stale reads all passed: the linearizability check is blind");
  assertStringIncludes(failure.message, "not linearizable");
  assertStringIncludes(failure.message, "Replay: deno task sim --seed");
});

Deno.test("simulation: catches a runtime that acknowledges before it persists", async () => {
  const failure = await firstFailure({ nodes: 3, bugs: { ackBeforeFsync: true } }, 20);
  assert(failure, "20 seeds that lose acknowledged writes all passed");
  assertStringIncludes(failure.message, "Replay: deno task sim --seed");
});

for (const storage of ["file", "kv"] as const) {
  Deno.test(`simulation: compaction, snapshot transfer and restarts on the ${storage} backend`, async () => {
    let installed = 0, restarts = 0;
    for (const seed of [1, 2, 3]) {
      const report = await new Simulation({
        seed,
        nodes: seed === 2 ? 5 : 3,
        storage,
        units: 2500,
        compactEvery: 10,
      }).run();
      installed += report.snapshots.installed;
      restarts += report.crashes;
      assert(
        report.operations.ok > 10,
        `seed ${seed}: only ${report.operations.ok} writes acknowledged`,
      );
    }
    assert(
      installed > 0,
      "no follower ever needed a snapshot: the scenario does not exercise InstallSnapshot",
    );
    assert(restarts > 0, "no node was restarted from its storage");
  });
}
