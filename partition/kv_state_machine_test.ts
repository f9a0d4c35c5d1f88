import { assert, assertEquals, assertThrows } from "@std/assert";
import type { Entry } from "../raft/entry.ts";
import {
  type Check,
  encodeCommand,
  InvalidCommandError,
  type KvCommand,
  type Mutation,
  putCommand,
  type SessionRef,
} from "./command.ts";
import { type ApplyResult, KvStateMachine } from "./kv_state_machine.ts";
import type { WriteOutcome } from "./sessions.ts";
import { formatVersion } from "./version.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const PARTITION = 5;

function normal(index: number, command: KvCommand): Entry {
  return { index, term: 1, type: "normal", data: encodeCommand(command) };
}

/** Applies commands at the next indexes, as a Raft log would deliver them. */
class Log {
  readonly sm: KvStateMachine;
  constructor(sm = new KvStateMachine(PARTITION)) {
    this.sm = sm;
  }
  apply(command: KvCommand): ApplyResult {
    return this.sm.apply(normal(this.sm.appliedIndex + 1, command));
  }
  put(key: string, value: string, session?: SessionRef, time = 0): ApplyResult {
    return this.apply({ op: "write", time, session, checks: [], mutations: [set(key, value)] });
  }
  del(key: string, session?: SessionRef): ApplyResult {
    const mutations: Mutation[] = [{ type: "delete", key: te.encode(key) }];
    return this.apply({ op: "write", time: 0, session, checks: [], mutations });
  }
  outcome(command: KvCommand): WriteOutcome {
    const result = this.apply(command);
    assert(result.op === "write");
    return result.outcome;
  }
  openSession(time = 0, timeoutMs = 60_000): number {
    const result = this.apply({ op: "openSession", time, timeoutMs });
    assert(result.op === "openSession");
    return result.sessionId;
  }
  value(key: string): string | undefined {
    const v = this.sm.get(te.encode(key));
    return v && td.decode(v);
  }
  version(key: string): string | undefined {
    return this.sm.read(te.encode(key))?.version;
  }
}

function write(checks: Check[], mutations: Mutation[]): KvCommand {
  return { op: "write", time: 0, checks, mutations };
}

const set = (key: string, value: string): Mutation => ({
  type: "set",
  key: te.encode(key),
  value: te.encode(value),
});

Deno.test("KvStateMachine: applies entries in order and reports what it found", () => {
  const log = new Log();
  assertEquals(log.sm.apply({ index: 1, term: 1, type: "noop", data: new Uint8Array() }), {
    index: 1,
    op: "noop",
  });
  assertEquals(log.put("k", "a"), {
    index: 2,
    op: "write",
    outcome: { kind: "ok", index: 2, found: [false] },
    duplicate: false,
    changes: [{ type: "put", key: te.encode("k"), value: te.encode("a"), index: 2 }],
  });
  assertEquals(log.put("k", "b").op === "write" && log.value("k"), "b");
  const deleted = log.del("k");
  assert(deleted.op === "write");
  assertEquals(deleted.outcome, { kind: "ok", index: 4, found: [true] });
  assertEquals(log.value("k"), undefined);
  assertEquals([log.sm.appliedIndex, log.sm.size], [4, 0]);
});

Deno.test("KvStateMachine: an entry out of order is refused and changes nothing", () => {
  const log = new Log();
  log.put("k", "a");
  for (const index of [1, 3, 9]) {
    assertThrows(
      () => log.sm.apply(normal(index, putCommand(te.encode("k"), te.encode("z")))),
      RangeError,
      "out of order",
    );
  }
  assertEquals([log.sm.appliedIndex, log.value("k")], [1, "a"]);
});

