/**
 * A node asks its storage to wait in place only when it has nothing else to do: the loop was
 * idle and at most one client request waits. Writes that arrive together are work to overlap
 * with the disk, so their storage write is handed off as usual.
 */
import { assert, assertEquals } from "@std/assert";
import { MemoryNetwork } from "../partition/transport.ts";
import { MemoryStorage } from "../storage/memory_storage.ts";
import type { PartitionWrite, StorageWriteOptions } from "../storage/raft_storage.ts";
import { MultiRaftHost } from "./multi_raft_host.ts";

/** Memory storage that records, for each write carrying entries, their count and `idle`. */
class RecordingStorage extends MemoryStorage {
  readonly writes: { entries: number; idle: boolean }[] = [];
  override write(batch: readonly PartitionWrite[], options?: StorageWriteOptions): Promise<void> {
    const entries = batch.reduce((n, w) => n + (w.entries?.length ?? 0), 0);
    if (entries > 0) this.writes.push({ entries, idle: options?.idle === true });
    return super.write(batch, options);
  }
}

Deno.test("MultiRaftHost: a lone write to an idle node asks for an idle storage write; a burst does not", async () => {
  const te = new TextEncoder();
  const storage = new RecordingStorage();
  const net = new MemoryNetwork();
  const host = await MultiRaftHost.start({
    nodeId: 1,
    members: [1],
    partitions: 1,
    storage,
    transport: net.transport(1),
    tickMs: 10,
  });
  net.register(1, (from, msgs, leading) => host.receive(from, msgs, leading));
  try {
    await host.waitForLeaders(5000);
    // Until flush() resolves, rounds run; after it, the loop is idle.
    await host.flush();
    storage.writes.length = 0;
    await host.put(te.encode("alone"), te.encode("v"));
    assertEquals(storage.writes, [{ entries: 1, idle: true }]);
    await host.flush();
    storage.writes.length = 0;
    // Proposed in one turn: all five wait before the first round runs.
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => host.put(te.encode(`burst${i}`), te.encode("v"))),
    );
    assertEquals(storage.writes.reduce((n, w) => n + w.entries, 0), 5);
    assert(storage.writes.every((w) => !w.idle), JSON.stringify(storage.writes));
  } finally {
    await host.stop();
  }
});
