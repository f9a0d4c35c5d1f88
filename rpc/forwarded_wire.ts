/**
 * Writes passed on to a leader (`ForwardedCall` in kv.proto) and the leader's answers
 * (`ForwardedResult`), read and written by hand for the shapes nearly every one of them has: a
 * put or a delete, and its result or error. Two thirds of the puts a three-node cluster serves
 * are passed on, and each costs a call and a result written and read once; the generated code's
 * reflective walk over the schema was most of what passing a write on cost in JavaScript.
 *
 * Everything else goes to the generated code: an atomic write, the opening of a session, a field
 * this reader does not know or sees twice, a number of 2^53 or more, a string that is not plain
 * ASCII, bytes it cannot read. So the hand-written path reads exactly what the generated reader
 * reads, and writes byte for byte what the generated writer writes; tests compare both on random
 * and damaged messages.
 *
 * @module
 */
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  type DeleteRequest,
  type DeleteResponse,
  type ForwardedCall,
  ForwardedCallSchema,
  type ForwardedResult,
  ForwardedResultSchema,
  type ForwardError,
  type PutRequest,
  type PutResponse,
  type Session,
  type SessionSchema,
} from "./gen/prkdb/v1/kv_pb.ts";
import { Cursor, LEN, VARINT } from "./wire_cursor.ts";

/**
 * How deep the generated reader may still go inside a write's call or an answer's result: they
 * sit two messages deep in a batch, and the generated reader's limit counts from the batch.
 */
const NESTED_LIMIT = { recursionLimit: 98 };

/** A call's or a result's shape that the hand-written path leaves to the generated code. */
class NotPlain {}
const NOT_PLAIN = new NotPlain();

