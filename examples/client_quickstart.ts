/**
 * Client quick start. Start a cluster in another terminal first:
 *
 * ```sh
 * deno task cluster
 * deno run -A examples/client_quickstart.ts            # or pass node URLs as arguments
 * ```
 *
 * It uses the certificates `deno task cluster` made in `certs/` (another directory with
 * `PRKDB_CERTS=dir`); without them it speaks plain HTTP to a cluster run with `--insecure`.
 *
 * @module
 */
// deno-lint-ignore-file no-console -- an example: printing is its job
import { PrkDbClient, PrkDbError } from "../client/mod.ts";

const certs = Deno.env.get("PRKDB_CERTS") ?? "certs";
const read = (file: string) => Deno.readTextFile(`${certs}/${file}`);
const tls = await Promise.all([read("ca.pem"), read("client-rw.pem"), read("client-rw.key")])
  .then(([ca, cert, key]) => ({ ca, cert, key }), () => undefined);
const scheme = tls ? "https" : "http";
const urls = Deno.args.length > 0
  ? Deno.args
  : [8081, 8082, 8083].map((port) => `${scheme}://127.0.0.1:${port}`);
let db: PrkDbClient;
try {
  db = await PrkDbClient.connect(urls, { timeoutMs: 3000, tls });
} catch (error) {
  console.error(
    `Could not reach ${urls.join(", ")}: ${
      (error as Error).message
    }\nStart a cluster first: deno task cluster`,
  );
  Deno.exit(1);
}
console.log(
  `Connected: ${db.cluster.nodes.size} nodes, ${db.cluster.partitions.length} partitions.`,
);

// Writes are acknowledged once a quorum of the key's partition has them.
const { partition, index, version } = await db.put(
  "user:1",
  JSON.stringify({ name: "Ada", role: "admin" }),
);
console.log(`put user:1 -> partition ${partition}, log index ${index}, version ${version}`);

// Three read modes: linearizable (default, at the leader), follower (ReadIndex), stale (local).
console.log("linearizable:", await db.getText("user:1"));
console.log("follower:    ", await db.getText("user:1", { readMode: "follower" }));
console.log("stale:       ", await db.getText("user:1", { readMode: "stale" }));

// Compare-and-set: a write with ifVersion applies only if nobody wrote the key since.
const cas = await db.put("user:1", JSON.stringify({ name: "Ada", role: "owner" }), {
  ifVersion: version,
});
const lost = await db.put("user:1", "stale update", { ifVersion: version });
console.log(`compare-and-set: first ${cas.ok}, second (stale version) ${lost.ok}`);

// Atomic writes: checks and mutations in one log entry, all or nothing. Keys sharing a hash
// tag ({team:1}) live in the same partition, so one write can cover them.
const team = await db.get("{team:1}:members");
const atomic = await db.atomic()
  .check(team)
  .set("{team:1}:members", "ada,grace")
  .set("{team:1}:size", "2")
  .commit();
console.log(`atomic: ${atomic.ok ? `committed at ${atomic.version}` : "conflict"}`);

// Tuple keys, as in Deno KV: parts are strings, numbers, bigints, booleans or bytes, and keys
// sort like their parts. ["users", 1] and ["posts", 1] are different keys.
await db.put(["users", 1], "Ada");
console.log(
  `tuple keys: users/1 = ${await db.getText(["users", 1])}, posts/1 = ${
    await db.getText(["posts", 1]) ?? "absent"
  }`,
);

// Bytes work as well as strings; deletes report whether the key existed.
await db.put(new Uint8Array([0, 1, 2]), new Uint8Array([255]));
console.log("binary value:", (await db.get(new Uint8Array([0, 1, 2]))).value);
console.log(
  "deleted user:1:",
  (await db.delete("user:1")).found,
  "| again:",
  (await db.delete("user:1")).found,
);

// Bad input fails at once with a clear, non-retryable error.
try {
  await db.put("", "no key");
} catch (error) {
  if (error instanceof PrkDbError) {
    console.log(`refused: ${error.code}: ${error.message} (retryable: ${error.retryable})`);
  }
}

// Calls take an AbortSignal and a timeout.
const ac = new AbortController();
ac.abort();
await db.getText("user:1", { signal: ac.signal }).catch((e) => console.log(`aborted: ${e.code}`));
db.close();
