// Clients that write through one application node moving around the cluster, so leader balancing
// hands the partition to it again and again, through crashes, partitions, pauses and membership
// changes: every safety property and every history still holds, and the transfers happened.
// Replay one: deno task sim --seed N --nodes 3 --follow-writes
import { assert } from "@std/assert";
import { Simulation } from "./simulation.ts";

for (const nodes of [3, 5]) {
  Deno.test(`simulation: ${nodes} nodes, seeds 1-20, leadership following the writes`, async () => {
    let forWrites = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const report = await new Simulation({ seed, nodes, followWrites: true }).run();
      forWrites += report.handOffs.writes;
    }
    // Seeds in which leadership never moved to the writers would test none of it.
    assert(forWrites >= 5, `only ${forWrites} transfers followed the writes in 20 seeds`);
  });
}
