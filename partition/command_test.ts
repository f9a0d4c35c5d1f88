import { assertEquals, assertThrows } from "@std/assert";
import {
  decodeCommand,
  deleteCommand,
  encodeCommand,
  InvalidCommandError,
  type KvCommand,
  MAX_BATCH_BYTES,
  MAX_BATCH_OPERATIONS,
  MAX_KEY_BYTES,
  MAX_SESSION_TIMEOUT_MS,
  MAX_VALUE_BYTES,
  type Mutation,
  putCommand,
  validateCommand,
} from "./command.ts";
import { formatVersion } from "./version.ts";

const te = new TextEncoder();
const key = te.encode("k");

/** Encodes, decodes and compares; a write without a session decodes with none. */
function assertRoundTrip(command: KvCommand): void {
  const decoded = decodeCommand(encodeCommand(command));
  if (decoded.op === "write" && command.op === "write") {
    const { session, ...rest } = decoded;
    const { session: expected, ...want } = command;
    assertEquals(session, expected);
    assertEquals(rest, want);
  } else {
    assertEquals(decoded, command);
  }
}

function write(parts: Partial<KvCommand & { op: "write" }>): KvCommand {
  return { op: "write", time: 0, checks: [], mutations: [], ...parts };
}

/** A legacy entry: op, key length (u32 big-endian), key, then the rest (a put's value). */
function legacy(op: number, k: Uint8Array, rest: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(5 + k.length + rest.length);
  out[0] = op;
  new DataView(out.buffer).setUint32(1, k.length);
  out.set(k, 5);
  out.set(rest, 5 + k.length);
  return out;
}

Deno.test("commands: puts and deletes round trip, with binary and empty keys' values", () => {
  const binaryKey = new Uint8Array([0, 255, 7]);
  for (const value of [new Uint8Array(), new Uint8Array([0, 1, 255]), te.encode("héllo")]) {
    assertRoundTrip(putCommand(binaryKey, value));
  }
  assertRoundTrip(putCommand(key, new Uint8Array(MAX_VALUE_BYTES)));
  assertRoundTrip(deleteCommand(binaryKey));
  assertRoundTrip(putCommand(key, key, 1_700_000_000_000));
  assertRoundTrip(deleteCommand(key, 5));
  assertEquals(encodeCommand(putCommand(key, key))[0], 3);
});

Deno.test("commands: putCommand and deleteCommand build unconditional writes", () => {
  const value = te.encode("v");
  assertEquals(putCommand(key, value, 9), {
    op: "write",
    time: 9,
    checks: [],
    mutations: [{ type: "set", key, value }],
  });
  assertEquals(deleteCommand(key), {
    op: "write",
    time: 0,
    checks: [],
    mutations: [{ type: "delete", key }],
  });
});

Deno.test("commands: checks with null and real versions, batches and sessions round trip", () => {
  const mutations: Mutation[] = [
    { type: "set", key: te.encode("a"), value: te.encode("1") },
    { type: "delete", key: te.encode("b") },
    { type: "set", key: new Uint8Array([0]), value: new Uint8Array() },
  ];
  assertRoundTrip(write({ checks: [{ key, version: null }], mutations }));
  assertRoundTrip(write({
    time: 123,
    checks: [
      { key: te.encode("a"), version: formatVersion(3, 42) },
      { key: te.encode("b"), version: null },
      { key: te.encode("c"), version: formatVersion(0xffff, Number.MAX_SAFE_INTEGER) },
    ],
    mutations,
  }));
  // A write may be only checks (an assertion that keys are unchanged).
  assertRoundTrip(write({ checks: [{ key, version: formatVersion(0, 1) }] }));
  assertRoundTrip(write({
    session: { id: 12, seq: 5, firstIncomplete: 4 },
    mutations: [{ type: "delete", key }],
  }));
  assertRoundTrip(write({
    time: 2 ** 40,
    session: { id: Number.MAX_SAFE_INTEGER, seq: 2 ** 33, firstIncomplete: 2 ** 33 },
    checks: [{ key, version: null }],
    mutations: [{ type: "set", key, value: key }],
  }));
});

Deno.test("commands: openSession round trips", () => {
  assertRoundTrip({ op: "openSession", time: 0, timeoutMs: 1 });
  assertRoundTrip({ op: "openSession", time: 1_700_000_000_000, timeoutMs: 60_000 });
  assertRoundTrip({ op: "openSession", time: 1, timeoutMs: MAX_SESSION_TIMEOUT_MS });
});

