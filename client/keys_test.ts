/**
 * Keys through the client against a real one-node server: tuple keys do not collide, invalid
 * keys and values fail at the client with `invalid_argument`, and node URLs are checked.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { startOneNode } from "../tests/support/one_node.ts";
import { encodeKey, PrkDbClient, PrkDbError } from "./mod.ts";
import type { KeyLike, ValueLike } from "./mod.ts";

async function oneNode() {
  const { node, url } = await startOneNode(8);
  const db = await PrkDbClient.connect([url], { timeoutMs: 3000 });
  return {
    db,
    async [Symbol.asyncDispose]() {
      db.close();
      await node.stop();
    },
  };
}

Deno.test("client: tuple keys are distinct keys, apart from string keys, and order-preserving", async () => {
  await using c = await oneNode();
  const { db } = c;
  await db.put(["users", 1], "ada");
  assertEquals(await db.getText(["posts", 1]), undefined, "a tuple key must not collide");
  assertEquals(await db.getText(["users", 1]), "ada");
  assertEquals(await db.getText(["users", "1"]), undefined);
  assertEquals(await db.getText(["users", 1n]), undefined);
  assertEquals(await db.getText("users"), undefined);
  await db.put("users,1", "plain");
  assertEquals(await db.getText(["users", 1]), "ada");
  // A string key is still its UTF-8 bytes on the wire, as before.
  assertEquals(await db.getText(new TextEncoder().encode("users,1")), "plain");
  const entry = await db.get(["users", 1]);
  assertEquals(entry.key, encodeKey(["users", 1]));
  // An entry read with a tuple key can be checked in an atomic write, like any other.
  const r = await db.atomic().check(entry).set(["users", 1], "grace").commit();
  assert(r.ok);
  assertEquals((await db.delete(["users", 1])).found, true);
});

Deno.test("client: hashed parts put one user's tuple keys in one partition for atomic()", async () => {
  await using c = await oneNode();
  const { db } = c;
  const byUser = { hashedParts: 2 };
  const r = await db.atomic()
    .set(encodeKey(["user", 42, "profile"], byUser), "Ada")
    .set(encodeKey(["user", 42, "orders"], byUser), "[]")
    .commit();
  assert(r.ok, JSON.stringify(r));
  assertEquals(await db.getText(encodeKey(["user", 42, "orders"], byUser)), "[]");
  // Hashing every part spreads the same keys: across 8 partitions they separate.
  const spread = await Promise.all(
    ["profile", "orders", "a", "b", "c", "d", "e", "f"].map((leaf) =>
      db.put(["user", 42, leaf], "x").then((w) => w.partition)
    ),
  );
  assert(new Set(spread).size > 1);
});

Deno.test("client: invalid keys and values fail at the client, naming the offending part", async () => {
  await using c = await oneNode();
  const { db } = c;
  const bad: [unknown, RegExp][] = [
    [1, /a key must be a string, a Uint8Array or an array of parts.*got 1/],
    [undefined, /got undefined/],
    [{ users: 1 }, /got an object \(Object\)/],
    [["users", {}], /Key part 1 is an object/],
    [["users", NaN], /Key part 1 is NaN/],
    [["users", undefined], /Key part 1 is undefined/],
    [["a", ["b"]], /Key part 1 is an array \(tuple keys cannot nest\)/],
    [[Symbol("s")], /Key part 0 is a symbol/],
    [[], /at least one part/],
  ];
  for (const [key, message] of bad) {
    for (const call of [() => db.put(key as KeyLike, "v"), () => db.get(key as KeyLike)]) {
      const e = await assertRejects(call, PrkDbError);
      assertEquals([e.code, e.retryable], ["invalid_argument", false]);
      assert(message.test(e.message), e.message);
    }
  }
  const e = await assertRejects(() => db.put("k", 42 as unknown as ValueLike), PrkDbError);
  assertEquals(e.code, "invalid_argument");
  assert(/a value must be a string or a Uint8Array.*got 42/.test(e.message), e.message);
  await assertRejects(
    () => db.atomic().set(["a", NaN], "v").commit(),
    PrkDbError,
    "Key part 1 is NaN",
  );
});

Deno.test("client: a node URL without a scheme is refused, showing the right form", async () => {
  for (
    const [url, shown] of [["127.0.0.1:8081", "http://127.0.0.1:8081"], [
      "localhost",
      "http://localhost",
    ]]
  ) {
    const e = await assertRejects(() => PrkDbClient.connect([url]), PrkDbError);
    assertEquals(e.code, "invalid_argument");
    assert(e.message.includes(`write "${shown}"`), e.message);
  }
  const e = await assertRejects(
    () => PrkDbClient.connect(["http://127.0.0.1:8081/prkdb.v1.KvService/Get"]),
    PrkDbError,
  );
  assert(e.message.includes('like "http://127.0.0.1:8081"'), e.message);
});
