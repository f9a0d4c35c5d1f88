/**
 * The play server: on 127.0.0.1 it serves the page, its bundled script, and the golden scripts
 * from `tests/golden/` for the page to replay.
 *
 * | Path                   | Content                                   |
 * | ---------------------- | ----------------------------------------- |
 * | `/`                    | the page (`page.ts`)                      |
 * | `/app.js`              | `play_web/app.ts` and the Raft core, bundled   |
 * | `/golden/`             | the golden scripts' names, as JSON        |
 * | `/golden/<name>.txt`   | one golden script                         |
 *
 * @example Serve on a free port, then stop
 * ```ts ignore
 * import { servePlayground } from "./server.ts";
 * const server = await servePlayground({ port: 0 });
 * console.log(server.url); // http://127.0.0.1:PORT/
 * await server.shutdown();
 * ```
 *
 * @module
 */
import { bundleApp } from "./bundle.ts";
import { PAGE } from "./page.ts";

const GOLDEN = new URL("../tests/golden/", import.meta.url);
const SCRIPT_NAME = /^[a-z0-9_]+\.txt$/;

/** A running play server. */
export interface PlayServer {
  /** The page's address, like `http://127.0.0.1:8090/`. */
  readonly url: string;
  /** Stops serving. */
  shutdown(): Promise<void>;
}

/**
 * Bundles the page's script, then serves the playground.
 *
 * @param options The port (0 picks a free one).
 * @returns The running server.
 */
export async function servePlayground(options: { port: number }): Promise<PlayServer> {
  const app = await bundleApp();
  const handler = (request: Request): Response | Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (request.method !== "GET") return new Response("Method not allowed", { status: 405 });
    if (path === "/") return text(PAGE, "text/html");
    if (path === "/app.js") return text(app, "text/javascript");
    if (path === "/golden/") return goldenNames();
    const name = path.startsWith("/golden/") ? path.slice("/golden/".length) : "";
    if (SCRIPT_NAME.test(name)) return goldenScript(name);
    return new Response("Not found", { status: 404 });
  };
  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port, onListen: resolve },
    handler,
  );
  const { port } = await promise;
  return { url: `http://127.0.0.1:${port}/`, shutdown: () => server.shutdown() };
}

function text(body: string, type: string): Response {
  return new Response(body, { headers: { "content-type": `${type}; charset=utf-8` } });
}

async function goldenNames(): Promise<Response> {
  const names: string[] = [];
  for await (const e of Deno.readDir(GOLDEN)) if (SCRIPT_NAME.test(e.name)) names.push(e.name);
  return Response.json(names.sort());
}

async function goldenScript(name: string): Promise<Response> {
  try {
    return text(await Deno.readTextFile(new URL(name, GOLDEN)), "text/plain");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Response("Not found", { status: 404 });
    throw error;
  }
}
