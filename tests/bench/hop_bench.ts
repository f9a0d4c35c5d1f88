/**
 * What one hop between two node processes costs on this machine, without the database: a round
 * trip over two peer streams (each process writes to the other with the same `ClientStream` and
 * lean receiver the nodes use), against a round trip of one byte over a plain TCP connection
 * between the same two kinds of process. A put at one client crosses six such hops.
 *
 * ```sh
 * deno task bench:hop
 * ROUNDS=200 deno task bench:hop   # fewer round trips (and as few to warm up)
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a benchmark report: printing is its job
import { startHttpServer } from "../../server/http_server.ts";
import { RAFT_STREAM_PATH, raftStreamSink, receiveRaftStream } from "../../server/raft_stream.ts";
import { ClientStream } from "../../rpc/client_stream.ts";
import { http1Stream } from "../../rpc/http1_stream.ts";
import { encodeRaftBatch } from "../../rpc/raft_wire.ts";
import { scriptArgs } from "../support/script_args.ts";
import { deadline } from "@std/async";
import { cpuSeconds } from "./process_stats.ts";

/** Round trips measured of each kind (`ROUNDS` overrides: the test runs a few). */
const ROUND_TRIPS = Number(Deno.env.get("ROUNDS") ?? 5000);
/**
 * Round trips made before measuring. The first few thousand run while V8 is still compiling the
 * path on its background threads, whose CPU would count against the round trips: with 100 of
 * them, 2,000 measured round trips over peer streams cost about twice what 30,000 do.
 */
const WARMUP = Math.min(3000, ROUND_TRIPS);
const PATH = RAFT_STREAM_PATH;

/** A ping: an empty batch, the smallest message a peer stream carries. */
const PING = encodeRaftBatch(1, new TextEncoder().encode("hop"), []);

/** A peer stream to `port`, sending one ping per item. */
const streamTo = (port: number) =>
  new ClientStream<number>({
    url: `http://127.0.0.1:${port}${PATH}`,
    encode: () => PING,
    bytes: () => PING.length,
    maxMessageBytes: 1 << 20,
    stallMs: 5000,
    idleMs: 60_000,
    // As a node opens them: each batch written straight to the socket.
    fetch: http1Stream(),
  });

/** A server for peer streams on a free port, calling `onPing` for each batch. */
const pingServer = (onPing: () => void) =>
  startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    streamingPaths: new Set([PATH]),
    // As a node serves them: on the lean lane, straight from the connection's bytes.
    streamSink: () => raftStreamSink(onPing, 1 << 20),
    handler: (request) => receiveRaftStream(request, onPing, 1 << 20),
  });

/** Reads `stream` line by line. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  return async () => {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the other process ended");
      text += value;
    }
    const line = text.slice(0, text.indexOf("\n"));
    text = text.slice(line.length + 1);
    return line;
  };
}

/** Percentiles of `samples`, in milliseconds. */
function percentiles(samples: number[]): string {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.floor(q * (samples.length - 1))].toFixed(3);
  return `p50 ${at(0.5)} ms, p90 ${at(0.9)} ms`;
}

/** CPU seconds of both processes over the measured round trips, per round trip in microseconds. */
const perTrip = (seconds: number) =>
  `CPU ${(seconds / ROUND_TRIPS * 1e6).toFixed(0)} µs per round trip (both processes)`;

/** The far end, in its own process: it answers every ping and every byte, until its stdin ends. */
async function echo(): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer: { back?: ClientStream<number> } = {};
  const server = await pingServer(() => peer.back?.push([1]));
  console.log(JSON.stringify({ tcp: (listener.addr as Deno.NetAddr).port, stream: server.port }));
  const line = lineReader(Deno.stdin.readable);
  peer.back = streamTo(Number(await line()));
  console.log("ready"); // pings are answered from now on
  // The measuring process closes stdin when it is done, or dies: either way, this one ends too.
  line().catch(() => {}).finally(() => Deno.exit(0));
  const conn = await listener.accept();
  const byte = new Uint8Array(1);
  for (;;) {
    if (await conn.read(byte) === null) break;
    await conn.write(byte);
  }
}

/** Measures both kinds of round trip against a child process running {@linkcode echo}. */
async function main(): Promise<void> {
  scriptArgs(
    "Usage: deno task bench:hop\n\nRound trips between two Deno processes: over two peer " +
      "streams, and over plain TCP.",
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--echo"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let answered: (at: number) => void = () => {};
  const server = await pingServer(() => answered(performance.now()));
  try {
    const line = lineReader(child.stdout);
    const ports = JSON.parse(await deadline(line(), 10_000)) as {
      tcp: number;
      stream: number;
    };
    await stdin.write(new TextEncoder().encode(`${server.port}\n`));
    await deadline(line(), 10_000);
    const out = streamTo(ports.stream);
    const streamTimes: number[] = [];
    const cpu = () => cpuSeconds(Deno.pid) + cpuSeconds(child.pid);
    let cpuBefore = 0;
    for (let i = 0; i < ROUND_TRIPS + WARMUP; i++) {
      if (i === WARMUP) cpuBefore = cpu();
      const back = new Promise<number>((resolve) => answered = resolve);
      const started = performance.now();
      out.push([i]);
      const arrived = await deadline(back, 5000);
      if (i >= WARMUP) streamTimes.push(arrived - started);
    }
    const streamCpu = cpu() - cpuBefore;
    await out.close();
    console.log(
      `peer streams, round trip: ${percentiles(streamTimes)}, ${perTrip(streamCpu)}`,
    );

    const conn = await Deno.connect({ hostname: "127.0.0.1", port: ports.tcp });
    const byte = new Uint8Array(1);
    const tcpTimes: number[] = [];
    for (let i = 0; i < ROUND_TRIPS + WARMUP; i++) {
      if (i === WARMUP) cpuBefore = cpu();
      const started = performance.now();
      await conn.write(byte);
      await deadline(conn.read(byte), 5000);
      if (i >= WARMUP) tcpTimes.push(performance.now() - started);
    }
    const tcpCpu = cpu() - cpuBefore;
    conn.close();
    console.log(`plain TCP, round trip:    ${percentiles(tcpTimes)}, ${perTrip(tcpCpu)}`);
  } finally {
    await server.close();
    await stdin.close().catch(() => {});
    await child.status;
  }
}

if (Deno.args[0] === "--echo") await echo();
else await main();
