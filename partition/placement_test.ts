import { assertEquals, assertThrows } from "@std/assert";
import { CrossPartitionError } from "./errors.ts";
import { PartitionMap } from "./placement.ts";

const te = new TextEncoder();
const map = new PartitionMap([1, 2, 3], 8);

/** A key of `partition`, found by trying names in order. */
function keyIn(partition: number, not?: Uint8Array): Uint8Array {
  for (let i = 0;; i++) {
    const key = te.encode(`k${i}`);
    if (map.partitionOf(key) === partition && key.join() !== not?.join()) return key;
  }
}

Deno.test("PartitionMap.partitionOfWrite: keys of one partition give it; no keys give 0", () => {
  const a = keyIn(5);
  const b = keyIn(5, a);
  assertEquals(map.partitionOfWrite([{ key: a }], [{ key: a }, { key: b }]), 5);
  assertEquals(map.partitionOfWrite([], [{ key: b }]), 5);
  assertEquals(map.partitionOfWrite([], []), 0);
});

Deno.test("PartitionMap.partitionOfWrite: a check or a mutation elsewhere names every partition", () => {
  const a = keyIn(5);
  const b = keyIn(2);
  const c = keyIn(7);
  const checkElsewhere = assertThrows(
    () => map.partitionOfWrite([{ key: a }, { key: b }], [{ key: a }]),
    CrossPartitionError,
  );
  assertEquals(checkElsewhere.partitions, [2, 5]);
  const mutationsElsewhere = assertThrows(
    () => map.partitionOfWrite([], [{ key: c }, { key: a }, { key: b }]),
    CrossPartitionError,
  );
  assertEquals(mutationsElsewhere.partitions, [2, 5, 7]);
});
