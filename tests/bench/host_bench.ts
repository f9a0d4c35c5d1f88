/**
 * Host benchmark: three Multi-Raft hosts in one process over the in-memory network with real
 * file storage, 64 concurrent writers. Compared with bench:cluster, it shows what the Raft host
 * costs without HTTP and protobuf in the way.
 *
 * ```sh
 * deno run -A tests/bench/host_bench.ts
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { MemoryNetwork } from "../../partition/mod.ts";
import { MultiRaftHost } from "../../runtime/mod.ts";
import { FileStorage } from "../../storage/mod.ts";
import { scriptArgs } from "../support/script_args.ts";

scriptArgs(`Usage: deno task bench:host

Three Multi-Raft hosts in one process over the in-memory network with real file storage and 64
concurrent writers for 3 seconds: what the Raft host costs without HTTP and protobuf.
`);

const CLIENTS = 64, SECONDS = 3;
const dir = await Deno.makeTempDir({ prefix: "prkdb-host-bench-" });
const net = new MemoryNetwork();
const hosts: MultiRaftHost[] = [];
for (const id of [1, 2, 3]) {
  const host = await MultiRaftHost.start({
    nodeId: id,
    members: [1, 2, 3],
    partitions: 8,
    storage: await FileStorage.open(`${dir}/n${id}`),
    transport: net.transport(id),
    tickMs: 100,
  });
  net.register(id, (from, m) => host.receive(from, m));
  hosts.push(host);
}
await Promise.all(hosts.map((h) => h.waitForLeaders(10_000)));
const te = new TextEncoder();
const value = te.encode("x".repeat(100));
let done = 0;
const end = performance.now() + SECONDS * 1000;
const started = performance.now();
await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
  for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
    const key = te.encode(`key-${c}-${i % 1000}`);
    const leader = hosts[hosts[0].leaderOf(hosts[0].map.partitionOf(key)) - 1];
    try {
      // Leaders move while they are balanced: retry elsewhere, as a client would.
      if (!leader) throw new Error("no leader yet");
      await leader.put(key, value);
      done++;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}));
console.log(
  `in-process hosts, file storage, ${CLIENTS} writers: ${
    Math.round(done / ((performance.now() - started) / 1000))
  } puts/s`,
);
await Promise.all(hosts.map((h) => h.stop()));
await Deno.remove(dir, { recursive: true });
