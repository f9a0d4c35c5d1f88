/**
 * Shared by the simulation tests: runs seeds in batches, one Deno test per batch, so progress
 * shows and a failure names its seed and the command that replays it.
 *
 * @module
 */
import { Simulation } from "./simulation.ts";

/** Registers tests that run seeds `first..first+count-1` on a cluster of `nodes`. */
export function simulateSeeds(nodes: number, first: number, count: number, batch = 20): void {
  for (let start = first; start < first + count; start += batch) {
    const end = Math.min(start + batch, first + count) - 1;
    Deno.test(`simulation: ${nodes} nodes, seeds ${start}-${end}`, async () => {
      for (let seed = start; seed <= end; seed++) await new Simulation({ seed, nodes }).run();
    });
  }
}
