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

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string", default: "8090" }, help: { type: "boolean", short: "h" } },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Invalid port: ${values.port}\n\n${USAGE}`);
  Deno.exit(2);
}
const server = await servePlayground({ port });
console.log(`PrkDB playground: ${server.url}`);
