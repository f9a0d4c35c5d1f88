/**
 * A one-node cluster in this process, on a free loopback port, with memory storage: for tests
 * that need a real server but not a real cluster.
 *
 * @module
 */
import { type RunningNode, startNode } from "../../server/node.ts";

/** Starts a one-node cluster and waits until it leads every partition. */
export async function startOneNode(
  partitions = 1,
): Promise<{ node: RunningNode; url: string }> {
  // The OS picks a free port; the node needs it up front because it is its advertised address.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const node = await startNode({
    id: 1,
    peers: new Map([[1, `127.0.0.1:${port}`]]),
    partitions,
    storage: "memory",
    tickMs: 5,
  });
  await node.host.waitForLeaders(5000);
  return { node, url: `http://127.0.0.1:${port}` };
}
