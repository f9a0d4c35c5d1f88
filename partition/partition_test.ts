import { assert, assertEquals, assertThrows } from "@std/assert";
import { fnv1a32, partitionForKey } from "./hash.ts";
import {
  decodeCommand,
  encodeCommand,
  InvalidCommandError,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
} from "./command.ts";
import { KvStateMachine } from "./kv_state_machine.ts";
import { shouldCompact } from "./compaction.ts";

const te = new TextEncoder();

Deno.test("fnv1a32: matches the published test vectors", () => {
  assertEquals(fnv1a32(new Uint8Array()), 0x811c9dc5);
  assertEquals(fnv1a32(te.encode("a")), 0xe40c292c);
  assertEquals(fnv1a32(te.encode("foobar")), 0xbf9cf968);
});

Deno.test("partitionForKey: stable, in range, and spread evenly", () => {
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 8000; i++) counts[partitionForKey(te.encode(`user:${i}`), 8)]++;
  for (const c of counts) assert(c > 800 && c < 1200, `uneven spread: ${counts}`);
  assertEquals(partitionForKey(te.encode("user:1"), 8), partitionForKey(te.encode("user:1"), 8));
  assertThrows(() => partitionForKey(te.encode("k"), 0), RangeError, "positive integer");
});

Deno.test("commands: round-trip puts and deletes, including binary and empty values", () => {
  const key = new Uint8Array([0, 255, 7]);
  for (const value of [new Uint8Array(), new Uint8Array([0, 1, 2])]) {
    const decoded = decodeCommand(encodeCommand({ op: "put", key, value }));
    assertEquals(decoded, { op: "put", key, value });
  }
  assertEquals(decodeCommand(encodeCommand({ op: "delete", key })), { op: "delete", key });
});

Deno.test("commands: empty or oversized keys and values are refused, stating the limit", () => {
  assertThrows(
    () => encodeCommand({ op: "delete", key: new Uint8Array() }),
    InvalidCommandError,
    "key is empty",
  );
  assertThrows(
    () => encodeCommand({ op: "delete", key: new Uint8Array(MAX_KEY_BYTES + 1) }),
    InvalidCommandError,
    `the limit is ${MAX_KEY_BYTES}`,
  );
  assertThrows(
    () =>
      encodeCommand({ op: "put", key: te.encode("k"), value: new Uint8Array(MAX_VALUE_BYTES + 1) }),
    InvalidCommandError,
    `the limit is ${MAX_VALUE_BYTES}`,
  );
});

Deno.test("commands: malformed bytes are a clear error", () => {
  assertThrows(() => decodeCommand(new Uint8Array([1, 0])), InvalidCommandError, "too short");
  assertThrows(
    () => decodeCommand(new Uint8Array([1, 0, 0, 0, 9, 1])),
    InvalidCommandError,
    "runs past the end",
  );
  assertThrows(
    () => decodeCommand(new Uint8Array([9, 0, 0, 0, 0])),
    InvalidCommandError,
    "unknown operation 9",
  );
  assertThrows(
    () => decodeCommand(new Uint8Array([2, 0, 0, 0, 1, 65, 66])),
    InvalidCommandError,
    "delete carries a value",
  );
});

Deno.test("KvStateMachine: applies in order and reports what it found", () => {
  const sm = new KvStateMachine();
  const key = te.encode("k");
  const put = (index: number, v: string) =>
    sm.apply({
      index,
      term: 1,
      type: "normal",
      data: encodeCommand({ op: "put", key, value: te.encode(v) }),
    });
  assertEquals(sm.apply({ index: 1, term: 1, type: "noop", data: new Uint8Array() }).op, "noop");
  assertEquals(put(2, "a").found, false);
  assertEquals(put(3, "b").found, true);
  assertEquals(new TextDecoder().decode(sm.get(key)), "b");
  assertEquals(
    sm.apply({ index: 4, term: 1, type: "normal", data: encodeCommand({ op: "delete", key }) })
      .found,
    true,
  );
  assertEquals(sm.get(key), undefined);
  assertEquals([sm.appliedIndex, sm.size], [4, 0]);
  assertThrows(() => put(9, "z"), RangeError, "out of order");
});

Deno.test("KvStateMachine: stored values do not alias the log's buffers", () => {
  const sm = new KvStateMachine();
  const data = encodeCommand({ op: "put", key: te.encode("k"), value: te.encode("v") });
  sm.apply({ index: 1, term: 1, type: "normal", data });
  data.fill(0);
  assertEquals(new TextDecoder().decode(sm.get(te.encode("k"))), "v");
});

Deno.test("KvStateMachine: a snapshot restores the same state and applied index", () => {
  const a = new KvStateMachine();
  const put = (sm: KvStateMachine, index: number, k: string, v: Uint8Array) =>
    sm.apply({
      index,
      term: 1,
      type: "normal",
      data: encodeCommand({ op: "put", key: te.encode(k), value: v }),
    });
  put(a, 1, "x", te.encode("1"));
  put(a, 2, "\u00ff\u0000bin", new Uint8Array([0, 255, 9]));
  put(a, 3, "empty", new Uint8Array());
  const b = new KvStateMachine();
  put(b, 1, "stale", te.encode("gone"));
  b.restore(a.snapshot());
  assertEquals([b.appliedIndex, b.size], [3, 3]);
  assertEquals(b.get(te.encode("stale")), undefined);
  assertEquals(b.get(te.encode("\u00ff\u0000bin")), new Uint8Array([0, 255, 9]));
  assertEquals(b.get(te.encode("empty")), new Uint8Array());
  put(b, 4, "x", te.encode("2")); // and it keeps applying from there
  assertEquals(b.appliedIndex, 4);
});

Deno.test("KvStateMachine: a damaged snapshot is refused and the state is untouched", () => {
  const sm = new KvStateMachine();
  sm.apply({
    index: 1,
    term: 1,
    type: "normal",
    data: encodeCommand({ op: "put", key: te.encode("k"), value: te.encode("v") }),
  });
  const good = sm.snapshot();
  assertThrows(
    () => sm.restore(good.subarray(0, good.length - 1)),
    RangeError,
    "runs past the end",
  );
  assertThrows(() => sm.restore(new Uint8Array([2, ...good.subarray(1)])), RangeError, "version 2");
  assertEquals(new TextDecoder().decode(sm.get(te.encode("k"))), "v");
});

Deno.test("shouldCompact: by entries applied past the snapshot, or by log bytes", () => {
  const status = (lastApplied: number, firstIndex: number, logBytes: number) => ({
    lastApplied,
    firstIndex,
    logBytes,
  });
  assertEquals(shouldCompact(status(99, 1, 0), { entries: 100 }), false);
  assertEquals(shouldCompact(status(100, 1, 0), { entries: 100 }), true);
  assertEquals(
    shouldCompact(status(150, 101, 0), { entries: 100 }),
    false,
    "counted from the snapshot",
  );
  assertEquals(shouldCompact(status(10, 1, 5000), { entries: 100, bytes: 4096 }), true);
  assertEquals(
    shouldCompact(status(100, 101, 1 << 30), { bytes: 1 }),
    false,
    "nothing applied to compact",
  );
});
