/**
 * A Connect router served the official way (its own fetch handlers) on a free loopback port:
 * the stand-in for a peer or a leader in tests of code that talks Connect to other nodes.
 *
 * @module
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { type HttpServer, startHttpServer } from "../../server/http_server.ts";

/**
 * Serves `router`'s routes; any other path answers 404, as a server without the method does.
 *
 * @param router The routes.
 * @param options `without` drops routes (a server of an earlier version, without those
 *   methods); `onNotFound` sees each request for a path not served.
 * @returns The server and its base URL.
 */
export async function serveRouter(
  router: ConnectRouter,
  options: { without?: readonly string[]; onNotFound?: () => void } = {},
): Promise<{ server: HttpServer; url: string }> {
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  for (const path of options.without ?? []) handlers.delete(path);
  const server = await startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    handler: (request) => {
      const handler = handlers.get(new URL(request.url).pathname);
      if (handler) return handler(request);
      options.onNotFound?.();
      return new Response("No route", { status: 404 });
    },
  });
  return { server, url: `http://127.0.0.1:${server.port}` };
}
