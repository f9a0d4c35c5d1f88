/**
 * What TLS costs per request: small POSTs through Deno's own server (plain HTTP), through the
 * node's server in insecure mode, and through it with mutual TLS (client certificate checked),
 * each with 1 and 32 requests in flight for a few seconds. Client and server share this process.
 *
 * ```sh
 * deno run -A tests/bench/tls_bench.ts     # SECONDS=3 to change the duration
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { initCertificates } from "../../rpc/certs.ts";
import { startHttpServer } from "../../rpc/http_server.ts";
import { tlsHttp } from "../../rpc/tls.ts";

const SECONDS = Number(Deno.env.get("SECONDS") ?? 3);
const body = new Uint8Array(200);

async function run(name: string, url: string, get: typeof fetch): Promise<void> {
  for (const inflight of [1, 32]) {
    let done = 0;
    const end = performance.now() + SECONDS * 1000;
    const started = performance.now();
    await Promise.all(Array.from({ length: inflight }, async () => {
      // Bounded by the deadline and by a count.
      for (let i = 0; i < 10_000_000 && performance.now() < end; i++) {
        const r = await get(url, { method: "POST", body });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${name}: HTTP ${r.status}`);
        done++;
      }
    }));
    const rate = done / ((performance.now() - started) / 1000);
    console.log(
      `${name.padEnd(34)} ${String(inflight).padStart(2)} in flight ${
        Math.round(rate).toLocaleString("en-US").padStart(7)
      } req/s`,
    );
  }
}

const handler = async (request: Request) => {
  await request.arrayBuffer();
  return new Response("ok");
};

const native = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
await run("Deno.serve, plain HTTP", `http://127.0.0.1:${native.addr.port}/`, fetch);
await native.shutdown();

const plain = await startHttpServer({ hostname: "127.0.0.1", port: 0, handler });
await run("node server, insecure", `http://127.0.0.1:${plain.port}/health`, fetch);
await plain.close();

const dir = await Deno.makeTempDir({ prefix: "prkdb-tls-bench-" });
await initCertificates({ dir, nodes: [1, 2] });
const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
const server = {
  ca: await read("ca.pem"),
  cert: await read("node-1.pem"),
  key: await read("node-1.key"),
};
const client = { ca: server.ca, cert: await read("node-2.pem"), key: await read("node-2.key") };
const secure = await startHttpServer({
  hostname: "127.0.0.1",
  port: 0,
  tls: { current: server, onChange() {} },
  handler,
});
const http = tlsHttp({ current: client });
// A member-only path: the certificate is checked on every request.
await run(
  "node server, mutual TLS",
  `https://127.0.0.1:${secure.port}/prkdb.v1.RaftService/Heartbeat`,
  http.fetch,
);
http.close();
await secure.close();
await Deno.remove(dir, { recursive: true });
