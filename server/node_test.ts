import { assertRejects } from "@std/assert";
import { join } from "@std/path";
import { DataDirLockedError, StorageError } from "../storage/errors.ts";
import { startNode } from "./node.ts";

Deno.test("startNode: a refused recovery releases the data directory", async () => {
  const parent = await Deno.makeTempDir({ prefix: "prkdb-node-" });
  const dataDir = join(parent, "n1");
  const config = {
    id: 1,
    peers: new Map([[1, "127.0.0.1:0"]]),
    listen: { hostname: "127.0.0.1", port: 0 },
    partitions: 1,
    storage: "kv" as const,
    dataDir,
    tickMs: 5,
  };
  try {
    const node = await startNode(config);
    await node.host.waitForLeaders(5000);
    await node.stop();
    // Damage the store so that loading partition 0 fails: its entries are gone, its meta is not.
    const kv = await Deno.openKv(join(dataDir, "prkdb.sqlite"));
    for await (const { key } of kv.list({ prefix: ["prkdb", "log", 0] })) await kv.delete(key);
    kv.close();
    for (let attempt = 0; attempt < 2; attempt++) {
      // The second attempt meets the same damage, not a lock the first one kept.
      const error = await assertRejects(
        () => startNode(config),
        StorageError,
        "should hold entries",
      );
      if (error instanceof DataDirLockedError) throw error;
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
