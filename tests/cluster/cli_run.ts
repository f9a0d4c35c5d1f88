/**
 * Runs `cli.ts` as its own process, for end-to-end tests of the command line.
 *
 * @module
 */
const cli = new URL("../../cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Runs `cli.ts` with `args`; returns its exit code and output. */
export async function runCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}
