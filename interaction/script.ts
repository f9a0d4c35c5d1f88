/**
 * Parser and printer of golden interaction scripts:
 *
 * ```text
 * # A comment about the next command.
 * campaign 1
 * ----
 * > 1 handling Ready
 *   event: Follower -> PreCandidate at term 0
 * ```
 *
 * Blocks are separated by blank lines; output never contains a blank line.
 *
 * @module
 */

/** A parsed command: name, positional arguments and key=value options. */
export interface Command {
  /** The command's name, like `campaign`. */
  readonly name: string;
  /** Positional arguments, like node ids. */
  readonly args: readonly string[];
  /** `key=value` options. */
  readonly options: ReadonlyMap<string, string>;
}

/** One block of a script. */
export interface Block {
  /** Comment lines before the command, verbatim. */
  readonly comments: string[];
  /** The command line. */
  readonly line: string;
  /** 1-based line number of the command. */
  readonly lineNumber: number;
  /** The expected output lines. */
  readonly expected: string[];
}

/** Splits a script into blocks. */
export function parseScript(text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const comments: string[] = [];
    while (i < lines.length && (lines[i].startsWith("#") || lines[i].trim() === "")) {
      if (lines[i].startsWith("#")) comments.push(lines[i]);
      i++;
    }
    if (i >= lines.length) break;
    const line = lines[i];
    const lineNumber = i + 1;
    i++;
    if (lines[i] !== "----") throw new Error(`Line ${i + 1}: expected "----" after "${line}"`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i] !== "") expected.push(lines[i++]);
    blocks.push({ comments, line, lineNumber, expected });
  }
  return blocks;
}

/** Parses `name arg arg key=value`. */
export function parseCommand(line: string): Command {
  const [name, ...words] = line.trim().split(/\s+/);
  const args: string[] = [];
  const options = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq > 0) options.set(w.slice(0, eq), w.slice(eq + 1));
    else args.push(w);
  }
  return { name, args, options };
}

/** Renders blocks with the given outputs back into script text. */
export function printScript(blocks: readonly Block[], outputs: readonly string[][]): string {
  return blocks.map((b, i) =>
    [...b.comments, b.line, "----", ...(outputs[i].length > 0 ? outputs[i] : ["ok"])].join("\n")
  ).join("\n\n") + "\n";
}
