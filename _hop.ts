// deno-lint-ignore-file no-console
import { startHttpServer } from "./server/http_server.ts";
import { receiveRaftStream } from "./server/raft_stream.ts";
import { ClientStream } from "./rpc/client_stream.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { RaftBatchSchema } from "./rpc/gen/prkdb/v1/raft_pb.ts";
const role = Deno.args[0];
const payload = toBinary(RaftBatchSchema, create(RaftBatchSchema, { from: 1, cluster: "c" }));
const N = 2000;
if (role === "tcp-server") {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log((l.addr as Deno.NetAddr).port);
  const c = await l.accept(); const b = new Uint8Array(1);
  for (;;) { const n = await c.read(b); if (!n) break; await c.write(b); }
  Deno.exit(0);
} else if (role === "tcp-client") {
  const c = await Deno.connect({ hostname: "127.0.0.1", port: Number(Deno.args[1]) }); const b = new Uint8Array(1);
  const lat: number[] = [];
  for (let i = 0; i < N; i++) { const t = performance.now(); await c.write(b); await c.read(b); lat.push(performance.now() - t); }
  lat.sort((a, b) => a - b); console.log(`tcp round trip p50 ${lat[N / 2].toFixed(3)} ms`); c.close();
} else {
  // stream ping-pong: each side runs a server and a ClientStream to the other
  let onRecv: () => void = () => {};
  const server = await startHttpServer({ hostname: "127.0.0.1", port: 0, streamingPaths: new Set(["/s"]), handler: (req) => receiveRaftStream(req, () => onRecv(), 1 << 20) });
  const myPort = server.port;
  await Deno.writeTextFile(`/tmp/hop/${role}`, String(myPort));
  const other = role === "a" ? "b" : "a";
  let port = "";
  while (!port) { try { port = await Deno.readTextFile(`/tmp/hop/${other}`); } catch { await new Promise((r) => setTimeout(r, 50)); } }
  const s = new ClientStream<number>({ url: `http://127.0.0.1:${port}/s`, encode: () => payload, bytes: () => 10, maxMessageBytes: 1 << 20, stallMs: 5000, idleMs: 60000 });
  if (role === "b") { onRecv = () => s.push([1]); await new Promise((r) => setTimeout(r, 20000)); Deno.exit(0); }
  await new Promise((r) => setTimeout(r, 500));
  const lat: number[] = [];
  for (let i = 0; i < N + 100; i++) { const t = performance.now(); const p = new Promise<void>((r) => onRecv = r); s.push([1]); await p; if (i >= 100) lat.push(performance.now() - t); }
  lat.sort((a, b) => a - b); console.log(`stream round trip p50 ${lat[N / 2].toFixed(3)} ms p90 ${lat[Math.floor(N * 0.9)].toFixed(3)}`);
  Deno.exit(0);
}