Deno.test("KvStateMachine: a key's version only grows, across put, delete and put", () => {
  const log = new Log();
  log.put("k", "1");
  const first = log.version("k");
  assertEquals(first, formatVersion(PARTITION, 1));
  log.put("other", "x");
  log.del("k");
  assertEquals(log.version("k"), undefined);
  log.put("k", "2");
  const second = log.version("k");
  assertEquals(second, formatVersion(PARTITION, 4));
  assert(second! > first!);
  assertEquals(log.sm.read(te.encode("k")), { value: te.encode("2"), version: second! });
  // Every mutation of one write gets the write's version.
  log.apply(write([], [set("a", "1"), set("b", "2")]));
  assertEquals([log.version("a"), log.version("b")], [
    formatVersion(PARTITION, 5),
    formatVersion(PARTITION, 5),
  ]);
});

Deno.test("KvStateMachine: a check passes on the current version, or on null when absent", () => {
  const log = new Log();
  const k = te.encode("k");
  const ok = (index: number, ...found: boolean[]): WriteOutcome => ({ kind: "ok", index, found });
  // null: the key must be absent.
  assertEquals(log.outcome(write([{ key: k, version: null }], [set("k", "1")])), ok(1, false));
  assertEquals(
    log.outcome(write([{ key: k, version: null }], [set("k", "2")])),
    { kind: "checkFailed", check: 0 },
  );
  // A version: the key must be at it.
  const v1 = log.version("k")!;
  assertEquals(log.outcome(write([{ key: k, version: v1 }], [set("k", "3")])), ok(3, true));
  assertEquals(
    log.outcome(write([{ key: k, version: v1 }], [set("k", "4")])),
    { kind: "checkFailed", check: 0 },
  );
  // The same index in another partition is another version.
  assertEquals(
    log.outcome(write([{ key: k, version: formatVersion(PARTITION + 1, 3) }], [set("k", "5")])),
    { kind: "checkFailed", check: 0 },
  );
  assertEquals(log.value("k"), "3");
  // Absent again after a delete.
  log.del("k");
  assertEquals(log.outcome(write([{ key: k, version: null }], [set("k", "6")])), ok(7, false));
});

Deno.test("KvStateMachine: a failed check changes nothing, however many mutations", () => {
  const log = new Log();
  log.put("a", "1");
  log.put("b", "2");
  const before = log.sm.snapshot().subarray(9); // all but the format and applied index
  const result = log.apply(write(
    [
      { key: te.encode("a"), version: formatVersion(PARTITION, 1) }, // holds
      { key: te.encode("b"), version: null }, // does not: b exists
    ],
    [set("a", "changed"), { type: "delete", key: te.encode("b") }, set("c", "new")],
  ));
  assertEquals(result, {
    index: 3,
    op: "write",
    outcome: { kind: "checkFailed", check: 1 },
    duplicate: false,
    changes: [],
  });
  assertEquals([log.value("a"), log.value("b"), log.value("c")], ["1", "2", undefined]);
  assertEquals(log.sm.snapshot().subarray(9), before);
  assertEquals(log.sm.appliedIndex, 3, "the entry is applied, with no effect");
  // The same write with checks that hold applies every mutation.
  const again = log.apply(write(
    [{ key: te.encode("b"), version: formatVersion(PARTITION, 2) }],
    [set("a", "changed"), { type: "delete", key: te.encode("b") }, set("c", "new")],
  ));
  assert(again.op === "write");
  assertEquals(again.outcome, { kind: "ok", index: 4, found: [true, true, false] });
  assertEquals([log.value("a"), log.value("b"), log.value("c")], ["changed", undefined, "new"]);
});