Deno.test("commands: key and value limits are refused, naming the limit", () => {
  assertThrows(
    () => encodeCommand(deleteCommand(new Uint8Array())),
    InvalidCommandError,
    "key is empty",
  );
  encodeCommand(deleteCommand(new Uint8Array(MAX_KEY_BYTES))); // the limit itself is allowed
  assertThrows(
    () => encodeCommand(deleteCommand(new Uint8Array(MAX_KEY_BYTES + 1))),
    InvalidCommandError,
    `key is ${MAX_KEY_BYTES + 1} bytes, the limit is ${MAX_KEY_BYTES}`,
  );
  assertThrows(
    () => encodeCommand(putCommand(key, new Uint8Array(MAX_VALUE_BYTES + 1))),
    InvalidCommandError,
    `value is ${MAX_VALUE_BYTES + 1} bytes, the limit is ${MAX_VALUE_BYTES}`,
  );
  assertThrows(
    () => encodeCommand(write({ checks: [{ key: new Uint8Array(), version: null }] })),
    InvalidCommandError,
    "check 0: key is empty",
  );
  assertThrows(
    () =>
      encodeCommand(write({
        mutations: [{ type: "delete", key }, { type: "delete", key: new Uint8Array() }],
      })),
    InvalidCommandError,
    "mutation 1: key is empty",
  );
});

Deno.test("commands: batch limits are refused, naming the limit", () => {
  const deletes = (n: number): Mutation[] =>
    Array.from({ length: n }, (_, i) => ({ type: "delete", key: te.encode(`k${i}`) }));
  encodeCommand(write({ mutations: deletes(MAX_BATCH_OPERATIONS) }));
  assertThrows(
    () => encodeCommand(write({ mutations: deletes(MAX_BATCH_OPERATIONS + 1) })),
    InvalidCommandError,
    `the limit is ${MAX_BATCH_OPERATIONS}`,
  );
  // Checks count as operations too.
  assertThrows(
    () =>
      encodeCommand(write({
        checks: [{ key, version: null }],
        mutations: deletes(MAX_BATCH_OPERATIONS),
      })),
    InvalidCommandError,
    `the limit is ${MAX_BATCH_OPERATIONS}`,
  );
  // Every value is within its own limit, but together they are not.
  const big = (name: string): Mutation => ({
    type: "set",
    key: te.encode(name),
    value: new Uint8Array(MAX_VALUE_BYTES),
  });
  assertThrows(
    () => encodeCommand(write({ mutations: [big("a"), big("b")] })),
    InvalidCommandError,
    `the limit is ${MAX_BATCH_BYTES}`,
  );
  assertThrows(
    () => encodeCommand(write({})),
    InvalidCommandError,
    "a write needs a check or a mutation",
  );
});

Deno.test("commands: a check's version must be a version or null", () => {
  for (
    const version of ["", "v1", formatVersion(1, 0xabc).toUpperCase(), formatVersion(1, 1) + "0"]
  ) {
    assertThrows(
      () => encodeCommand(write({ checks: [{ key, version }] })),
      InvalidCommandError,
      "is not a version",
    );
  }
});

Deno.test("commands: session numbers are checked", () => {
  const withSession = (id: number, seq: number, firstIncomplete: number) =>
    write({ session: { id, seq, firstIncomplete }, mutations: [{ type: "delete", key }] });
  assertThrows(
    () => encodeCommand(withSession(1, 0, 0)),
    InvalidCommandError,
    "session id and sequence number start at 1",
  );
  assertThrows(
    () => encodeCommand(withSession(0, 1, 1)),
    InvalidCommandError,
    "session id and sequence number start at 1",
  );
  assertThrows(
    () => encodeCommand(withSession(1, 3, 4)),
    InvalidCommandError,
    "firstIncomplete 4 is past the write's own sequence number 3",
  );
  assertThrows(
    () => encodeCommand(withSession(1, 1.5, 1)),
    InvalidCommandError,
    "session sequence number must be a non-negative safe integer",
  );
  assertThrows(
    () => encodeCommand(withSession(-1, 1, 1)),
    InvalidCommandError,
    "session id must be a non-negative safe integer",
  );
  assertThrows(
    () => encodeCommand(putCommand(key, key, -1)),
    InvalidCommandError,
    "time must be a non-negative safe integer",
  );
});

Deno.test("commands: a session timeout out of range is refused", () => {
  for (const timeoutMs of [0, -1, 1.5, MAX_SESSION_TIMEOUT_MS + 1, Number.NaN]) {
    assertThrows(
      () => validateCommand({ op: "openSession", time: 0, timeoutMs }),
      InvalidCommandError,
      `session timeout must be 1..${MAX_SESSION_TIMEOUT_MS} ms`,
    );
  }
});

