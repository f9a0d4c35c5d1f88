/**
 * Shared by the simulation tests: runs seeds in batches, one Deno test per batch, so progress
 * shows and a failure names its seed and the command that replays it.
 *
 * @module
 */
import { Simulation } from "./simulation.ts";

/**
 * Registers tests that run seeds `first..first+count-1` on a cluster of `nodes`.
 *
 * @param writeCrashRate The chance that a node dies during each storage write, when the test is
 *   about that fault (the simulation's default is one write in 500).
 */
export function simulateSeeds(
  nodes: number,
  first: number,
  count: number,
  batch = 20,
  writeCrashRate?: number,
): void {
  const faults = writeCrashRate === undefined ? "" : `, ${writeCrashRate * 100}% of writes crash`;
  for (let start = first; start < first + count; start += batch) {
    const end = Math.min(start + batch, first + count) - 1;
    Deno.test(`simulation: ${nodes} nodes, seeds ${start}-${end}${faults}`, async () => {
      for (let seed = start; seed <= end; seed++) {
        await new Simulation({
          seed,
          nodes,
          ...(writeCrashRate !== undefined && { writeCrashRate }),
        }).run();
      }
    });
  }
}
