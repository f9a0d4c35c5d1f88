/**
 * Arguments of a script run as a task: `--help` prints its usage and exits 0; an argument it
 * does not take prints the usage to stderr and exits 2.
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command line's help: printing is its job

/**
 * Checks a script's arguments against the flags it takes.
 *
 * @param usage The script's help text.
 * @param flags The flags it takes (all boolean).
 * @param args The arguments, `Deno.args` by default.
 * @returns The flags given.
 */
export function scriptArgs(
  usage: string,
  flags: readonly string[] = [],
  args: readonly string[] = Deno.args,
): Set<string> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage);
    Deno.exit(0);
  }
  const unknown = args.find((a) => !flags.includes(a));
  if (unknown !== undefined) {
    console.error(`Unknown argument "${unknown}"\n\n${usage}`);
    Deno.exit(2);
  }
  return new Set(args);
}