// ---------------------------------------------------------------------------------------------
// Writing

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
    while (v > 127) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
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
    if (typeof v !== "bigint" || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw NOT_PLAIN;
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
    let v = length, i = at;
    while (v > 127) {
      this.buf[i++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[i++] = v;
    this.pos = i + length;
  }

  /** The bytes written, copied out; the buffer is reused. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}

const writer = new Writer();

/** Field numbers of the calls and results this file writes. */
const PUT = 1, DELETE = 2, ERROR = 3;

type CallInit = MessageInitShape<typeof ForwardedCallSchema>;
type ResultInit = MessageInitShape<typeof ForwardedResultSchema>;

function session(s: MessageInitShape<typeof SessionSchema>): void {
  writer.uint64(1, s.id);
  writer.uint64(2, s.seq);
  writer.uint64(3, s.firstIncomplete);
}

function writeCall(call: CallInit["call"]): void {
  if (call?.case === "put") {
    const p = call.value;
    writer.message(PUT, () => {
      writer.bytes(1, p.key);
      writer.bytes(2, p.value);
      if (p.session) writer.message(3, () => session(p.session!));
      writer.string(4, p.ifVersion, true);
      writer.uint64(5, p.expireInMs);
    });
  } else if (call?.case === "delete") {
    const d = call.value;
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
    writer.message(PUT, () => {
      writer.uint32(1, p.partition);
      writer.uint64(2, p.index);
      writer.bool(3, p.ok);
      writer.string(4, p.version);
    });
  } else if (result?.case === "delete") {
    const d = result.value;
    writer.message(DELETE, () => {
      writer.bool(1, d.found);
      writer.bool(2, d.ok);
      writer.uint32(3, d.partition);
      writer.uint64(4, d.index);
    });
  } else if (result?.case === "error") {
    const e = result.value;
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
 * import { encodeForwardedCall, readForwardedCall } from "./forwarded_wire.ts";
 * const bytes = encodeForwardedCall({
 *   call: { case: "put", value: { key: new Uint8Array([1]), value: new Uint8Array([2]) } },
 * });
 * console.log(readForwardedCall(bytes).call.case); // put
 * ```
 */
export function encodeForwardedCall(call: CallInit): Uint8Array {
  return written(
    () => writeCall(call.call),
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
 * import { encodeForwardedResult, readForwardedResult } from "./forwarded_wire.ts";
 * const bytes = encodeForwardedResult({
 *   result: { case: "put", value: { ok: true, partition: 3, index: 9n, version: "3.9" } },
 * });
 * console.log(readForwardedResult(bytes).result.case); // put
 * ```
 */
export function encodeForwardedResult(result: ResultInit): Uint8Array {
  return written(
    () => writeResult(result.result),
    () => toBinary(ForwardedResultSchema, create(ForwardedResultSchema, result)),
  );
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A varint that stays exact as a number. */
function uint(c: Cursor, wire: number): number {
  if (wire !== VARINT) throw NOT_PLAIN;
  const v = c.varint();
  if (v > Number.MAX_SAFE_INTEGER) throw NOT_PLAIN;
  return v;
}

function uint32(c: Cursor, wire: number): number {
  const v = uint(c, wire);
  if (v > 0xffff_ffff) throw NOT_PLAIN;
  return v;
}

function bytesField(c: Cursor, wire: number): Uint8Array {
  if (wire !== LEN) throw NOT_PLAIN;
  return c.bytes();
}

/** A string of plain ASCII (the generated reader decodes the rest). */
function ascii(c: Cursor, wire: number): string {
  const b = bytesField(c, wire);
  for (let i = 0; i < b.length; i++) if (b[i] > 0x7f) throw NOT_PLAIN;
  return b.length === 0 ? "" : String.fromCharCode.apply(null, b as unknown as number[]);
}

/** Reads the fields of a nested message with `field`, each number at most once. */
function fields(c: Cursor, field: (number: number, wire: number) => void): void {
  let seen = 0;
  while (c.pos < c.end) {
    const t = c.tag(), number = t >>> 3;
    // A field given twice is merged by the generated reader; those few go there.
    if (number > 30 || seen & (1 << number)) throw NOT_PLAIN;
    seen |= 1 << number;
    field(number, t & 7);
  }
}

function nested<T>(c: Cursor, wire: number, read: (c: Cursor) => T): T {
  if (wire !== LEN) throw NOT_PLAIN;
  return c.within(read);
}

const NO_BYTES = new Uint8Array(0);

function readSession(c: Cursor): Session {
  const s: Session = { $typeName: "prkdb.v1.Session", id: 0n, seq: 0n, firstIncomplete: 0n };
  fields(c, (n, wire) => {
    if (n === 1) s.id = BigInt(uint(c, wire));
    else if (n === 2) s.seq = BigInt(uint(c, wire));
    else if (n === 3) s.firstIncomplete = BigInt(uint(c, wire));
    else throw NOT_PLAIN;
  });
  return s;
}

function readPut(c: Cursor): PutRequest {
  const p: PutRequest = {
    $typeName: "prkdb.v1.PutRequest",
    key: NO_BYTES,
    value: NO_BYTES,
    expireInMs: 0n,
  };
  fields(c, (n, wire) => {
    if (n === 1) p.key = bytesField(c, wire);
    else if (n === 2) p.value = bytesField(c, wire);
    else if (n === 3) p.session = nested(c, wire, readSession);
    else if (n === 4) p.ifVersion = ascii(c, wire);
    else if (n === 5) p.expireInMs = BigInt(uint(c, wire));
    else throw NOT_PLAIN;
  });
  return p;
}

function readDelete(c: Cursor): DeleteRequest {
  const d: DeleteRequest = { $typeName: "prkdb.v1.DeleteRequest", key: NO_BYTES };
  fields(c, (n, wire) => {
    if (n === 1) d.key = bytesField(c, wire);
    else if (n === 2) d.session = nested(c, wire, readSession);
    else if (n === 3) d.ifVersion = ascii(c, wire);
    else throw NOT_PLAIN;
  });
  return d;
}

function readPutResponse(c: Cursor): PutResponse {
  const p: PutResponse = {
    $typeName: "prkdb.v1.PutResponse",
    partition: 0,
    index: 0n,
    ok: false,
    version: "",
  };
  fields(c, (n, wire) => {
    if (n === 1) p.partition = uint32(c, wire);
    else if (n === 2) p.index = BigInt(uint(c, wire));
    else if (n === 3) p.ok = uint(c, wire) !== 0;
    else if (n === 4) p.version = ascii(c, wire);
    else throw NOT_PLAIN;
  });
  return p;
}

function readDeleteResponse(c: Cursor): DeleteResponse {
  const d: DeleteResponse = {
    $typeName: "prkdb.v1.DeleteResponse",
    found: false,
    ok: false,
    partition: 0,
    index: 0n,
  };
  fields(c, (n, wire) => {
    if (n === 1) d.found = uint(c, wire) !== 0;
    else if (n === 2) d.ok = uint(c, wire) !== 0;
    else if (n === 3) d.partition = uint32(c, wire);
    else if (n === 4) d.index = BigInt(uint(c, wire));
    else throw NOT_PLAIN;
  });
  return d;
}

function readError(c: Cursor): ForwardError {
  const e: ForwardError = { $typeName: "prkdb.v1.ForwardError", code: 0, message: "", kind: "" };
  fields(c, (n, wire) => {
    if (n === 1) e.code = uint32(c, wire);
    else if (n === 2) e.message = ascii(c, wire);
    else if (n === 3) e.kind = ascii(c, wire);
    else throw NOT_PLAIN;
  });
  return e;
}

/** Runs a hand-written reader, or the generated one for what it leaves. */
function read<T>(bytes: Uint8Array, hand: (c: Cursor) => T, generated: () => T): T {
  try {
    return hand(new Cursor(bytes));
  } catch {
    // Not a plain shape, or bytes the strict cursor refuses: the generated reader decides, so
    // both paths accept and refuse exactly the same.
    return generated();
  }
}

/**
 * Reads a write passed on to this node.
 *
 * @param bytes Its bytes, as the sender wrote them.
 * @returns The call, as the generated reader would return it. Byte fields are views into `bytes`.
 * @throws {Error} What the generated reader throws, for bytes that are not a call.
 *
 * @example Usage
 * ```ts
 * import { encodeForwardedCall, readForwardedCall } from "./forwarded_wire.ts";
 * const call = readForwardedCall(encodeForwardedCall({
 *   call: { case: "delete", value: { key: new Uint8Array([7]), ifVersion: "" } },
 * }));
 * if (call.call.case === "delete") console.log(call.call.value.ifVersion === ""); // true
 * ```
 */
export function readForwardedCall(bytes: Uint8Array): ForwardedCall {
  return read(bytes, (c) => {
    const t = c.tag(), n = t >>> 3;
    let call: ForwardedCall["call"];
    if (n === PUT) call = { case: "put", value: nested(c, t & 7, readPut) };
    else if (n === DELETE) call = { case: "delete", value: nested(c, t & 7, readDelete) };
    else throw NOT_PLAIN;
    if (c.pos !== c.end) throw NOT_PLAIN;
    return { $typeName: "prkdb.v1.ForwardedCall", call };
  }, () => fromBinary(ForwardedCallSchema, bytes, NESTED_LIMIT));
}

/**
 * Reads a leader's answer to a write this node passed on.
 *
 * @param bytes Its bytes, as the leader wrote them.
 * @returns The result, as the generated reader would return it.
 * @throws {Error} What the generated reader throws, for bytes that are not a result.
 *
 * @example Usage
 * ```ts
 * import { encodeForwardedResult, readForwardedResult } from "./forwarded_wire.ts";
 * const r = readForwardedResult(encodeForwardedResult({
 *   result: { case: "error", value: { code: 14, message: "no leader", kind: "" } },
 * }));
 * if (r.result.case === "error") console.log(r.result.value.code); // 14
 * ```
 */
export function readForwardedResult(bytes: Uint8Array): ForwardedResult {
  return read(bytes, (c) => {
    const t = c.tag(), n = t >>> 3, wire = t & 7;
    let result: ForwardedResult["result"];
    if (n === PUT) result = { case: "put", value: nested(c, wire, readPutResponse) };
    else if (n === DELETE) result = { case: "delete", value: nested(c, wire, readDeleteResponse) };
    else if (n === ERROR) result = { case: "error", value: nested(c, wire, readError) };
    else throw NOT_PLAIN;
    if (c.pos !== c.end) throw NOT_PLAIN;
    return { $typeName: "prkdb.v1.ForwardedResult", result };
  }, () => fromBinary(ForwardedResultSchema, bytes, NESTED_LIMIT));
}