Deno.test("commands: truncated bytes are a clear error at every cut", () => {
  const full = encodeCommand(write({
    session: { id: 1, seq: 1, firstIncomplete: 1 },
    checks: [{ key, version: formatVersion(0, 1) }],
    mutations: [{ type: "set", key, value: te.encode("value") }],
  }));
  for (let cut = 0; cut < full.length; cut++) {
    assertThrows(
      () => decodeCommand(full.subarray(0, cut)),
      InvalidCommandError,
      "bytes needed at offset",
    );
  }
  const open = encodeCommand({ op: "openSession", time: 0, timeoutMs: 10 });
  assertThrows(() => decodeCommand(open.subarray(0, 16)), InvalidCommandError, "bytes needed");
});

Deno.test("commands: trailing bytes, unknown operations and unknown mutations are refused", () => {
  const put = encodeCommand(putCommand(key, key));
  assertThrows(
    () => decodeCommand(new Uint8Array([...put, 0])),
    InvalidCommandError,
    "1 unexpected trailing bytes",
  );
  const open = encodeCommand({ op: "openSession", time: 0, timeoutMs: 10 });
  assertThrows(
    () => decodeCommand(new Uint8Array([...open, 1, 2])),
    InvalidCommandError,
    "2 unexpected trailing bytes",
  );
  for (const op of [0, 6, 9, 255]) {
    assertThrows(
      () => decodeCommand(new Uint8Array([op, 0, 0, 0, 0])),
      InvalidCommandError,
      `unknown operation ${op}`,
    );
  }
  // The first mutation's type byte sits right after the 37-byte header when there are no checks.
  const del = encodeCommand(deleteCommand(key));
  del[37] = 7;
  assertThrows(() => decodeCommand(del), InvalidCommandError, "mutation 0: unknown type 7");
  // A check's version length is 0 (absent) or 20.
  const check = encodeCommand(write({ checks: [{ key, version: null }] }));
  check[37 + 4 + key.length] = 5;
  assertThrows(() => decodeCommand(check), InvalidCommandError, "check 0: version length 5");
});

Deno.test("commands: decoding applies the limits too", () => {
  // Bytes of the right shape that break a limit are refused, as a damaged log would be.
  const version = encodeCommand(write({ checks: [{ key, version: formatVersion(0, 1) }] }));
  version[37 + 4 + key.length + 1] = "G".charCodeAt(0);
  assertThrows(() => decodeCommand(version), InvalidCommandError, "is not a version");
  assertThrows(
    () => decodeCommand(legacy(1, key, new Uint8Array(MAX_VALUE_BYTES + 1))),
    InvalidCommandError,
    `the limit is ${MAX_VALUE_BYTES}`,
  );
  assertThrows(() => decodeCommand(legacy(2, new Uint8Array())), InvalidCommandError, "empty");
  const open = encodeCommand({ op: "openSession", time: 0, timeoutMs: 10 });
  new DataView(open.buffer).setFloat64(9, 0);
  assertThrows(() => decodeCommand(open), InvalidCommandError, "session timeout");
});

Deno.test("commands: legacy op 1 (put) and op 2 (delete) still decode to writes", () => {
  const value = new Uint8Array([0, 255, 1]);
  assertEquals(decodeCommand(legacy(1, key, value)), {
    op: "write",
    time: 0,
    checks: [],
    mutations: [{ type: "set", key, value }],
  });
  assertEquals(decodeCommand(legacy(1, key)), {
    op: "write",
    time: 0,
    checks: [],
    mutations: [{ type: "set", key, value: new Uint8Array() }],
  });
  assertEquals(decodeCommand(legacy(2, te.encode("gone"))), {
    op: "write",
    time: 0,
    checks: [],
    mutations: [{ type: "delete", key: te.encode("gone") }],
  });
  assertThrows(
    () => decodeCommand(legacy(2, key, new Uint8Array([1]))),
    InvalidCommandError,
    "1 unexpected trailing bytes",
  );
  assertThrows(
    () => decodeCommand(new Uint8Array([1, 0, 0, 0, 9, 1])),
    InvalidCommandError,
    "9 bytes needed at offset 5",
  );
});

Deno.test("commands: InvalidCommandError has its name and a sentence-case message", () => {
  const error = new InvalidCommandError("key is empty");
  assertEquals(error.name, "InvalidCommandError");
  assertEquals(error.message, "Invalid command: key is empty");
});
