/**
 * A small HTTP server for one replica's `/metrics` and `/health`: a leader-follower follower has
 * no service port of its own, so this is how Prometheus scrapes it.
 *
 * @module
 */

/**
 * What a {@linkcode MetricsServer} serves: a {@linkcode ReplicationManager} fits.
 *
 * @example Usage
 * ```ts
 * import type { MetricsSourceOfReplica } from "@prkdb/prkdb/async-replicas";
 * const source: MetricsSourceOfReplica = { metrics: () => Promise.resolve("") };
 * ```
 */
export interface MetricsSourceOfReplica {
  /** The Prometheus text. */
  metrics(): Promise<string>;
  /** Health, for `/health` (200 when healthy, else 503). */
  getHealth?(): { readonly healthy: boolean };
  /** State, added to `/health`. */
  getState?(): unknown;
}

/**
 * Serves a replica's `/metrics` (Prometheus text) and `/health` (JSON) on its own port.
 *
 * @example A follower's metrics on a port the OS picks
 * ```ts
 * import { MetricsServer } from "@prkdb/prkdb/async-replicas";
 * const server = MetricsServer.start({ metrics: () => Promise.resolve("# nothing yet\n") }, { port: 0 });
 * const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
 * console.log(text); // # nothing yet
 * await server.close();
 * ```
 */
export class MetricsServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>) {
    this.#server = server;
  }

  /**
   * Starts serving.
   *
   * @param source The replica.
   * @param options Where to listen: `port` 0 lets the OS pick; `hostname` defaults to 127.0.0.1.
   * @returns The running server.
   */
  static start(
    source: MetricsSourceOfReplica,
    options: { port: number; hostname?: string },
  ): MetricsServer {
    const server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      onListen() {},
    }, async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/metrics") {
        return new Response(await source.metrics(), {
          headers: { "content-type": "text/plain; version=0.0.4" },
        });
      }
      if (path === "/health" && source.getHealth) {
        const health = source.getHealth();
        return Response.json({ ...health, state: source.getState?.() }, {
          status: health.healthy ? 200 : 503,
        });
      }
      return new Response("Not found\n", { status: 404 });
    });
    return new MetricsServer(server);
  }

  /** The port it listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Stops serving. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
