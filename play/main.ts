/**
 * `deno task play`: serves the playground, the real Raft core of PrkDB running in the browser
 * over a deterministic in-memory network, on 127.0.0.1.
 *
 * ```sh
 * deno task play              # http://127.0.0.1:8090/
 * deno task play --port 0     # any free port; the URL is printed
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command-line program: printing is its job
import { parseArgs } from "node:util";
import { servePlayground } from "./server.ts";

const USAGE = `Usage: deno task play [--port N]

Serves the PrkDB playground on 127.0.0.1 and prints its URL.

  --port N   the port to listen on (default 8090; 0 picks a free one)`;

/** Prints what is wrong and the usage, then exits 2. */
function refuse(problem: string): never {
  console.error(`${problem}\n\n${USAGE}`);
  Deno.exit(2);
}

let values: { port: string; help?: boolean };
try {
  values = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8090" }, help: { type: "boolean", short: "h" } },
  }).values;
} catch (error) {
  refuse((error as Error).message);
}
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const port = Number(values.port);
if (!/^\d+$/.test(values.port) || port > 65535) {
  refuse(`--port must be 0 to 65535, got "${values.port}"`);
}
const server = await servePlayground({ port });
console.log(`PrkDB playground: ${server.url}`);
