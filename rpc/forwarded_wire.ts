/**
 * Writes passed on to a leader (`ForwardedCall` in kv.proto) and the leader's answers
 * (`ForwardedResult`), written by hand for the shapes nearly every one of them has: a put or a
 * delete, and its result or error ([forwarded_read.ts](./forwarded_read.ts) is the reading half).
 * Two thirds of the puts a three-node cluster serves are passed on, and each costs a call and a
 * result written and read once; the generated code's reflective walk over the schema was most of
 * what passing a write on cost in JavaScript.
 *
 * Everything else goes to the generated code: an atomic write, the opening of a session, a number
 * of 2^53 or more, a string that is not plain ASCII (and, when reading, a field the reader does not
 * know or sees twice, or bytes it cannot read). So the hand-written path writes byte for byte what
 * the generated writer writes, and reads exactly what the generated reader reads; tests compare
 * both on random and damaged messages.
 *
 * @module
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  ForwardedCallSchema,
  ForwardedResultSchema,
  type SessionSchema,
} from "./gen/prkdb/v1/kv_pb.ts";
import { LEN, VARINT } from "./wire_cursor.ts";

/** A call's or a result's shape that the hand-written path leaves to the generated code. */
class NotPlain {}
const NOT_PLAIN = new NotPlain();

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Writes `v` as a varint at `at` (the room must be there); returns where it ends. */
function putVarint(buf: Uint8Array, at: number, v: number): number {
  while (v > 127) {
    buf[at++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[at++] = v;
  return at;
}

/** A growing buffer; one per module, copied out at the end of each message. */
class Writer {
  buf = new Uint8Array(1024);
  pos = 0;

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
  }

  varint(v: number): void {
    this.room(10);
    this.pos = putVarint(this.buf, this.pos, v);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A uint32 field (omitted at 0). */
  uint32(field: number, v: unknown): void {
    if (v === undefined || v === 0) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw NOT_PLAIN;
    this.tag(field, VARINT);
    this.varint(v);
  }

  /** A uint64 field (omitted at 0); the generated code takes what is beyond 2^53. */
  uint64(field: number, v: unknown): void {
    if (v === undefined || v === 0n) return;
    if (typeof v !== "bigint" || v < 0n || v > MAX_SAFE) throw NOT_PLAIN;
    this.tag(field, VARINT);
    this.varint(Number(v));
  }

  bool(field: number, v: unknown): void {
    if (v === undefined || v === false) return;
    if (v !== true) throw NOT_PLAIN;
    this.tag(field, VARINT);
    this.buf[this.pos++] = 1;
  }

  /** A bytes field: omitted when empty, unless the field has presence (`always`). */
  bytes(field: number, v: unknown, always = false): void {
    if (v === undefined) return;
    if (!(v instanceof Uint8Array)) throw NOT_PLAIN;
    if (v.length === 0 && !always) return;
    this.tag(field, LEN);
    this.varint(v.length);
    this.room(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** A string field of plain ASCII (others go to the generated writer). */
  string(field: number, v: unknown, always = false): void {
    if (v === undefined) return;
    if (typeof v !== "string") throw NOT_PLAIN;
    if (v.length === 0 && !always) return;
    this.tag(field, LEN);
    this.varint(v.length);
    this.room(v.length);
    for (let i = 0; i < v.length; i++) {
      const code = v.charCodeAt(i);
      if (code > 0x7f) throw NOT_PLAIN;
      this.buf[this.pos++] = code;
    }
  }

  /** A nested message, written by `body`; its length goes in front of it afterwards. */
  message(field: number, body: () => void): void {
    this.tag(field, LEN);
    // Room for a one-byte length; a longer one moves the body along.
    this.room(1);
    const at = this.pos++;
    body();
    const length = this.pos - at - 1;
    let size = 1;
    for (let v = length; v > 127; v = Math.floor(v / 128)) size++;
    if (size > 1) {
      this.room(size - 1);
      this.buf.copyWithin(at + size, at + 1, this.pos);
    }
    // The room is there already: write the length without asking for more.
    this.pos = putVarint(this.buf, at, length) + length;
  }

  /** The bytes written, copied out; the buffer is reused. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}

const writer = new Writer();

/** Field numbers of the calls and results written and read by hand (kv.proto's oneofs). */
export const FORWARDED_FIELD = { put: 1, delete: 2, error: 3 } as const;
const { put: PUT, delete: DELETE, error: ERROR } = FORWARDED_FIELD;

type CallInit = MessageInitShape<typeof ForwardedCallSchema>;
type ResultInit = MessageInitShape<typeof ForwardedResultSchema>;

/**
 * Leaves a message with fields its reader did not know (kept by the generated code, which
 * writes them back out) to the generated writer: a field a newer client sent must reach the
 * leader through a node that does not know it.
 */
function known(m: object | undefined): void {
  if ((m as { $unknown?: readonly unknown[] } | undefined)?.$unknown?.length) throw NOT_PLAIN;
}

function session(s: MessageInitShape<typeof SessionSchema>): void {
  known(s);
  writer.uint64(1, s.id);
  writer.uint64(2, s.seq);
  writer.uint64(3, s.firstIncomplete);
}

function writeCall(call: CallInit["call"]): void {
  if (call?.case === "put") {
    const p = call.value;
    known(p);
    writer.message(PUT, () => {
      writer.bytes(1, p.key);
      writer.bytes(2, p.value);
      if (p.session) writer.message(3, () => session(p.session!));
      writer.string(4, p.ifVersion, true);
      writer.uint64(5, p.expireInMs);
    });
  } else if (call?.case === "delete") {
    const d = call.value;
    known(d);
    writer.message(DELETE, () => {
      writer.bytes(1, d.key);
      if (d.session) writer.message(2, () => session(d.session!));
      writer.string(3, d.ifVersion, true);
    });
  } else throw NOT_PLAIN;
}

function writeResult(result: ResultInit["result"]): void {
  if (result?.case === "put") {
    const p = result.value;
    known(p);
    writer.message(PUT, () => {
      writer.uint32(1, p.partition);
      writer.uint64(2, p.index);
      writer.bool(3, p.ok);
      writer.string(4, p.version);
    });
  } else if (result?.case === "delete") {
    const d = result.value;
    known(d);
    writer.message(DELETE, () => {
      writer.bool(1, d.found);
      writer.bool(2, d.ok);
      writer.uint32(3, d.partition);
      writer.uint64(4, d.index);
    });
  } else if (result?.case === "error") {
    const e = result.value;
    known(e);
    writer.message(ERROR, () => {
      writer.uint32(1, e.code);
      writer.string(2, e.message);
      writer.string(3, e.kind);
    });
  } else throw NOT_PLAIN;
}

/** Runs a hand-written writer, or the generated one for what it leaves. */
function written(write: () => void, generated: () => Uint8Array): Uint8Array {
  try {
    write();
    return writer.take();
  } catch (error) {
    writer.pos = 0;
    if (error !== NOT_PLAIN) throw error;
    return generated();
  }
}

/**
 * Encodes a write passed on to a leader.
 *
 * @param call The call, as the generated types build it.
 * @returns Its bytes, the same as the generated writer's.
 *
 * @example Usage
 * ```ts
 * import { encodeForwardedCall } from "./forwarded_wire.ts";
 * import { readForwardedCall } from "./forwarded_read.ts";
 * const bytes = encodeForwardedCall({
 *   call: { case: "put", value: { key: new Uint8Array([1]), value: new Uint8Array([2]) } },
 * });
 * console.log(readForwardedCall(bytes).call.case); // put
 * ```
 */
export function encodeForwardedCall(call: CallInit): Uint8Array {
  return written(
    () => {
      known(call);
      writeCall(call.call);
    },
    () => toBinary(ForwardedCallSchema, create(ForwardedCallSchema, call)),
  );
}

/**
 * Encodes a leader's answer to a write passed on to it.
 *
 * @param result The result, as the generated types build it.
 * @returns Its bytes, the same as the generated writer's.
 *
 * @example Usage
 * ```ts
 * import { encodeForwardedResult } from "./forwarded_wire.ts";
 * import { readForwardedResult } from "./forwarded_read.ts";
 * const bytes = encodeForwardedResult({
 *   result: { case: "put", value: { ok: true, partition: 3, index: 9n, version: "3.9" } },
 * });
 * console.log(readForwardedResult(bytes).result.case); // put
 * ```
 */
export function encodeForwardedResult(result: ResultInit): Uint8Array {
  return written(
    () => {
      known(result);
      writeResult(result.result);
    },
    () => toBinary(ForwardedResultSchema, create(ForwardedResultSchema, result)),
  );
}
