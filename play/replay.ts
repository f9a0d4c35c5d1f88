/**
 * The playground's script mode: a golden script (`tests/golden/*.txt`) replayed block by block
 * on a fresh {@linkcode InteractionEnv}, exactly as the golden test runs it. Each block's output
 * is what the golden file says under its `----` when the core behaves as recorded.
 *
 * @example Replay a two-block script
 * ```ts
 * import { ScriptReplay } from "./replay.ts";
 * import { assert } from "@std/assert";
 *
 * const replay = new ScriptReplay("add-nodes 3\n----\n3 nodes: [1, 2, 3]\n\ncampaign 1\n----\nok\n");
 * assert(replay.next()!.matches);
 * assert(replay.next()!.output[0] === "> 1 handling Ready");
 * assert(replay.done);
 * ```
 *
 * @module
 */
import { type Block, InteractionEnv, parseCommand, parseScript } from "../interaction/mod.ts";

/** One block, run. */
export interface BlockResult {
  /** The block's position in the script, from 0. */
  readonly index: number;
  /** The block: comments, command and expected output. */
  readonly block: Block;
  /** What the command printed (`ok` when nothing), as the golden test compares it. */
  readonly output: readonly string[];
  /** Whether the output is the expected one. */
  readonly matches: boolean;
}

/** A golden script and a cluster running it one block at a time. */
export class ScriptReplay {
  /** The script's blocks. */
  readonly blocks: readonly Block[];
  /** The cluster the blocks run on. */
  readonly env: InteractionEnv = new InteractionEnv();
  /** The blocks run so far. */
  readonly results: BlockResult[] = [];

  /**
   * Parses a script; no block runs yet.
   *
   * @param text The script's text.
   */
  constructor(text: string) {
    this.blocks = parseScript(text);
  }

  /** Whether every block has run. */
  get done(): boolean {
    return this.results.length === this.blocks.length;
  }

  /**
   * Runs the next block.
   *
   * @returns Its result, or `undefined` when the script is over.
   */
  next(): BlockResult | undefined {
    const index = this.results.length;
    const block = this.blocks[index];
    if (!block) return undefined;
    const out = this.env.run(parseCommand(block.line));
    const output = out.length > 0 ? out : ["ok"];
    const matches = output.join("\n") === block.expected.join("\n");
    const result = { index, block, output, matches };
    this.results.push(result);
    return result;
  }
}
