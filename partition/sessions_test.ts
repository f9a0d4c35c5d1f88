import { assertEquals, assertThrows } from "@std/assert";
import { MAX_RESULTS_PER_SESSION, SessionTable, type WriteOutcome } from "./sessions.ts";

const ok = (index: number, ...found: boolean[]): WriteOutcome => ({ kind: "ok", index, found });
const ref = (id: number, seq: number, firstIncomplete = 1) => ({ id, seq, firstIncomplete });
const EXPIRED = { kind: "refuse", outcome: { kind: "sessionExpired" } } as const;

function snapshotOf(table: SessionTable): Uint8Array {
  return table.toBytes();
}

Deno.test("SessionTable: a new write is applied, a duplicate gets the stored outcome", () => {
  const table = new SessionTable();
  table.open(7, 1000, 60_000);
  assertEquals(table.size, 1);
  assertEquals(table.admit(ref(7, 1), 1001), { kind: "apply" });
  table.record(ref(7, 1), ok(8, true));
  assertEquals(table.admit(ref(7, 2), 1002), { kind: "apply" });
  table.record(ref(7, 2), { kind: "checkFailed", check: 1 });
  // Retries, in any order, get what the first application did.
  assertEquals(table.admit(ref(7, 2), 1003), {
    kind: "duplicate",
    outcome: { kind: "checkFailed", check: 1 },
  });
  assertEquals(table.admit(ref(7, 1), 1004), { kind: "duplicate", outcome: ok(8, true) });
  assertEquals(table.admit(ref(7, 3), 1005), { kind: "apply" });
});

Deno.test("SessionTable: an unknown session is refused as expired", () => {
  const table = new SessionTable();
  assertEquals(table.admit(ref(3, 1), 0), EXPIRED);
  table.open(7, 0, 60_000);
  assertEquals(table.admit(ref(8, 1), 0).kind, "refuse");
  table.record(ref(8, 1), ok(9)); // a record for an unknown session is ignored
  assertEquals(table.size, 1);
});

Deno.test("SessionTable: a request below firstIncomplete is stale once its result is gone", () => {
  const table = new SessionTable();
  table.open(1, 0, 60_000);
  table.admit(ref(1, 1, 1), 1);
  table.record(ref(1, 1), ok(2, false));
  // The client still waits for seq 1: its result is kept.
  table.admit(ref(1, 2, 1), 2);
  table.record(ref(1, 2), ok(3, false));
  assertEquals(table.admit(ref(1, 1, 1), 3), { kind: "duplicate", outcome: ok(2, false) });
  // The client has seq 1's result (firstIncomplete 2): it is forgotten, and a late copy of the
  // write is refused rather than applied a second time.
  assertEquals(table.admit(ref(1, 3, 2), 4), { kind: "apply" });
  table.record(ref(1, 3), ok(5, true));
  assertEquals(table.admit(ref(1, 1, 1), 5), {
    kind: "refuse",
    outcome: { kind: "staleRequest" },
  });
  // A later request carrying an older firstIncomplete does not bring it back.
  assertEquals(table.admit(ref(1, 2, 1), 6), { kind: "duplicate", outcome: ok(3, false) });
  assertEquals(table.admit(ref(1, 1, 1), 7).kind, "refuse");
});

Deno.test("SessionTable: sessions expire by log time, never by the wall clock", () => {
  const table = new SessionTable();
  table.open(1, 0, 1000);
  table.open(2, 0, 1000);
  // Idle for exactly the timeout is not yet expired; being used makes it active again.
  assertEquals(table.admit(ref(1, 1), 1000), { kind: "apply" });
  table.advance(2000); // session 2 has idled 2000 ms: the sweep removes it
  assertEquals([table.now, table.size], [2000, 1]);
  table.advance(2001); // session 1 has now idled 1001 ms
  assertEquals(table.admit(ref(1, 2), 2001), EXPIRED);
  assertEquals(table.size, 0);
});

Deno.test("SessionTable: the clock never goes backwards", () => {
  const table = new SessionTable();
  table.open(1, 5000, 1000);
  table.advance(10);
  assertEquals(table.now, 5000);
  // A command proposed with an older clock (a new leader whose clock lags) still counts as now.
  assertEquals(table.admit(ref(1, 1), 10), { kind: "apply" });
  table.advance(6000);
  assertEquals(table.size, 1);
});

Deno.test("SessionTable: an idle session is refused even before a sweep removes it", () => {
  const table = new SessionTable();
  table.open(1, 0, 100);
  table.advance(150); // sweeps run once a second of log time
  assertEquals(table.size, 1);
  assertEquals(table.admit(ref(1, 1), 150), EXPIRED);
  assertEquals(table.size, 0);
});

