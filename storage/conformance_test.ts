/**
 * One suite, every backend: each must store and recover exactly the same things. The suite
 * itself is exported (`storage/conformance.ts`) for backends written elsewhere.
 */
import { type StorageUnderTest, testStorageConformance } from "./conformance.ts";
import { FileStorage } from "./file_storage.ts";
import { KvStorage } from "./kv_storage.ts";
import { MemoryStorage } from "./memory_storage.ts";
import type { RaftStorage } from "./raft_storage.ts";

interface Backend {
  readonly name: string;
  open(): Promise<StorageUnderTest>;
}

const backends: Backend[] = [
  {
    name: "memory",
    open() {
      const storage = new MemoryStorage();
      return Promise.resolve({
        storage,
        reopen: () => Promise.resolve(storage),
        cleanup: () => storage.close(),
      });
    },
  },
  {
    name: "file",
    async open() {
      const dir = await Deno.makeTempDir({ prefix: "prkdb-conformance-" });
      let current: RaftStorage = await FileStorage.open(dir, {
        segmentBytes: 4096,
        onWarning: () => {},
      });
      return {
        storage: current,
        async reopen() {
          await current.close();
          return current = await FileStorage.open(dir, { segmentBytes: 4096, onWarning: () => {} });
        },
        async cleanup() {
          await current.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
  {
    name: "kv",
    async open() {
      const dir = await Deno.makeTempDir({ prefix: "prkdb-conformance-kv-" });
      const path = `${dir}/store.sqlite`;
      let current: RaftStorage = await KvStorage.open(path);
      return {
        storage: current,
        async reopen() {
          await current.close();
          return current = await KvStorage.open(path);
        },
        async cleanup() {
          await current.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
];

for (const backend of backends) testStorageConformance(backend.name, () => backend.open());
