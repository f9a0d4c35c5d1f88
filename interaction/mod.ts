/**
 * The interaction environment: real Raft nodes over a deterministic in-memory network, driven
 * one step at a time by golden scripts (`tests/golden/*.txt`) or by the playground (`play/`).
 *
 * @example Replay a script
 * ```ts
 * import { InteractionEnv, parseCommand, parseScript } from "./mod.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const env = new InteractionEnv();
 * const [block] = parseScript("add-nodes 3\n----\n3 nodes: [1, 2, 3]\n");
 * assertEquals(env.run(parseCommand(block.line)), block.expected);
 * ```
 *
 * @module
 */
export * from "./env.ts";
export * from "./commands.ts";
export * from "./format.ts";
export * from "./script.ts";
