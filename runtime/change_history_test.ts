import { assertEquals, assertStrictEquals } from "@std/assert";
import { encodeCommand } from "../partition/mod.ts";
import { ChangeHistory, type ChangesPage } from "./change_history.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => b && new TextDecoder().decode(b);
const write = (...mutations: ({ key: string; value?: string })[]) =>
  encodeCommand({
    op: "write",
    time: 0,
    checks: [],
    mutations: mutations.map((m) =>
      m.value === undefined
        ? { type: "delete" as const, key: bytes(m.key) }
        : { type: "set" as const, key: bytes(m.key), value: bytes(m.value) }
    ),
  });
const show = (page: ChangesPage) =>
  page.kind === "compacted" ? page : {
    through: page.through,
    changes: page.changes.map((c) => [c.index, c.type, text(c.key), text(c.value)]),
  };

Deno.test("change history: a write's bytes read back as its mutations, in log order with the expiries", () => {
  const h = new ChangeHistory(0);
  h.recordWrite(1, write({ key: "a", value: "1" }, { key: "b" }));
  h.record(2, [{ type: "delete", key: bytes("c"), index: 2 }]);
  // Index 3 changed nothing (a no-op, a session opened): a gap is fine.
  h.recordWrite(4, write({ key: "a", value: "2" }));
  assertEquals(show(h.after(0, 10, 4)), {
    through: 4,
    changes: [
      [1, "put", "a", "1"],
      [1, "delete", "b", undefined],
      [2, "delete", "c", undefined],
      [4, "put", "a", "2"],
    ],
  });
  // Pages stop at the limit and at what has been applied.
  assertEquals(show(h.after(1, 2, 4)), { through: 3, changes: [[2, "delete", "c", undefined]] });
  assertEquals(show(h.after(2, 10, 3)), { through: 3, changes: [] });
});

Deno.test("change history: after a compaction it keeps the latest entries, within the byte budget", () => {
  const command = write({ key: "k", value: "v".repeat(100) });
  const h = new ChangeHistory(0, { entries: 4, bytes: 3 * command.length });
  for (let i = 1; i <= 10; i++) h.recordWrite(i, command);
  h.compacted(8, 10);
  // Four entries by count (7 to 10), then three by bytes (8 to 10).
  assertEquals(h.oldest, 8);
  assertEquals(show(h.after(5, 10, 10)), { kind: "compacted", oldest: 8 });
  const page = h.after(7, 10, 10);
  assertEquals(page.kind === "changes" && page.changes.map((c) => c.index), [8, 9, 10]);
  // A snapshot from the leader: nothing before it can be followed.
  h.reset(9);
  assertEquals(h.oldest, 10);
  assertEquals(show(h.after(9, 10, 10)), {
    through: 10,
    changes: [[10, "put", "k", "v".repeat(100)]],
  });
});

Deno.test("change history: watchers reading the same writes share one decoding of each", () => {
  const h = new ChangeHistory(0);
  for (let i = 1; i <= 3; i++) h.recordWrite(i, write({ key: `k${i}`, value: `${i}` }));
  const first = h.after(0, 10, 3);
  const second = h.after(1, 10, 3);
  if (first.kind !== "changes" || second.kind !== "changes") throw new Error("compacted");
  assertEquals(second.changes.map((c) => c.index), [2, 3]);
  assertStrictEquals(second.changes[0], first.changes[1]);
  assertStrictEquals(second.changes[1], first.changes[2]);
});
