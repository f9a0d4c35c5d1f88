// Nodes that die in one storage write in twenty, after their round may already have sent what
// depends on it: no acknowledged write is lost, and nothing is acknowledged before it is durable.
// At the default rate (one write in 500) a round that acknowledges before its write is durable
// fails about one seed in fifty; here a few seeds in twenty.
// Replay one: deno task sim --seed N --nodes 3 --write-crash-rate 0.05
import { simulateSeeds } from "./seeds.ts";

simulateSeeds(3, 1, 40, 20, 0.05);
simulateSeeds(5, 1, 20, 20, 0.05);
