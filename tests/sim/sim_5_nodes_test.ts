// 250 seeded runs of a 5-node cluster. Replay one: deno task sim --seed N --nodes 5
import { simulateSeeds } from "./seeds.ts";

simulateSeeds(5, 1, 250);
