import { assert } from "@std/assert";
import { createClient, createConnectRouter } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { RaftService } from "./gen/prkdb/v1/raft_pb.ts";
import { UnaryLanes } from "./unary_lanes.ts";
import { serveRouter } from "../tests/support/router_server.ts";
import { waitFor } from "../tests/support/wait.ts";

Deno.test("UnaryLanes: calls to an older peer stay under the batch byte limit, and nothing is lost", async () => {
  const calls: number[] = [];
  const router = createConnectRouter();
  router.service(RaftService, {
    appendEntries(batch) {
      calls.push(batch.messages.length);
      return {};
    },
  });
  const { server, url } = await serveRouter(router);
  const lanes = new UnaryLanes(
    createClient(RaftService, createConnectTransport({ baseUrl: url, useBinaryFormat: true })),
    { self: 1, cluster: "c", timeoutMs: 2000, maxBatchBytes: 10_000 },
  );
  try {
    const data = new Uint8Array(3000);
    const messages = Array.from({ length: 10 }, (_, i) => ({
      partition: 0,
      message: {
        type: "AppendEntries" as const,
        from: 1,
        to: 2,
        term: 1,
        prevLogIndex: i,
        prevLogTerm: 1,
        leaderCommit: 0,
        entries: [{ index: i + 1, term: 1, type: "normal" as const, data }],
      },
    }));
    lanes.send(messages);
    await waitFor("every message to arrive", () => calls.reduce((a, b) => a + b, 0) === 10);
    // About 3 KB each: at most three fit under 10,000 bytes.
    assert(calls.every((n) => n <= 3), `calls carried ${calls}`);
    assert(calls.length >= 4, `${calls.length} calls`);
  } finally {
    lanes.close();
    await server.close();
  }
});
