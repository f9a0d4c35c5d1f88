import { assert, assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ManualClock } from "../runtime/clock.ts";
import type { AnswerItem, DurableItem, WriteItem } from "../rpc/peer_item.ts";
import {
  ForwardedCallSchema,
  type ForwardedResultSchema,
  ForwardedResultSchema as ResultSchema,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { StreamedAnswerSchema, StreamedWriteSchema } from "../rpc/gen/prkdb/v1/raft_pb.ts";
import { StreamedWrites, WriteNotSentError } from "./streamed_writes.ts";
import { isUnreachable } from "./forwarding.ts";
import type { ServeStreamed } from "./kv_service.ts";

const te = new TextEncoder();
const put = (key: string): MessageInitShape<typeof ForwardedCallSchema> => ({
  call: { case: "put", value: { key: te.encode(key), value: te.encode("v") } },
});
/** A leader's answer to `write`, as its batch carries it: the put applied at `index`. */
const answerFor = (write: { id: number; incarnation: number }, index: number) =>
  create(StreamedAnswerSchema, {
    id: write.id,
    incarnation: write.incarnation,
    result: { result: { case: "put", value: { ok: true, index: BigInt(index) } } },
  });

/** A link that records what is sent; peers in `serving` take writes. */
function fakeLink(serving = new Set([2])) {
  const writes: { to: number; item: WriteItem }[] = [];
  const answers: { to: number; item: AnswerItem }[] = [];
  const durables: { to: number; item: DurableItem }[] = [];
  return {
    writes,
    answers,
    durables,
    link: {
      servesWrites: (to: number) => serving.has(to),
      sendWrite: (to: number, item: WriteItem) => void writes.push({ to, item }),
      sendAnswer: (to: number, item: AnswerItem) => void answers.push({ to, item }),
      sendDurable: (to: number, item: DurableItem) => void durables.push({ to, item }),
    },
  };
}

Deno.test("StreamedWrites: a peer that does not serve writes on its stream is left to Forward calls", () => {
  const { link, writes } = fakeLink(new Set());
  const sw = new StreamedWrites({ link, clock: new ManualClock() });
  assertEquals(sw.send(2, put("k"), new AbortController().signal), undefined);
  assertEquals(writes.length, 0);
});

Deno.test("StreamedWrites: a write is answered by its id, only from the node it was sent to", async () => {
  const { link, writes } = fakeLink(new Set([2, 3]));
  const sw = new StreamedWrites({ link, clock: new ManualClock() });
  const signal = new AbortController().signal;
  const a = sw.send(2, put("a"), signal)!;
  const b = sw.send(3, put("b"), signal)!;
  assertEquals(writes.map((w) => w.to), [2, 3]);
  const [wa, wb] = writes.map((w) => w.item.write);
  assert(wa.id !== 0 && wb.id !== 0 && wa.id !== wb.id, "distinct ids, never 0");
  assertEquals(wa.timeoutMs, 2000);
  assertEquals(fromBinary(ForwardedCallSchema, wa.call).call.case, "put");
  // Node 3 cannot answer a write sent to node 2, nor can an unknown id settle anything.
  sw.answered(3, [answerFor(wa, 1)]);
  sw.answered(2, [answerFor({ ...wa, id: 999_999 }, 1)]);
  assertEquals(sw.waiting, 2);
  sw.answered(3, [answerFor(wb, 8)]);
  sw.answered(2, [answerFor(wa, 7)]);
  const [ra, rb] = await Promise.all([a, b]);
  assertEquals(ra.result.case === "put" && ra.result.value.index, 7n);
  assertEquals(rb.result.case === "put" && rb.result.value.index, 8n);
  assertEquals(sw.waiting, 0);
});

Deno.test("StreamedWrites: an answer meant for an earlier run of the sender settles none of its new writes", async () => {
  // Two runs of one node, as before and after a restart: both number their writes from 1.
  const before = fakeLink();
  const after = fakeLink();
  const earlier = new StreamedWrites({ link: before.link, clock: new ManualClock() });
  const now = new StreamedWrites({ link: after.link, clock: new ManualClock() });
  const signal = new AbortController().signal;
  void earlier.send(2, put("old"), signal)!.catch(() => {});
  const answer = now.send(2, put("new"), signal)!;
  const old = before.writes[0].item.write;
  const fresh = after.writes[0].item.write;
  assertEquals(old.id, fresh.id, "the same number in both runs");
  assert(old.incarnation !== fresh.incarnation, "but not the same run");
  // The leader's answer to the earlier run's write reaches the new run: it is not taken.
  now.answered(2, [answerFor(old, 1)]);
  assertEquals(now.waiting, 1);
  now.answered(2, [answerFor(fresh, 2)]);
  const r = await answer;
  assertEquals(r.result.case === "put" && r.result.value.index, 2n);
  earlier.answered(2, [answerFor(old, 1)]);
});

Deno.test("StreamedWrites: a write the stream could not take fails as never sent, which callers may retry", async () => {
  const { link, writes } = fakeLink();
  const sw = new StreamedWrites({ link, clock: new ManualClock() });
  const signal = new AbortController().signal;
  const answer = sw.send(2, put("k"), signal)!;
  writes[0].item.dropped(new Error("connection refused"));
  const error = await assertRejects(() => answer, ConnectError);
  assertEquals(error.code, Code.Unavailable);
  assertInstanceOf(error.cause, WriteNotSentError);
  assert(isUnreachable(error, signal), "taken for a leader that never got the write");
  assertEquals(sw.waiting, 0);
});

Deno.test("StreamedWrites: no answer within the time limit fails as deadline_exceeded with no answer's metadata", async () => {
  const clock = new ManualClock();
  const { link, writes } = fakeLink();
  const sw = new StreamedWrites({ link, clock, timeoutMs: 500 });
  const signal = new AbortController().signal;
  const answer = sw.send(2, put("k"), signal)!;
  clock.advance(499);
  assertEquals(sw.waiting, 1);
  clock.advance(1);
  const error = await assertRejects(() => answer, ConnectError);
  assertEquals(error.code, Code.DeadlineExceeded);
  assertEquals([...error.metadata.keys()], []);
  // An answer that comes later, or a late report that the write was dropped, changes nothing.
  sw.answered(2, [answerFor(writes[0].item.write, 1)]);
  writes[0].item.dropped(new Error("late"));
  assertEquals(sw.waiting, 0);
});

Deno.test("StreamedWrites: a caller that gives up stops waiting at once", async () => {
  const { link } = fakeLink();
  const sw = new StreamedWrites({ link, clock: new ManualClock() });
  const abort = new AbortController();
  const answer = sw.send(2, put("k"), abort.signal)!;
  abort.abort(new Error("client went away"));
  await assertRejects(() => answer, Error, "client went away");
  assertEquals(sw.waiting, 0);
});

Deno.test("StreamedWrites: the leader answers each write as soon as it is done, and refuses writes past its limit", () => {
  const { link, answers } = fakeLink();
  const clock = new ManualClock();
  const sw = new StreamedWrites({ link, clock, maxServing: 3 });
  const done: (() => void)[] = [];
  let served: { from: number; keys: string[]; timeoutMs: number } | undefined;
  const signals: AbortSignal[] = [];
  const serve: ServeStreamed = (from, calls, signal, remainingMs, answer) => {
    signals.push(signal);
    served = {
      from,
      timeoutMs: remainingMs(),
      keys: calls.map((c) =>
        new TextDecoder().decode((c.call!.call.value as { key: Uint8Array }).key)
      ),
    };
    const result: MessageInitShape<typeof ForwardedResultSchema> = {
      result: { case: "put", value: { ok: true } },
    };
    calls.forEach((_, i) => done.push(() => answer(i, result)));
  };
  const writes = ["a", "b", "c", "d"].map((key, i) =>
    create(StreamedWriteSchema, {
      id: 10 + i,
      incarnation: 77,
      timeoutMs: i === 1 ? 900 : 2000,
      call: create(ForwardedCallSchema, put(key)),
    })
  );
  sw.serve(1, writes, serve);
  // The batch is served until a margin before its shortest time limit.
  assertEquals(served, { from: 1, keys: ["a", "b", "c"], timeoutMs: 810 });
  // The fourth is over the limit: answered at once, unapplied.
  assertEquals(answers.length, 1);
  const refused = fromBinary(ResultSchema, answers[0].item.answer.result);
  assertEquals(answers[0].item.answer.id, 13);
  assertEquals(answers[0].item.answer.incarnation, 77, "the sender's run, echoed");
  assertEquals(
    refused.result.case === "error" && refused.result.value.code,
    Code.ResourceExhausted,
  );
  // Answers leave in the order the writes finish, each on its own.
  done[2]();
  done[0]();
  assertEquals(answers.slice(1).map((a) => [a.to, a.item.answer.id]), [[1, 12], [1, 10]]);
  // Room again: a new write is served.
  served = undefined;
  sw.serve(1, [writes[3]], serve);
  assertEquals(served!.keys, ["d"]);
  done[3]();
  // At the first batch's limit, the write still in service is stopped; the second batch, all
  // answered, has no deadline left.
  clock.advance(810);
  assertEquals(signals.map((x) => x.aborted), [true, false]);
  assertEquals((signals[0].reason as DOMException).name, "TimeoutError");
  clock.advance(2000);
  assertEquals(signals[1].aborted, false);
  done[1]();
  assertEquals(answers.length, 5);
  assertEquals(
    fromBinary(ResultSchema, answers.at(-1)!.item.answer.result).result.case,
    "put",
  );
  // An encoded answer reads back as the generated code wrote it.
  assertEquals(
    answers.at(-1)!.item.answer.result,
    toBinary(ResultSchema, create(ResultSchema, { result: { case: "put", value: { ok: true } } })),
  );
});

Deno.test("StreamedWrites: a put passed on is answered once the leader's notice and this node's own copy agree", async () => {
  const { link, writes } = fakeLink(new Set([2, 3]));
  const waits: { partition: number; index: number; term: number; durable: () => void }[] = [];
  let stopped = 0;
  const sw = new StreamedWrites({
    link,
    clock: new ManualClock(),
    awaitDurable: (partition, index, term, durable) => {
      waits.push({ partition, index, term, durable });
      return () => stopped++;
    },
  });
  const signal = new AbortController().signal;
  const early = sw.send(2, put("a"), signal, 5)!;
  const noPartition = sw.send(2, put("b"), signal)!;
  const del = sw.send(2, { call: { case: "delete", value: { key: te.encode("c") } } }, signal, 5)!;
  const [wa, wb, wc] = writes.map((w) => w.item.write);
  assertEquals([wa.durableNotice, wb.durableNotice, wc.durableNotice], [true, false, false]);
  const notice = (w: typeof wa, from = 2, incarnation = w.incarnation, partition = 5) =>
    sw.durable(from, [{ id: w.id, incarnation, partition, index: 41, term: 3 }]);
  // Only the leader the put went to, in this run of this node, in the put's partition as this
  // node maps it, for a put that asked for it.
  notice(wa, 3);
  notice(wa, 2, wa.incarnation + 1);
  notice(wa, 2, wa.incarnation, 4);
  notice(wb);
  notice(wc);
  assertEquals(waits.length, 0);
  notice(wa);
  notice(wa); // a duplicate notice does not wait twice
  assertEquals(waits.map(({ partition, index, term }) => ({ partition, index, term })), [
    { partition: 5, index: 41, term: 3 },
  ]);
  waits[0].durable();
  const r = await early;
  assertEquals(r.result.case, "put");
  const value = r.result.value as {
    partition: number;
    index: bigint;
    ok: boolean;
    version: string;
  };
  assertEquals(value, {
    ...value,
    partition: 5,
    index: 41n,
    ok: true,
    version: "00050000000000000029",
  });
  // The leader's own answer, arriving later, finds nothing waiting.
  sw.answered(2, [answerFor(wa, 41)]);
  sw.answered(2, [answerFor(wb, 42), answerFor(wc, 43)]);
  await Promise.all([noPartition, del]);
  assertEquals(sw.waiting, 0);
});

Deno.test("StreamedWrites: a put answered by its leader first stops waiting for its own copy", async () => {
  const { link, writes } = fakeLink();
  let stopped = 0;
  const sw = new StreamedWrites({
    link,
    clock: new ManualClock(),
    awaitDurable: () => () => stopped++,
  });
  const answer = sw.send(2, put("a"), new AbortController().signal, 0)!;
  const w = writes[0].item.write;
  sw.durable(2, [{ id: w.id, incarnation: w.incarnation, partition: 0, index: 9, term: 1 }]);
  sw.answered(2, [answerFor(w, 9)]);
  await answer;
  assertEquals(stopped, 1);
});

Deno.test("StreamedWrites: the leader sends a durable notice for a write that asked for one", () => {
  const { link, durables } = fakeLink();
  const sw = new StreamedWrites({ link, clock: new ManualClock() });
  const writes = [true, false].map((durableNotice, i) =>
    create(StreamedWriteSchema, {
      id: 20 + i,
      incarnation: 5,
      call: create(ForwardedCallSchema, put(`k${i}`)),
      durableNotice,
    })
  );
  let asked: boolean[] = [];
  const serve: ServeStreamed = (_from, calls, _signal, _remainingMs, _answer, durable) => {
    asked = calls.map((c) => c.durableNotice === true);
    durable(0, 6, 17, 2);
  };
  sw.serve(4, writes, serve);
  assertEquals(asked, [true, false]);
  assertEquals(durables, [{
    to: 4,
    item: { durable: { id: 20, incarnation: 5, partition: 6, index: 17, term: 2 } },
  }]);
});
