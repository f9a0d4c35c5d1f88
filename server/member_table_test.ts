/**
 * The address book: copies converge whatever order merges come in, a removal wins over an
 * older or equal entry, and a copy of another cluster or a malformed entry is refused.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { MemberTable, type MemberTableJson } from "./member_table.ts";

const base: MemberTableJson = {
  cluster: "c",
  partitions: 4,
  replicationFactor: 3,
  placement: [1, 2, 3],
  members: {
    1: { address: "127.0.0.1:8081", version: 1, removed: false },
    2: { address: "127.0.0.1:8082", version: 1, removed: false },
    3: { address: "127.0.0.1:8083", version: 1, removed: false },
  },
};

Deno.test("member table: concurrent changes converge in any merge order; removals stick", async () => {
  const a = MemberTable.create(base, undefined);
  const b = MemberTable.create(base, undefined);
  await a.add(4, "127.0.0.1:9004"); // two nodes add node 4 with different addresses at once
  await b.add(4, "127.0.0.1:9104");
  await b.remove(2);
  const a2 = MemberTable.create(a.json, undefined);
  await a.merge(b.json);
  await b.merge(a2.json);
  assertEquals(a.json.members, b.json.members);
  assertEquals(a.json.members[2].removed, true);
  assertEquals(a.addresses().has(2), false);
  await a.merge(base); // an older copy does not bring node 2 back
  assertEquals(a.addresses().has(2), false);
});

Deno.test("member table: another cluster's copy or a malformed entry is refused", async () => {
  const t = MemberTable.create(base, undefined);
  await assertRejects(() => t.merge({ ...base, cluster: "other" }), Error, "does not match");
  await assertRejects(() => t.merge({ ...base, placement: [1, 2] }), Error, "does not match");
  const bad = { ...base, members: { 5: { address: "nowhere", version: 1, removed: false } } };
  await assertRejects(() => t.merge(bad), Error, "not valid");
  assertEquals(t.json.members[5], undefined);
});
