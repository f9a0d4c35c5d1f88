/**
 * What TLS and the node server cost per request. A server process answers small POSTs: Deno's own
 * server (plain HTTP), the node server in insecure mode (`node:http`), and the node server with
 * mutual TLS (`node:https`, client certificate checked on each request); the last two twice,
 * through the general server (a fetch `Request` for the handler) and on the lean lane (`direct`,
 * see `server/lean_http1.ts`). This process sends a fixed number of requests to each and reports
 * the server's CPU time per request (from /proc, so it holds up on a busy machine) and the
 * throughput.
 *
 * ```sh
 * deno run -A tests/bench/tls_bench.ts     # REQUESTS=20000 INFLIGHT=16 to change the load
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { initCertificates } from "../../server/certs.ts";
import { startHttpServer } from "../../server/http_server.ts";
import { tlsHttp } from "../../rpc/tls.ts";
import { cpuSeconds } from "./process_stats.ts";

const REQUESTS = Number(Deno.env.get("REQUESTS") ?? 20000);
const INFLIGHT = Number(Deno.env.get("INFLIGHT") ?? 16);
type Mode = "native" | "insecure" | "insecure-lean" | "mtls" | "mtls-lean";
const OK = new TextEncoder().encode("ok");

const handler = async (request: Request) => {
  await request.arrayBuffer();
  return new Response("ok");
};

/** Server side: listen, print the port, serve until stdin closes. */
async function serve(mode: Mode, dir: string): Promise<void> {
  let close: () => Promise<void>;
  let port: number;
  if (mode === "native") {
    const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    port = s.addr.port;
    close = () => s.shutdown();
  } else {
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    const tls = mode.startsWith("mtls")
      ? {
        current: {
          ca: await read("ca.pem"),
          cert: await read("node-1.pem"),
          key: await read("node-1.key"),
        },
        onChange() {},
      }
      : undefined;
    const s = await startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      tls,
      handler,
      ...(mode.endsWith("-lean") && {
        direct: () =>
          Promise.resolve({ status: 200, headers: { "content-type": "text/plain" }, body: OK }),
      }),
    });
    port = s.port;
    close = () => s.close();
  }
  console.log(port);
  for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  await close();
}

async function measure(mode: Mode, dir: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "serve", mode, dir],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value!.trim());
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
  const secure = mode.startsWith("mtls");
  const http = secure
    ? tlsHttp({
      current: {
        ca: await read("ca.pem"),
        cert: await read("node-2.pem"),
        key: await read("node-2.key"),
      },
    })
    : undefined;
  const url = secure
    ? `https://127.0.0.1:${port}/prkdb.v1.RaftService/Heartbeat` // members only: checked each time
    : `http://127.0.0.1:${port}/health`;
  const get = http?.fetch ?? fetch;
  const body = new Uint8Array(200);
  const send = async (n: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: INFLIGHT }, async () => {
      while (next++ < n) {
        const r = await get(url, { method: "POST", body });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${mode}: HTTP ${r.status}`);
      }
    }));
  };
  await send(500); // warm up: connections, JIT
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  await send(REQUESTS);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(child.pid) - cpu0;
  console.log(
    `${mode.padEnd(13)} server CPU ${(cpu / REQUESTS * 1e6).toFixed(0).padStart(4)} µs/request   ` +
      `${
        Math.round(REQUESTS / seconds).toLocaleString("en-US").padStart(6)
      } req/s (${INFLIGHT} in flight)`,
  );
  http?.close();
  await child.stdin.close();
  await reader.cancel();
  await child.status;
}

if (Deno.args[0] === "serve") {
  await serve(Deno.args[1] as Mode, Deno.args[2]);
} else {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-tls-bench-" });
  await initCertificates({ dir, nodes: [1, 2] });
  console.log(`${REQUESTS} POSTs of 200 bytes per case, ${INFLIGHT} in flight`);
  const modes = ["native", "insecure", "insecure-lean", "mtls", "mtls-lean"] as const;
  for (const mode of modes) await measure(mode, dir);
  await Deno.remove(dir, { recursive: true });
}