Deno.test("SessionTable: two tables fed the same times expire the same sessions at the same point", () => {
  const a = new SessionTable();
  const b = new SessionTable();
  let seed = 42;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const opened: number[] = [];
  let time = 0;
  let expiredSeen = 0;
  for (let step = 1; step <= 500; step++) {
    time += next(700);
    const action = next(3);
    const id = action === 0 ? step : opened[next(opened.length || 1)] ?? 1;
    if (action === 0) opened.push(id);
    const timeoutMs = 500 + next(20) * 100;
    const seq = 1 + next(5);
    const verdicts = [a, b].map((table) => {
      if (action === 0) table.open(id, time, timeoutMs);
      else if (action === 1) table.advance(time);
      else {
        const verdict = table.admit(ref(id, seq), time);
        if (verdict.kind === "apply") table.record(ref(id, seq), ok(step));
        return verdict;
      }
      return undefined;
    });
    if (verdicts[0]?.kind === "refuse") expiredSeen++;
    assertEquals(verdicts[0], verdicts[1], `step ${step}`);
    assertEquals(a.size, b.size, `step ${step}`);
    assertEquals(snapshotOf(a), snapshotOf(b), `step ${step}`);
  }
  assertEquals(expiredSeen > 0, true, "the script should make some sessions expire");
});

Deno.test("SessionTable: past MAX_RESULTS_PER_SESSION the oldest is forgotten, then refused", () => {
  const table = new SessionTable();
  table.open(1, 0, 60_000);
  for (let seq = 1; seq <= MAX_RESULTS_PER_SESSION + 1; seq++) {
    // A client that never reports progress (firstIncomplete stays 1).
    assertEquals(table.admit(ref(1, seq, 1), seq).kind, "apply");
    table.record(ref(1, seq), ok(seq + 1));
  }
  assertEquals(table.admit(ref(1, 1, 1), 5000), {
    kind: "refuse",
    outcome: { kind: "staleRequest" },
  });
  assertEquals(table.admit(ref(1, 2, 1), 5001), { kind: "duplicate", outcome: ok(3) });
  assertEquals(table.admit(ref(1, MAX_RESULTS_PER_SESSION + 1, 1), 5002), {
    kind: "duplicate",
    outcome: ok(MAX_RESULTS_PER_SESSION + 2),
  });
});

Deno.test("SessionTable: a snapshot restores sessions, results and the clock", () => {
  const table = new SessionTable();
  table.open(3, 1000, 60_000);
  table.open(9, 1500, 5_000);
  const outcomes: WriteOutcome[] = [
    ok(10, true, false),
    { kind: "checkFailed", check: 2 },
    { kind: "sessionExpired" },
    { kind: "staleRequest" },
    ok(2 ** 40),
  ];
  outcomes.forEach((o, i) => {
    table.admit(ref(3, i + 1), 2000 + i);
    table.record(ref(3, i + 1), o);
  });
  table.admit(ref(9, 4, 4), 2100);
  table.record(ref(9, 4), ok(11, false));

  const bytes = snapshotOf(table);
  const now = table.now;
  const restored = new SessionTable();
  restored.open(77, 0, 10); // replaced, not merged
  restored.fromBytes(bytes);
  assertEquals([restored.now, restored.size], [now, 2]);
  assertEquals(snapshotOf(restored), bytes);
  outcomes.forEach((o, i) => {
    assertEquals(restored.admit(ref(3, i + 1), 3000), { kind: "duplicate", outcome: o });
  });
  assertEquals(restored.admit(ref(9, 3, 3), 3000), {
    kind: "refuse",
    outcome: { kind: "staleRequest" },
  }); // below session 9's firstIncomplete, 4
  assertEquals(restored.admit(ref(77, 1), 3000), EXPIRED);

  // Session 9 idles out at the same log time as in the original table.
  const copy = new SessionTable();
  copy.fromBytes(bytes);
  for (const t of [table, copy]) t.advance(2100 + 5_000);
  assertEquals([table.size, copy.size], [2, 2]);
  for (const t of [table, copy]) t.advance(2100 + 5_001 + 1000);
  assertEquals([table.size, copy.size], [1, 1]);
  assertEquals(snapshotOf(copy), snapshotOf(table));
});

Deno.test("SessionTable: damaged snapshot bytes are refused and the table is untouched", () => {
  const table = new SessionTable();
  table.open(3, 1000, 60_000);
  table.admit(ref(3, 1), 1000);
  table.record(ref(3, 1), ok(4));
  const bytes = snapshotOf(table);
  const kindAt = bytes.length - 13; // seq (8) | kind (1) | index (8)... of the only result
  const target = new SessionTable();
  target.open(5, 0, 60_000);
  const before = snapshotOf(target);
  const damaged = bytes.slice();
  assertEquals(damaged[kindAt], 1); // "ok"
  damaged[kindAt] = 9;
  assertThrows(() => target.fromBytes(damaged), RangeError, "result kind 9");
  assertThrows(() => target.fromBytes(bytes.subarray(0, bytes.length - 1)));
  assertEquals(snapshotOf(target), before);
});
