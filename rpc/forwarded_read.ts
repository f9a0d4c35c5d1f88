/**
 * The reading half of [forwarded_wire.ts](./forwarded_wire.ts): a write passed on to this node
 * and a leader's answer to one, read by hand when they have the plain shape (a put or a delete,
 * its result or an error), by the generated code otherwise, so that both read exactly the same.
 *
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
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
} from "./gen/prkdb/v1/kv_pb.ts";
import { FORWARDED_FIELD } from "./forwarded_wire.ts";
import { Cursor, LEN, VARINT } from "./wire_cursor.ts";

/**
 * How deep the generated reader may still go inside a write's call or an answer's result: they
 * sit two messages deep in a batch, and the generated reader's limit counts from the batch.
 */
const NESTED_LIMIT = { recursionLimit: 98 };

/** A call's or a result's shape that the hand-written reader leaves to the generated code. */
class NotPlain {}
const NOT_PLAIN = new NotPlain();

const { put: PUT, delete: DELETE, error: ERROR } = FORWARDED_FIELD;

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
 * import { encodeForwardedCall } from "./forwarded_wire.ts";
 * import { readForwardedCall } from "./forwarded_read.ts";
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
 * import { encodeForwardedResult } from "./forwarded_wire.ts";
 * import { readForwardedResult } from "./forwarded_read.ts";
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
