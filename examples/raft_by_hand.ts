/**
 * Raft by hand: three RaftNodes in one process, with you as the network and the disk.
 *
 * ```sh
 * deno run examples/raft_by_hand.ts
 * ```
 *
 * It walks through an election, a replicated write, a linearizable read at a follower, and a
 * leader failure with a new election, printing what each node does. Every step is the Ready
 * loop: persist, send, apply, advance.
 *
 * @module
 */
// deno-lint-ignore-file no-console -- an example: printing is its job
import { type Message, RaftNode, SeededRandom } from "../raft/mod.ts";
import { decodeCommand, encodeCommand, KvStateMachine, putCommand } from "../partition/mod.ts";

if (Deno.args.length > 0) {
  const help = Deno.args[0] === "--help" || Deno.args[0] === "-h";
  (help ? console.log : console.error)(
    "Usage: deno run examples/raft_by_hand.ts    (or: deno task example)\n\n" +
      "Walks three Raft nodes through an election, a write, a follower read and a failover.",
  );
  Deno.exit(help ? 0 : 2);
}

const te = new TextEncoder();
const td = new TextDecoder();
const voters = [1, 2, 3];
const nodes = new Map(
  voters.map((id) => [id, new RaftNode({ id, voters, random: new SeededRandom(id) })]),
);
const machines = new Map(voters.map((id) => [id, new KvStateMachine()]));
const down = new Set<number>();
const network: Message[] = [];
const reads: { node: number; context: number; index: number }[] = [];

/** One Ready loop for every running node, then deliver messages, until quiet. */
function settle(): void {
  for (let round = 0; round < 50; round++) {
    let work = false;
    for (const [id, node] of nodes) {
      if (down.has(id) || !node.hasReady()) continue;
      work = true;
      const rd = node.ready();
      // 1. Persist rd.hardState and rd.entries (a real node fsyncs here; see storage/).
      // 2. Send.
      network.push(...rd.messages);
      // 3. Apply committed entries to the state machine.
      for (const e of rd.committedEntries) {
        machines.get(id)!.apply(e);
        if (e.type === "normal") {
          const cmd = decodeCommand(e.data);
          const what = cmd.op === "write"
            ? cmd.mutations.map((m) => `${m.type} ${td.decode(m.key)}`).join(", ")
            : cmd.op;
          console.log(`  node ${id} applies ${e.index}@${e.term}: ${what}`);
        }
      }
      // 4. Serve reads whose read index this node has applied; the rest wait.
      reads.push(...rd.readStates.map((rs) => ({ node: id, ...rs })));
      for (
        const read of reads.filter((r) =>
          r.node === id && machines.get(id)!.appliedIndex >= r.index
        )
      ) {
        reads.splice(reads.indexOf(read), 1);
        const value = machines.get(id)!.get(te.encode("greeting"));
        const shown = value ? td.decode(value) : "(none)";
        console.log(`  node ${id} serves read #${read.context} at index ${read.index}: ${shown}`);
      }
      for (const e of rd.events) {
        if (e.type === "RoleChanged") {
          console.log(`  node ${id}: ${e.from} -> ${e.to} (term ${e.term})`);
        }
      }
      // 5. Advance.
      node.advance(rd);
    }
    for (const m of network.splice(0)) {
      if (down.has(m.to) || down.has(m.from)) continue; // a crashed node neither sends nor receives
      nodes.get(m.to)!.step(m);
      work = true;
    }
    if (!work) return;
  }
}

function leader(): RaftNode {
  return [...nodes.values()].find((n, i) => n.isLeader && !down.has(i + 1))!;
}

console.log("1. Node 1's election timer fires: PreVote, then a real election.");
nodes.get(1)!.campaign();
settle();

console.log(
  `\n2. Write through the leader (node ${leader().id}); it commits once a quorum has it.`,
);
leader().propose(
  encodeCommand(putCommand(te.encode("greeting"), te.encode("hello, raft"))),
);
settle();

console.log(
  "\n3. A linearizable read at follower 3: it asks the leader for a read index (ReadIndex).",
);
nodes.get(3)!.readIndex(1);
settle();

console.log(`\n4. Leader ${leader().id} crashes. Time passes on the others until one campaigns.`);
down.add(leader().id);
for (let tick = 0; tick < 40 && ![2, 3].some((id) => nodes.get(id)!.isLeader); tick++) {
  for (const id of [2, 3]) nodes.get(id)!.tick();
  settle();
}

console.log(`\n5. New leader ${leader().id} still has the acknowledged write, and takes new ones.`);
leader().propose(
  encodeCommand(putCommand(te.encode("greeting"), te.encode("hello again"))),
);
settle();
for (const id of [2, 3]) {
  const value = machines.get(id)!.get(te.encode("greeting"));
  console.log(
    `  node ${id}: greeting = ${value ? td.decode(value) : "(none)"}, applied through ${
      machines.get(id)!.appliedIndex
    }`,
  );
}
console.log(
  "\nNext: read tests/golden/*.txt for full protocol traces, or run `deno task sim --seeds 100`.",
);
