// 250 seeded runs of a 3-node cluster. Replay one: deno task sim --seed N --nodes 3
import { simulateSeeds } from "./seeds.ts";

simulateSeeds(3, 1, 250);
