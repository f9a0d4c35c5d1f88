/**
 * The corruption suite: damage a cleanly closed data directory in every way we can think of, and
 * start on it. Every case, on every backend, must end one of two ways: the start succeeds with
 * every acknowledged write intact, or it is refused with a typed error naming the file, and the
 * refused start deleted and changed nothing (see damage.ts). A start never succeeds with less.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { DataLossError, NodeIdentityError } from "../../storage/errors.ts";
import { readHighWater } from "../../storage/high_water.ts";
import { MARK_OFFSET, SEGMENT_HEADER_BYTES } from "../../storage/wal_format.ts";
import { framing } from "../support/wal_files.ts";
import { waitFor } from "../support/wait.ts";
import {
  assertStartsIntactOrRefuses,
  type Backend,
  buildFixture,
  copyTree,
  type Fixture,
  identityOf,
  type Outcome,
  start,
  tree,
} from "./damage.ts";

const BACKENDS: Backend[] = ["file", "kv"];
const root = await Deno.makeTempDir({ prefix: "prkdb-corruption-" });
const fixtures = new Map<Backend, Fixture>();
// Every case's directory lives under root; it goes when the test module ends, however it ends.
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

/** The fixture for a backend, built once. */
async function fixture(backend: Backend): Promise<Fixture> {
  if (!fixtures.has(backend)) fixtures.set(backend, await buildFixture(backend, root));
  return fixtures.get(backend)!;
}

