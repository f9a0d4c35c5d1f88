import { assertEquals } from "@std/assert";
import type { Message } from "./message.ts";
import { RaftNode } from "./node.ts";
import { SeededRandom } from "./rng.ts";

const snapshot = (data: Uint8Array): Message => ({
  type: "InstallSnapshot",
  from: 1,
  to: 2,
  term: 1,
  snapshotIndex: 50,
  snapshotTerm: 1,
  offset: 0,
  data,
  done: true,
});

function follower(): RaftNode {
  return new RaftNode({
    id: 2,
    voters: [1, 2, 3],
    random: new SeededRandom(2),
    validateSnapshot: (d) => d[0] === 7 ? undefined : `version ${d[0]} is unknown`,
  });
}

function answer(node: RaftNode): { installed: boolean; snapshot: boolean } {
  const rd = node.ready();
  node.advance(rd);
  const reply = rd.messages.find((m) => m.type === "InstallSnapshotResponse");
  return {
    installed: reply?.type === "InstallSnapshotResponse" && reply.installed,
    snapshot: rd.snapshot !== undefined,
  };
}

Deno.test("RaftNode: a snapshot that does not validate is refused before it replaces the log", () => {
  const node = follower();
  node.step(snapshot(new Uint8Array([9, 9, 9])));
  assertEquals(answer(node), { installed: false, snapshot: false });
  assertEquals(node.status().commitIndex, 0);
});

Deno.test("RaftNode: a snapshot that validates is installed", () => {
  const node = follower();
  node.step(snapshot(new Uint8Array([7])));
  assertEquals(answer(node), { installed: true, snapshot: true });
  assertEquals(node.status().commitIndex, 50);
});
