import { assert, assertEquals } from "@std/assert";
import { checkKeyHistory, type KvOperation } from "./linearizability.ts";

let nextId = 0;
const put = (client: number, call: number, ret: number, value: string): KvOperation => ({
  id: nextId++,
  client,
  call,
  ret,
  kind: "put",
  value,
});
const get = (client: number, call: number, ret: number, value: string | null): KvOperation => ({
  id: nextId++,
  client,
  call,
  ret,
  kind: "get",
  value,
});
const del = (
  client: number,
  call: number,
  ret: number,
  found: boolean | undefined,
): KvOperation => ({
  id: nextId++,
  client,
  call,
  ret,
  kind: "delete",
  found,
});

Deno.test("linearizability: sequential history that reads its writes passes", () => {
  assertEquals(
    checkKeyHistory([put(1, 1, 2, "a"), get(1, 3, 4, "a"), del(1, 5, 6, true), get(1, 7, 8, null)]),
    undefined,
  );
});

Deno.test("linearizability: a stale read after a completed write fails", () => {
  const failure = checkKeyHistory([put(1, 1, 2, "a"), put(1, 3, 4, "b"), get(2, 5, 6, "a")]);
  assert(failure?.includes("no linearization"), failure);
});

Deno.test("linearizability: a read concurrent with a write may see either value", () => {
  assertEquals(
    checkKeyHistory([put(1, 1, 2, "a"), put(1, 3, 10, "b"), get(2, 4, 5, "a"), get(3, 6, 7, "b")]),
    undefined,
  );
});

Deno.test("linearizability: reads may not go back in time once a newer value was seen", () => {
  const failure = checkKeyHistory([
    put(1, 1, 2, "a"),
    put(1, 3, 10, "b"),
    get(2, 4, 5, "b"),
    get(3, 6, 7, "a"),
  ]);
  assert(failure !== undefined);
});

Deno.test("linearizability: a write with unknown outcome may or may not have happened", () => {
  const unknown = put(1, 3, Infinity, "b");
  assertEquals(
    checkKeyHistory([put(1, 1, 2, "a"), unknown, get(2, 5, 6, "a"), get(2, 7, 8, "b")]),
    undefined,
  );
  assertEquals(
    checkKeyHistory([put(1, 1, 2, "a"), put(1, 3, Infinity, "c"), get(2, 5, 6, "a")]),
    undefined,
  );
  // ...but it cannot take effect before it was invoked.
  assert(
    checkKeyHistory([put(1, 1, 2, "a"), get(2, 3, 4, "z"), put(1, 5, Infinity, "z")]) !== undefined,
  );
});

Deno.test("linearizability: a delete's found flag must agree with the state", () => {
  assert(checkKeyHistory([del(1, 1, 2, true)]) !== undefined);
  assertEquals(checkKeyHistory([del(1, 1, 2, false)]), undefined);
});