/** Damages a fresh copy of the fixture and checks the start. */
async function damaged(
  f: Fixture,
  what: string,
  damage: (dir: string) => Promise<void>,
): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ dir: root, prefix: "case-" });
  try {
    await copyTree(f.dir, dir);
    await damage(dir);
    return await assertStartsIntactOrRefuses(f, dir, what);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The fixture's files (not directories), except the lock. */
async function files(f: Fixture): Promise<string[]> {
  return [...(await tree(f.dir))].filter(([p, b]) => b !== null && p !== "LOCK").map(([p]) => p);
}

/**
 * Which bytes of a file to flip: every byte of small files; in a log segment, the segment
 * header, every third byte of each record header (lengths, numbers, checksums), every eleventh
 * byte of the records, and a few bytes of the preallocated space after them, so the case stays a
 * few seconds long.
 */
function flipSample(name: string, bytes: Uint8Array): number[] {
  if (!name.endsWith(".wal")) return Array.from({ length: bytes.length }, (_, i) => i);
  const { offsets, end } = framing(bytes);
  const picked = new Set<number>();
  for (let i = 0; i < end; i++) if (i < SEGMENT_HEADER_BYTES || i % 11 === 0) picked.add(i);
  for (const at of offsets) for (let i = 0; i < 20; i += 3) picked.add(at + i);
  for (const i of [end, end + 1, end + 19, end + 4096, bytes.length - 1]) picked.add(i);
  return [...picked].filter((i) => i < bytes.length).sort((a, b) => a - b);
}

const suiteTest = (name: string, fn: () => Promise<void>) => Deno.test(name, fn);

for (const backend of BACKENDS) {
  suiteTest(`corruption (${backend}): the undamaged fixture starts with everything`, async () => {
    const f = await fixture(backend);
    const names = await files(f);
    if (backend === "file") {
      assert(names.filter((n) => n.endsWith(".wal")).length >= 3, `few segments: ${names}`);
      assert(names.some((n) => n.endsWith(".snap")), `no snapshot: ${names}`);
    }
    assertEquals(await damaged(f, "no damage", () => Promise.resolve()), "started intact");
  });

  suiteTest(
    `corruption (${backend}): one flipped bit, byte by byte, in every file PrkDB writes`,
    async () => {
      const f = await fixture(backend);
      // SQLite's database pages have no checksums: a flipped bit there is not detectable (see
      // docs/storage.md), so the KV backend's case covers the files PrkDB writes itself.
      const targets = (await files(f)).filter((n) => !/\.sqlite/.test(n));
      const dir = await Deno.makeTempDir({ dir: root, prefix: "flip-" });
      let refused = 0, flips = 0;
      try {
        await copyTree(f.dir, dir);
        for (const name of targets) {
          const path = join(dir, name);
          const original = await Deno.readFile(path);
          for (const i of flipSample(name, original)) {
            const bytes = original.slice();
            bytes[i] ^= 1 << (i % 8);
            await Deno.writeFile(path, bytes);
            const outcome = await assertStartsIntactOrRefuses(f, dir, `bit flip at ${name}:${i}`);
            flips++;
            if (outcome === "refused") {
              refused++;
              await Deno.writeFile(path, original);
            } else {
              // A start may legitimately write (a high-water update): restore everything.
              await Deno.remove(dir, { recursive: true });
              await copyTree(f.dir, dir);
            }
            // Every byte of a log segment's header and records is covered by a checksum: none
            // may be accepted, except in the header's acknowledged mark, whose two slots stand in
            // for each other, and in the preallocated space after the records, which holds
            // nothing (the start above found every acknowledged write intact either way).
            const inMark = i >= MARK_OFFSET && i < SEGMENT_HEADER_BYTES;
            if (name.endsWith(".wal") && !inMark && i < framing(original).end) {
              assertEquals(outcome, "refused", `flip at ${name}:${i}`);
            }
          }
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      assert(refused > flips / 2, `only ${refused} of ${flips} flips were refused`);
    },
  );

  suiteTest(`corruption (${backend}): deleting any one file or directory`, async () => {
    const f = await fixture(backend);
    for (const [name] of await tree(f.dir)) {
      if (name === "LOCK") continue;
      const outcome = await damaged(
        f,
        `delete ${name}`,
        (dir) => Deno.remove(join(dir, name), { recursive: true }),
      );
      if (!name.endsWith(".sqlite-shm")) assertEquals(outcome, "refused", `delete ${name}`);
    }
  });

  suiteTest(`corruption (${backend}): zero-filling any one file`, async () => {
    const f = await fixture(backend);
    for (const name of await files(f)) {
      const outcome = await damaged(f, `zero-fill ${name}`, async (dir) => {
        const path = join(dir, name);
        await Deno.writeFile(path, new Uint8Array((await Deno.stat(path)).size));
      });
      assertEquals(outcome, "refused", `zero-fill ${name}`);
    }
  });

  suiteTest(
    `corruption (${backend}): an emptied data directory is refused, not started blank`,
    async () => {
      const f = await fixture(backend);
      await damaged(f, "empty the data dir", async (dir) => {
        for await (const e of Deno.readDir(dir)) {
          await Deno.remove(join(dir, e.name), { recursive: true });
        }
      });
      const dir = await Deno.makeTempDir({ dir: root, prefix: "empty-" });
      await assertRejects(() => start(backend, dir), NodeIdentityError, "--allow-blank-start");
    },
  );

  suiteTest(
    `corruption (${backend}): another node id, cluster, partition count, membership or backend`,
    async () => {
      const f = await fixture(backend);
      const dir = await Deno.makeTempDir({ dir: root, prefix: "identity-" });
      await copyTree(f.dir, dir);
      const before = await tree(dir);
      const own = identityOf(backend);
      const wrong = [
        [{ ...own, node: 2 }, "belongs to node 1 of cluster corruption, started as node 2"],
        [{ ...own, cluster: "other" }, "started as node 1 of cluster other"],
        [{ ...own, partitions: 8 }, "holds 3 partitions, started with --partitions 8"],
        [{ ...own, members: [1] }, "knew members 1,2,3, started with --peers naming 1"],
        [
          { ...own, members: [1, 2, 3, 4] },
          "knew members 1,2,3, started with --peers naming 1,2,3,4",
        ],
        [
          { ...own, storage: backend === "file" ? "kv" : "file" } as const,
          `holds ${backend} storage`,
        ],
      ] as const;
      for (const [identity, message] of wrong) {
        await assertRejects(() => start(backend, dir, identity), NodeIdentityError, message);
      }
      assertEquals(await tree(dir), before, "a refused start changed the directory");
    },
  );

  suiteTest(
    `corruption (${backend}): an older copy of the store, restored over a newer one`,
    async () => {
      const f = await fixture(backend);
      const dir = await Deno.makeTempDir({ dir: root, prefix: "rollback-" });
      await copyTree(f.dir, dir);
      const store = backend === "file" ? "wal" : "prkdb.sqlite";
      const older = join(root, `older-${backend}`);
      await copyTree(f.dir, older);
      // More acknowledged writes, then the store itself goes back to the older copy.
      const { storage } = await start(backend, dir);
      const last = f.acknowledged[2].entries.at(-1)!;
      const entry = {
        index: last.index + 1,
        term: last.term,
        type: "normal" as const,
        data: new Uint8Array(9),
      };
      await storage.write([{ partition: 2, entries: [entry] }]);
      await storage.close();
      await Deno.remove(join(dir, store), { recursive: true });
      if (backend === "file") await copyTree(join(older, store), join(dir, store));
      else await Deno.copyFile(join(older, store), join(dir, store));
      const before = await tree(dir);
      const error = await assertRejects(() => start(backend, dir), DataLossError);
      assert(error.message.includes(dir), error.message);
      assertEquals(await tree(dir), before, "a refused start changed the directory");
    },
  );
}

suiteTest(
  "corruption (file): cutting a segment at every record boundary and inside records",
  async () => {
    const f = await fixture("file");
    for (const name of (await files(f)).filter((n) => n.endsWith(".wal"))) {
      const bytes = await Deno.readFile(join(f.dir, name));
      const { offsets, end } = framing(bytes);
      const cuts = new Set<number>([0, 7, 19, 40]);
      // Every record boundary, and points inside the record header and the payload.
      for (const at of offsets) for (const d of [0, 9, 21]) cuts.add(at + d);
      cuts.add(end - 1);
      // (A cut in the preallocated space after the records loses nothing.)
      for (const cut of [...cuts].filter((c) => c < end)) {
        const outcome = await damaged(
          f,
          `cut ${name} at ${cut}`,
          (dir) => Deno.truncate(join(dir, name), cut),
        );
        assertEquals(outcome, "refused", `cut ${name} at ${cut} of ${bytes.length}`);
      }
    }
  },
);

suiteTest("corruption (file): two segments swapped", async () => {
  const f = await fixture("file");
  const segments = (await files(f)).filter((n) => n.endsWith(".wal")).sort();
  for (let i = 0; i + 1 < segments.length; i++) {
    const [a, b] = [segments[i], segments[i + 1]];
    const outcome = await damaged(f, `swap ${a} and ${b}`, async (dir) => {
      await Deno.rename(join(dir, a), join(dir, "tmp"));
      await Deno.rename(join(dir, b), join(dir, a));
      await Deno.rename(join(dir, "tmp"), join(dir, b));
    });
    assertEquals(outcome, "refused", `swap ${a} and ${b}`);
  }
});

suiteTest("corruption (kv): cutting the database file at every page", async () => {
  const f = await fixture("kv");
  const size = (await Deno.stat(join(f.dir, "prkdb.sqlite"))).size;
  for (let cut = 0; cut < size; cut += 4096) {
    await damaged(
      f,
      `cut prkdb.sqlite at ${cut}`,
      (dir) => Deno.truncate(join(dir, "prkdb.sqlite"), cut),
    );
  }
});

suiteTest("corruption (kv): a damaged or missing SQLite WAL after a crash", async () => {
  const f = await fixture("kv");
  const live = await Deno.makeTempDir({ dir: root, prefix: "kv-live-" });
  const image = join(root, "kv-crash-image");
  await copyTree(f.dir, live);
  // Acknowledged writes that live only in SQLite's -wal file, then a copy of the files as a
  // crash would leave them (taken while the database is open and idle).
  const { storage } = await start("kv", live);
  const last = f.acknowledged[1].entries.at(-1)!;
  for (let i = 1; i <= 20; i++) {
    const entry = {
      index: last.index + i,
      term: last.term,
      type: "normal" as const,
      data: new Uint8Array(2000).fill(i),
    };
    await storage.write([{ partition: 1, entries: [entry] }]);
  }
  const states = [0, 1, 2].map((p) => storage.load(p));
  const acknowledged = await Promise.all(states);
  const hw = join(live, "prkdb.sqlite.high-water");
  // The high-water record trails the last commit by at most one update: wait for it.
  const target = (await readHighWater(join(f.dir, "prkdb.sqlite.high-water")))! + 20;
  await waitFor(
    "the high-water record to catch up",
    async () => (await readHighWater(hw))! >= target,
  );
  await Deno.mkdir(image);
  for (
    const name of [
      "identity.json",
      "LOCK",
      "prkdb.sqlite",
      "prkdb.sqlite-wal",
      "prkdb.sqlite.high-water",
    ]
  ) {
    await Deno.copyFile(join(live, name), join(image, name));
  }
  await storage.close();
  const crashed: Fixture = { backend: "kv", dir: image, acknowledged };
  assertEquals(await damaged(crashed, "crash image", () => Promise.resolve()), "started intact");
  const wal = "prkdb.sqlite-wal";
  const walSize = (await Deno.stat(join(image, wal))).size;
  assert(walSize > 20 * 2000, `the WAL holds only ${walSize} bytes`);
  const cases: [string, (dir: string) => Promise<void>][] = [
    ["delete the WAL", (dir) => Deno.remove(join(dir, wal))],
    ["cut the WAL in half", (dir) => Deno.truncate(join(dir, wal), Math.floor(walSize / 2))],
    ["flip a bit in the middle of the WAL", async (dir) => {
      const bytes = await Deno.readFile(join(dir, wal));
      bytes[Math.floor(walSize / 2)] ^= 4;
      await Deno.writeFile(join(dir, wal), bytes);
    }],
  ];
  for (const [what, damage] of cases) {
    assertEquals(await damaged(crashed, what, damage), "refused", what);
  }
});