Deno.test("KvStateMachine: a session's duplicate is not applied twice and gets the first result", () => {
  const log = new Log();
  log.put("k", "v"); // 1
  const id = log.openSession(); // 2
  assertEquals(id, 2);
  assertEquals(log.sm.sessions, 1);
  const del = { id, seq: 1, firstIncomplete: 1 };
  const first = log.del("k", del); // 3
  assert(first.op === "write");
  assertEquals(first.outcome, { kind: "ok", index: 3, found: [true] });
  log.put("k", "other writer"); // 4
  // The retry (say, to a new leader) gets the first application's result, `found` included,
  // and does not delete the other writer's value.
  assertEquals(log.del("k", del), {
    index: 5,
    op: "write",
    outcome: { kind: "ok", index: 3, found: [true] },
    duplicate: true,
    changes: [],
  });
  assertEquals([log.value("k"), log.version("k")], ["other writer", formatVersion(PARTITION, 4)]);

  // A put overwritten in between is not put again by its retry.
  const put = { id, seq: 2, firstIncomplete: 2 };
  log.put("k", "mine", put); // 6
  log.put("k", "theirs"); // 7
  const retry = log.put("k", "mine", put); // 8
  assert(retry.op === "write");
  assertEquals([retry.duplicate, retry.outcome], [true, { kind: "ok", index: 6, found: [true] }]);
  assertEquals([log.value("k"), log.version("k")], ["theirs", formatVersion(PARTITION, 7)]);
  // Once the client has moved on, a very late copy of seq 1 is refused, not applied.
  const late = log.del("k", { id, seq: 1, firstIncomplete: 1 }); // 9
  assert(late.op === "write");
  assertEquals([late.duplicate, late.outcome], [false, { kind: "staleRequest" }]);
  assertEquals(log.value("k"), "theirs");
});

Deno.test("KvStateMachine: a write of an unknown or expired session changes nothing", () => {
  const log = new Log();
  const id = log.openSession(1000, 5000); // 1
  const unknown = log.put("k", "v", { id: 99, seq: 1, firstIncomplete: 1 }, 1000);
  assert(unknown.op === "write");
  assertEquals(unknown.outcome, { kind: "sessionExpired" });
  // Log time moves on through other clients' writes; the session idles out.
  log.put("x", "1", undefined, 7000);
  const expired = log.put("k", "v", { id, seq: 1, firstIncomplete: 1 }, 7001);
  assert(expired.op === "write");
  assertEquals(expired.outcome, { kind: "sessionExpired" });
  assertEquals([log.value("k"), log.sm.sessions], [undefined, 0]);
});

Deno.test("KvStateMachine: a snapshot restores values, versions, sessions and the index", () => {
  const a = new Log();
  const id = a.openSession(); // 1
  a.put("x", "1"); // 2
  a.sm.apply(normal(3, putCommand(new Uint8Array([0xff, 0, 7]), new Uint8Array([0, 255, 9]))));
  a.put("empty", ""); // 4
  const session = { id, seq: 1, firstIncomplete: 1 };
  a.del("x", session); // 5
  a.put("x", "again"); // 6

  const b = new Log(new KvStateMachine(PARTITION));
  b.put("stale", "gone");
  b.openSession();
  b.sm.restore(a.sm.snapshot());
  assertEquals([b.sm.appliedIndex, b.sm.size, b.sm.sessions], [6, 3, 1]);
  assertEquals(b.value("stale"), undefined);
  assertEquals(b.sm.read(new Uint8Array([0xff, 0, 7])), {
    value: new Uint8Array([0, 255, 9]),
    version: formatVersion(PARTITION, 3),
  });
  assertEquals(b.sm.read(te.encode("empty")), {
    value: new Uint8Array(),
    version: formatVersion(PARTITION, 4),
  });
  assertEquals([b.value("x"), b.version("x")], ["again", formatVersion(PARTITION, 6)]);
  assertEquals(b.sm.snapshot(), a.sm.snapshot());
  // A duplicate after the restore is still answered from the session table.
  const retry = b.del("x", session); // 7
  assert(retry.op === "write");
  assertEquals([retry.duplicate, retry.outcome], [true, { kind: "ok", index: 5, found: [true] }]);
  assertEquals([b.value("x"), b.sm.appliedIndex], ["again", 7]);
});

