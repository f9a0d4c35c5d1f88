import { assertEquals, assertThrows } from "@std/assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { SeededRandom } from "../raft/mod.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import { RaftBatchSchema } from "./gen/prkdb/v1/raft_pb.ts";
import {
  type ForwardedCall,
  ForwardedCallSchema,
  type ForwardedResult,
  ForwardedResultSchema,
} from "./gen/prkdb/v1/kv_pb.ts";
import { randomCall, randomMessage, randomResult } from "../tests/support/random_raft.ts";
import type { AnswerItem, PeerItem, WriteItem } from "./peer_item.ts";
import { decodeRaftMessage, encodeRaftMessage } from "./raft_codec.ts";
import { encodeRaftBatch } from "./raft_wire.ts";

/** The generated code's encoding, the reference. */
function reference(
  from: number,
  cluster: string,
  messages: PartitionMessage[],
  leading?: Uint8Array,
) {
  return toBinary(
    RaftBatchSchema,
    create(RaftBatchSchema, {
      from,
      cluster,
      messages: messages.map((m) => encodeRaftMessage(m.partition, m.message)),
      leading,
    }),
  );
}

Deno.test("encodeRaftBatch writes exactly the generated code's bytes, for every kind of message", () => {
  const rng = new SeededRandom(7);
  for (let round = 0; round < 300; round++) {
    const messages = Array.from({ length: rng.nextInt(12) }, (_, i) => ({
      partition: rng.nextInt(3) === 0 ? 0 : rng.nextInt(5000),
      message: randomMessage(rng, round + i),
    }));
    const cluster = round % 5 === 0 ? "" : `cluster-${rng.nextInt(1e6)}`;
    const leading = round % 3 === 0 ? new Uint8Array([rng.nextInt(256), 0, 1]) : undefined;
    const from = rng.nextInt(4) === 0 ? 0 : 1 + rng.nextInt(70000);
    const ours = encodeRaftBatch(from, new TextEncoder().encode(cluster), messages, leading);
    assertEquals(ours, reference(from, cluster, messages, leading), `round ${round}`);
    // And it reads back as the same messages (all but the deliberately invalid empty memberships).
    const valid = messages.every(({ message: m }) =>
      m.type !== "InstallSnapshot" || !m.membership || m.membership.voters.length > 0
    );
    if (!valid) continue;
    const back = fromBinary(RaftBatchSchema, ours).messages.map(decodeRaftMessage);
    assertEquals(back, messages);
  }
});

Deno.test("encodeRaftBatch writes writes passed on, their answers and durable notices as the generated code does, whatever the order of items", () => {
  const rng = new SeededRandom(11);
  // Up to the largest 32-bit number: a varint of five bytes.
  const id = () => rng.nextInt(4) === 0 ? 0xffff_ffff : 1 + rng.nextInt(0xffff_fffe);
  for (let round = 0; round < 200; round++) {
    const items: PeerItem[] = [];
    const messages: PartitionMessage[] = [];
    const writes: {
      id: number;
      timeoutMs: number;
      call: ForwardedCall;
      incarnation: number;
      durableNotice: boolean;
    }[] = [];
    const durable: {
      id: number;
      incarnation: number;
      partition: number;
      index: number;
      term: number;
    }[] = [];
    const answers: { id: number; result: ForwardedResult; incarnation: number }[] = [];
    for (let i = rng.nextInt(10); i > 0; i--) {
      const kind = rng.nextInt(4);
      if (kind === 0) {
        const m = { partition: rng.nextInt(64), message: randomMessage(rng, round + i) };
        messages.push(m);
        items.push(m);
      } else if (kind === 1) {
        const w = {
          id: id(),
          incarnation: rng.nextInt(5) === 0 ? 0 : id(), // 0: left out, as older senders send
          timeoutMs: rng.nextInt(3) === 0 ? 0 : rng.nextInt(60_000),
          call: randomCall(rng),
          durableNotice: rng.nextInt(2) === 0,
        };
        writes.push(w);
        const item: WriteItem = {
          write: { ...w, call: toBinary(ForwardedCallSchema, w.call) },
          dropped: () => {},
        };
        items.push(item);
      } else if (kind === 3) {
        const d = {
          id: id(),
          incarnation: id(),
          partition: rng.nextInt(3) === 0 ? 0 : rng.nextInt(5000),
          index: rng.nextInt(4) === 0 ? Number.MAX_SAFE_INTEGER : rng.nextInt(1e9),
          term: rng.nextInt(1000),
        };
        durable.push(d);
        items.push({ durable: d });
      } else {
        const a = { id: id(), result: randomResult(rng), incarnation: id() };
        answers.push(a);
        const item: AnswerItem = {
          answer: { ...a, result: toBinary(ForwardedResultSchema, a.result) },
        };
        items.push(item);
      }
    }
    const leading = round % 4 === 0 ? new Uint8Array([rng.nextInt(256), 1]) : undefined;
    const ours = encodeRaftBatch(2, new TextEncoder().encode("c"), items, leading);
    const theirs = toBinary(
      RaftBatchSchema,
      create(RaftBatchSchema, {
        from: 2,
        cluster: "c",
        messages: messages.map((m) => encodeRaftMessage(m.partition, m.message)),
        leading,
        writes,
        answers,
        durable: durable.map((d) => ({ ...d, index: BigInt(d.index), term: BigInt(d.term) })),
      }),
    );
    assertEquals(ours, theirs, `round ${round}`);
    const back = fromBinary(RaftBatchSchema, ours);
    assertEquals(back.writes.map((w) => w.id), writes.map((w) => w.id));
    assertEquals(back.answers.map((a) => a.result), answers.map((a) => a.result));
  }
});

Deno.test("encodeRaftBatch: a ping (no messages) and an empty batch", () => {
  const cluster = new TextEncoder().encode("c");
  assertEquals(
    encodeRaftBatch(3, cluster, [], new Uint8Array([5])),
    reference(3, "c", [], new Uint8Array([5])),
  );
  assertEquals(encodeRaftBatch(0, new Uint8Array(), []), reference(0, "", []));
});

Deno.test("encodeRaftBatch refuses a number the wire cannot hold, before writing anything", () => {
  const cluster = new TextEncoder().encode("c");
  for (const term of [-1, 0.5, 2 ** 53, NaN]) {
    assertThrows(
      () =>
        encodeRaftBatch(1, cluster, [{
          partition: 0,
          message: { type: "HeartbeatResponse", from: 1, to: 2, term, readRound: 0 },
        }]),
      RangeError,
      "cannot be written as an unsigned varint",
    );
  }
});