/** A snapshot in the first format: no versions, no sessions. */
function snapshotV1(applied: number, pairs: [Uint8Array, Uint8Array][]): Uint8Array {
  const size = 1 + 8 + 4 + pairs.reduce((n, [k, v]) => n + 8 + k.length + v.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 1;
  view.setBigUint64(1, BigInt(applied), true);
  view.setUint32(9, pairs.length, true);
  let at = 13;
  for (const [k, v] of pairs) {
    view.setUint32(at, k.length, true);
    out.set(k, at + 4);
    at += 4 + k.length;
    view.setUint32(at, v.length, true);
    out.set(v, at + 4);
    at += 4 + v.length;
  }
  return out;
}

Deno.test("KvStateMachine: a first-format snapshot restores with its index as every version", () => {
  const log = new Log();
  log.openSession();
  log.sm.restore(snapshotV1(0x1_0000_0005, [
    [te.encode("a"), te.encode("1")],
    [new Uint8Array([0, 255]), new Uint8Array()],
  ]));
  assertEquals([log.sm.appliedIndex, log.sm.size, log.sm.sessions], [0x1_0000_0005, 2, 0]);
  assertEquals(log.sm.read(te.encode("a")), {
    value: te.encode("1"),
    version: formatVersion(PARTITION, 0x1_0000_0005),
  });
  assertEquals(log.sm.read(new Uint8Array([0, 255])), {
    value: new Uint8Array(),
    version: formatVersion(PARTITION, 0x1_0000_0005),
  });
  // Writes continue from there with larger versions.
  log.put("a", "2");
  assertEquals(log.version("a"), formatVersion(PARTITION, 0x1_0000_0006));
  assert(log.version("a")! > formatVersion(PARTITION, 0x1_0000_0005));
});

Deno.test("KvStateMachine: a damaged snapshot is refused and the state is untouched", () => {
  const log = new Log();
  const id = log.openSession();
  log.put("k", "v", { id, seq: 1, firstIncomplete: 1 });
  const good = log.sm.snapshot();
  const damaged: [Uint8Array, string][] = [
    [new Uint8Array(), "needs 1 bytes"],
    [good.subarray(0, good.length - 1), "Invalid state machine snapshot"],
    [new Uint8Array([4, ...good.subarray(1)]), "unknown format 4"],
    [new Uint8Array([...good, 0]), "1 unexpected trailing bytes"],
    // Read as the first format, the versions and session table are trailing garbage.
    [new Uint8Array([1, ...good.subarray(1)]), "Invalid state machine snapshot"],
    [snapshotV1(1, [[te.encode("k"), te.encode("v")]]).subarray(0, 20), "needs"],
  ];
  const resultKind = good.slice();
  resultKind[good.length - 14] = 9; // the only stored result: kind | index (8) | found (4 + 1)
  damaged.push([resultKind, "result kind 9"]);
  for (const [bytes, message] of damaged) {
    assertThrows(() => log.sm.restore(bytes), RangeError, message);
    assertEquals(log.sm.snapshot(), good);
  }
});

Deno.test("KvStateMachine: stored values do not alias the log's or the snapshot's buffers", () => {
  const sm = new KvStateMachine();
  const entry = normal(1, putCommand(te.encode("k"), te.encode("v")));
  sm.apply(entry);
  entry.data.fill(0);
  assertEquals(td.decode(sm.get(te.encode("k"))), "v");
  const snapshot = sm.snapshot();
  const other = new KvStateMachine();
  other.restore(snapshot);
  snapshot.fill(0);
  assertEquals(td.decode(other.get(te.encode("k"))), "v");
});

Deno.test("KvStateMachine: a poison entry throws and does not advance the applied index", () => {
  const log = new Log();
  log.put("k", "v");
  for (const data of [new Uint8Array([9, 1, 2]), new Uint8Array(), new Uint8Array([3, 0])]) {
    assertThrows(
      () => log.sm.apply({ index: 2, term: 1, type: "normal", data }),
      InvalidCommandError,
    );
    assertEquals([log.sm.appliedIndex, log.value("k")], [1, "v"]);
  }
  // A legacy put (op 1) at the same index still applies.
  const legacy = new Uint8Array([1, 0, 0, 0, 1, ...te.encode("k"), ...te.encode("old")]);
  log.sm.apply({ index: 2, term: 1, type: "normal", data: legacy });
  assertEquals([log.value("k"), log.version("k")], ["old", formatVersion(PARTITION, 2)]);
});
