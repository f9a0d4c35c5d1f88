/**
 * The deliberate bugs PrkDB's checks must catch, one small source edit each.
 * `deno task mutants` applies each to a copy of the repository and runs the check that catches it;
 * `deno task mutants <name>` runs one. See docs/testing.md, "Does it catch bugs?".
 *
 * @module
 */
import type { Mutant } from "./mutant.ts";

/**
 * Every mutant, in the order `deno task mutants` runs them.
 *
 * @example Find one by name
 * ```ts
 * import { MUTANTS } from "./mutants.ts";
 * console.log(MUTANTS.find((m) => m.name === "double-vote")?.file); // "raft/raft.ts"
 * ```
 */
export const MUTANTS: readonly Mutant[] = [
  {
    name: "vote-without-log-check",
    rule: "a vote goes only to a candidate whose log is at least as up to date (Raft 5.4.1)",
    file: "raft/raft.ts",
    find: "if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {",
    replace: "if (canVote) {",
    checks: [
      { kind: "golden", script: "figure8.txt" },
      { kind: "sim", seeds: 40, expect: "Leader Completeness violated" },
    ],
  },
  {
    name: "skip-consistency-check",
    rule: "a follower appends only after its entry at prevLogIndex has prevLogTerm (Raft 5.3)",
    file: "raft/log.ts",
    find: "if (this.term(prevLogIndex) !== prevLogTerm) return undefined;",
    replace: "",
    checks: [
      {
        kind: "test",
        file: "raft/log_test.ts",
        filter: "tryAppend applies the consistency check",
      },
      // Other scripts crash inside the log: entries that do not attach leave a gap.
      { kind: "golden", script: "log_repair.txt" },
    ],
  },
  {
    name: "double-vote",
    rule: "a node votes for at most one candidate in a term (Raft 5.2)",
    file: "raft/raft.ts",
    find: "(this.votedFor === NONE && this.leaderId === NONE)",
    replace: "this.leaderId === NONE",
    checks: [
      { kind: "test", file: "raft/receiver_rules_test.ts", filter: "one vote per term" },
      { kind: "sim", seeds: 40, expect: "Election Safety violated" },
    ],
  },
  {
    name: "read-without-quorum-round",
    rule: "a leader serves a read only after a quorum confirms it still leads (thesis 6.4)",
    file: "raft/roles/leader.ts",
    find: "(id) => id === raft.id ? this.readRound : this.progress.get(id)?.readRound ?? 0,",
    // Every voter counts as having answered the latest round: reads go out at once.
    replace: "() => this.readRound,",
    checks: [
      { kind: "golden", script: "read_index.txt" },
      // Only with the pause fault: a frozen leader wakes up and serves a stale value.
      { kind: "sim", seeds: 100, expect: "not linearizable" },
    ],
  },
  {
    name: "read-before-term-commit",
    rule:
      "a new leader assigns read indexes only once it committed an entry of its term (thesis 6.4)",
    file: "raft/roles/leader.ts",
    find: "if (raft.log.term(raft.log.commitIndex) !== raft.term) return;",
    replace: "",
    // The rule is written twice: hasUnsent decides whether a Ready is due for the read.
    also: [{
      file: "raft/roles/leader.ts",
      find:
        "if (log.term(log.commitIndex) === raft.term && this.pendingReads.some((r) => r.round === 0)) {",
      replace: "if (this.pendingReads.some((r) => r.round === 0)) {",
    }],
    checks: [{ kind: "golden", script: "read_index_wait.txt" }],
  },
  {
    name: "commit-old-term-entries",
    rule: "a leader counts replicas only for entries of its own term (Raft 5.4.2, figure 8)",
    file: "raft/roles/leader.ts",
    find: "if (index <= log.commitIndex || log.term(index) !== raft.term) return;",
    replace: "if (index <= log.commitIndex) return;",
    checks: [{ kind: "golden", script: "figure8.txt" }],
  },
  {
    name: "snapshot-keeps-conflicting-tail",
    rule:
      "a follower keeps its log after a snapshot only if it holds the snapshot's last entry (Raft 7)",
    file: "raft/log.ts",
    find: "const keep = this.term(index) === term;",
    replace: "const keep = this.term(index) !== undefined;",
    checks: [
      { kind: "test", file: "raft/log_test.ts", filter: "conflicts with the log" },
      // A rare meeting in the simulation: five of the first 400 seeds (the first is 258).
      { kind: "sim", seeds: 400, expect: "Log Matching violated" },
    ],
  },
  {
    name: "ack-before-fsync",
    rule: "a round sends and acknowledges only what is on stable storage (Raft figure 2)",
    // Steps 1 and 2 of the Ready contract out of order: the round goes on while the write that
    // its messages and acknowledgements depend on is still under way.
    file: "runtime/round.ts",
    find: "await ctx.storage.write(writes);",
    replace: "void ctx.storage.write(writes).catch(() => {});",
    checks: [
      { kind: "test", file: "runtime/round_test.ts", filter: "a vote is answered only once" },
      // Nodes that crash in the middle of a write: acknowledged entries that never landed. At the
      // default rate (one write in 500) one seed in fifty or so meets the bug; one in twenty
      // writes makes it a few seeds in twenty.
      { kind: "sim", seeds: 40, writeCrashRate: 0.05, expect: "Leader Completeness violated" },
      // And the default test suite, which runs those crashes too.
      {
        kind: "test",
        file: "tests/sim/sim_write_crashes_test.ts",
        filter: "3 nodes, seeds 1-20",
        expect: "Leader Completeness violated",
      },
    ],
  },
  {
    name: "no-timer-reset-on-vote",
    rule:
      "a follower that grants a vote restarts its election timer (Raft figure 2, rules for followers)",
    file: "raft/raft.ts",
    find: "if (this.role instanceof Follower) this.role.electionElapsed = 0;",
    replace: "",
    checks: [{
      kind: "test",
      file: "raft/receiver_rules_test.ts",
      filter: "granting a vote restarts the election timer",
    }],
  },
  {
    name: "prevote-bumps-term",
    rule: "a pre-candidate asks for votes without raising its term (thesis 9.6)",
    file: "raft/raft.ts",
    find: "if (preVote) this.#setRole(new Candidate(true, this.randomElectionTimeout()));",
    replace: "if (preVote) {\n      this.term += 1;\n" +
      "      this.#setRole(new Candidate(true, this.randomElectionTimeout()));\n    }",
    checks: [{ kind: "golden", script: "prevote.txt" }, { kind: "golden", script: "election.txt" }],
  },
  {
    name: "membership-changes-pile-up",
    rule: "only one membership change may be uncommitted at a time (thesis 4.1)",
    file: "raft/roles/leader.ts",
    find: "if (log.lastConfigIndex() > log.commitIndex) {",
    replace: "if (false) {",
    // The simulation finds it in a few seeds out of hundreds (Leader Completeness, or a group
    // left without a majority), at seeds that move whenever the simulation changes.
    checks: [{ kind: "golden", script: "membership_rules.txt" }],
  },
  {
    name: "membership-before-term-commit",
    rule:
      "a new leader changes membership only once it committed an entry of its term (thesis 4.1)",
    file: "raft/roles/leader.ts",
    find: "if (log.term(log.commitIndex) !== raft.term) {",
    replace: "if (false) {",
    checks: [{ kind: "golden", script: "membership_rules.txt" }],
  },
  {
    name: "removed-leader-counts-itself",
    rule: "a leader removing itself does not count its own log towards the majority (thesis 4.2.2)",
    file: "raft/roles/leader.ts",
    find: "      raft.voters,\n      (id) => id === raft.id ? log.lastIndex",
    replace:
      "      [...new Set([...raft.voters, raft.id])],\n      (id) => id === raft.id ? log.lastIndex",
    checks: [{
      kind: "test",
      file: "raft/membership_test.ts",
      filter: "a leader removing itself stops counting its own log",
    }],
  },
  {
    name: "quiet-follower-shields-restarted-leader",
    rule: "a follower whose own leader asks for votes has no leader left to protect (quiescence)",
    file: "raft/raft.ts",
    find: "if (this.role instanceof Follower && m.from === this.leaderId) {",
    // Never true, and it still narrows the role for the line below.
    replace: "if (this.role instanceof Follower && m.from === -1) {",
    // The simulation caught it (seed 33) until pings said which partitions a node leads; that
    // now wakes a restarted leader's followers first, so the golden script is the check.
    checks: [{ kind: "golden", script: "quiescence.txt" }],
  },
  {
    name: "quiet-orphans-never-wake",
    rule: "quiet followers whose leader's node went silent wake and elect another (quiescence)",
    file: "runtime/multi_raft_host.ts",
    find: "for (const r of wakeOrphans(this.#replicas.values(), silent)) this.#dirty.add(r);",
    replace: "void silent;",
    checks: [{
      kind: "test",
      file: "runtime/quiescence_test.ts",
      filter: "a dead quiet leader's followers wake",
    }],
  },
  {
    name: "quiet-leader-never-notices-isolation",
    rule:
      "a quiet leader that hears no majority of its voters wakes, so CheckQuorum runs (quiescence)",
    file: "runtime/multi_raft_host.ts",
    find:
      "for (const r of wakeIsolatedLeaders(this.#replicas.values(), silent)) this.#dirty.add(r);",
    replace: "void wakeIsolatedLeaders;",
    checks: [{
      kind: "test",
      file: "runtime/quiescence_test.ts",
      filter: "a quiet leader cut off from its voters",
    }],
  },
  {
    name: "snapshot-overstates-match",
    rule: "after InstallSnapshot a leader assumes only the snapshot's entries matched (Raft 7)",
    file: "raft/roles/leader.ts",
    find: 'if (pr.update(m.snapshotIndex) || pr.state === "snapshot") {',
    replace: 'if (pr.update(m.snapshotIndex + 3) || pr.state === "snapshot") {',
    // Three nodes: on five, a liveness failure can come first (the follower never gets the
    // entries the leader thinks it has), which is a catch too, but not the property named here.
    checks: [{ kind: "sim", seeds: 40, nodes: 3, expect: "Leader Completeness violated" }],
  },
  {
    name: "read-before-apply",
    rule:
      "the runtime serves a read only once the state machine applied its read index (thesis 6.4)",
    file: "runtime/replica.ts",
    find: "if (read.index > 0 && this.sm.appliedIndex >= read.index) read.resolve();",
    replace: "if (read.index > 0) read.resolve();",
    checks: [{ kind: "sim", seeds: 60, nodes: 5, expect: "not linearizable" }],
  },
  {
    name: "read-joins-sent-request",
    rule:
      "reads share a read-index request only if it was sent after they arrived (thesis 6.4, batched)",
    file: "runtime/round.ts",
    find: "r.openReads = undefined;",
    replace: "void 0;",
    // Join any request still unanswered, sent or not.
    also: [{
      file: "runtime/client_requests.ts",
      find: "const batch = replica.openReads ??",
      replace:
        "const batch = (replica.openReads && replica.reads.has(replica.openReads.context) ? replica.openReads : undefined) ??",
    }],
    checks: [{
      kind: "test",
      file: "runtime/reads_test.ts",
      filter: "share a read-index request only until it is sent",
    }],
  },
  {
    name: "ack-write-of-other-term",
    rule:
      "a write succeeds only if the entry applied at its index is the one it proposed (Raft 5.3)",
    file: "runtime/replica.ts",
    find: "if (e.term === w.term) w.resolve(result);",
    replace: "if (w) w.resolve(result);",
    // The acknowledged write is not in the log, so the watcher never sees it.
    checks: [{ kind: "sim", seeds: 120, nodes: 3, expect: "watch missed acknowledged" }],
  },
  {
    name: "apply-duplicate-twice",
    rule: "a session's retried write is answered from its stored result, never applied again",
    file: "partition/sessions.ts",
    find: 'if (stored) return { kind: "duplicate", outcome: stored };',
    replace: "",
    // Applied twice, a write shows up twice in the change history (the watch check) or as a
    // value no client could have read (linearizability), whichever a seed hits first.
    checks: [{ kind: "sim", seeds: 100, nodes: 3, expect: "not linearizable" }],
  },
  {
    name: "history-drops-changes",
    rule: "every applied write's changes reach the change history watchers read",
    file: "runtime/change_history.ts",
    find: "this.#byIndex.set(index, command);",
    replace: "if (index % 5 !== 0) this.#byIndex.set(index, command);",
    checks: [{ kind: "sim", seeds: 20, nodes: 3, expect: "watch missed acknowledged" }],
  },
  {
    name: "range-skips-key",
    rule: "a range read that starts just past a cursor returns the first key after it",
    file: "partition/sorted_keys.ts",
    find: ": this.#keys.slice(lo, Math.min(hi, lo + limit));",
    replace:
      ': this.#keys.slice(start.endsWith("\\u0000") ? lo + 1 : lo, Math.min(hi, lo + limit));',
    checks: [{ kind: "sim", seeds: 20, nodes: 3, expect: "a listing skipped" }],
  },
  {
    name: "file-acks-before-write",
    rule:
      "the file backend resolves a write only after its fdatasync (the Ready contract's persist)",
    file: "storage/file_storage.ts",
    find: "return this.#group.submit(batch);",
    replace: "void this.#group.submit(batch).catch(() => {});\n    return Promise.resolve();",
    checks: [{
      kind: "test",
      file: "tests/crash/crash_test.ts",
      filter: "(file backend",
      expect: "SIGKILL during writes loses nothing acknowledged (file backend",
    }],
  },
  {
    name: "recovery-ignores-high-water",
    rule: "recovery refuses a log that ends before the last acknowledged record",
    file: "storage/wal_recovery.ts",
    find: "if (lastSeq < acknowledged) {",
    replace: "if (lastSeq < 0) {",
    checks: [{
      kind: "test",
      file: "storage/file_storage_test.ts",
      filter: "a damaged last record that was acknowledged is refused",
    }],
  },
  {
    name: "recovery-ignores-segment-mark",
    rule: "recovery refuses a log that ends before its segments' acknowledged mark",
    file: "storage/wal_recovery.ts",
    find: "if (scan.mark && scan.mark.seq > acknowledged) {",
    replace: "if (scan.mark && scan.mark.seq < 0) {",
    checks: [{
      kind: "test",
      file: "storage/acknowledged_mark_test.ts",
      filter: "a log cut at a record boundary is refused",
    }],
  },
  {
    name: "damage-cut-as-torn-tail",
    rule: "a damaged record with a valid record after it is corruption, never a torn tail to cut",
    file: "storage/segment_scan.ts",
    find: "if (next) {",
    replace: "if (next && !isNewest) {",
    checks: [{
      kind: "test",
      file: "storage/file_storage_test.ts",
      filter: "a flipped bit in a length mid-segment",
    }],
  },
  {
    name: "health-ignores-storage-failure",
    rule: "a node whose storage failed reports itself unhealthy (503), whatever its partitions say",
    file: "server/health.ts",
    find: "if (failure) {",
    replace: "if (failure && partitions.length === 0) {",
    checks: [{
      kind: "test",
      file: "server/health_test.ts",
      filter: "a node whose disk is full answers 503",
    }],
  },
  {
    name: "wire-reader-truncates-32-bit-fields",
    rule: "a peer batch's reader accepts nothing the generated reader refuses or reads differently",
    file: "rpc/wire_cursor.ts",
    find: "if (v > 0xffff_ffff) throw new WireFormatError(`${v} does not fit a 32-bit field`);",
    replace: "",
    checks: [{
      kind: "test",
      file: "rpc/raft_read_test.ts",
      filter: "never accepts what the generated code refuses",
    }],
  },
  {
    name: "wire-reader-ignores-message-problems",
    rule: "a batch holding a message beyond the wire's limits is refused whole",
    file: "rpc/raft_read_message.ts",
    find: "if (v <= MAX_WIRE_NUMBER) return v;",
    replace: "return v;",
    checks: [{
      kind: "test",
      file: "rpc/raft_read_test.ts",
      filter: "keeps a malformed message's problem",
    }],
  },
  {
    name: "receiver-ignores-malformed-batch",
    rule: "a node refuses a whole peer batch with a malformed message, serving none of its writes",
    file: "server/node_server.ts",
    find: "if (batch.malformed !== undefined) throw new MalformedMessageError(batch.malformed);",
    replace: "",
    checks: [{
      kind: "test",
      file: "server/node_test.ts",
      filter: "a batch refused for one bad message serves none of the writes it carries",
    }],
  },
  {
    name: "lean-lane-skips-authorization",
    rule: "a call on the lean HTTP lane is authorized as on the general server",
    file: "server/http_server.ts",
    find:
      'if (admitted.kind !== "admitted" || head.contentLength > admitted.limit) return undefined;',
    replace:
      'if (admitted.kind === "over_cap" || admitted.kind === "bent_target") return undefined;\n' +
      '    if (admitted.kind === "refused") return null;',
    checks: [{
      kind: "test",
      file: "server/lean_http1_test.ts",
      filter: "over mutual TLS the caller is the certificate's",
    }],
  },
  {
    name: "http-server-authorizes-raw-target",
    rule: "a request is authorized for the path its handler will route on, never another",
    file: "server/http_server.ts",
    find: "const path = canonicalPath(target);",
    replace: 'const path = target.split("?")[0];',
    checks: [{
      kind: "test",
      file: "server/lean_http1_test.ts",
      filter: "a target a URL parser would read as another path",
    }],
  },
  {
    name: "lean-lane-puts-bytes-back-on-hand-over",
    rule: "a connection moved to the general server gets its unanswered bytes before later ones",
    file: "server/lean_http1.ts",
    find: 'if (unanswered.length > 0) socket.emit("data", unanswered);',
    replace:
      "socket.pause();\n    if (unanswered.length > 0) socket.unshift(unanswered);\n    socket.resume();",
    checks: [{
      kind: "test",
      file: "server/lean_http1_test.ts",
      filter: "bytes that arrive while a connection moves",
    }],
  },
  {
    name: "lean-lane-reads-chunked-bodies-by-length",
    rule:
      "the lean HTTP lane leaves a request with both a length and a chunked body to the general server",
    file: "server/lean_http1.ts",
    find:
      'if (method === "POST" ? (length === undefined) === !chunked : length !== undefined || chunked) {',
    replace: 'if (method === "POST" ? length === undefined && !chunked : length !== undefined) {',
    checks: [{
      kind: "test",
      file: "server/lean_http1_test.ts",
      filter: "parseRequestHead: anything but",
    }],
  },
  {
    name: "chunked-body-skips-the-crlf-after-data",
    rule: "a chunk's data must be followed by CRLF, or the body is refused",
    file: "rpc/chunked_body.ts",
    find:
      'if (bytes[i++] !== expected) throw new ChunkedBodyError("a chunk not followed by CRLF");',
    replace: "i++;",
    checks: [{
      kind: "test",
      file: "server/lean_http1_test.ts",
      filter: "whose chunks are malformed",
    }],
  },
  {
    name: "lean-stream-serves-on-after-a-refusal",
    rule: "a stream refused on the lean lane ends its connection: nothing after it is read",
    file: "server/lean_http1.ts",
    find: "return void socket.end(out, () => socket.destroy());",
    replace: "return void socket.write(out);",
    checks: [{
      kind: "test",
      file: "server/lean_http1_test.ts",
      filter: "whose chunks are malformed",
    }],
  },
  {
    name: "lean-lane-leaves-whole-streams-to-node-http",
    rule:
      "calls between nodes (the stream question, then pings on its connection) stay on the lean lane",
    file: "server/http_server.ts",
    find:
      'if (streaming ? !options.streamSink : STREAMED.test(head.headers.get("content-type") ?? "")) {',
    replace: 'if (streaming || STREAMED.test(head.headers.get("content-type") ?? "")) {',
    checks: [{
      kind: "test",
      file: "tests/cluster/cluster_test.ts",
      filter: "all three modes",
    }],
  },
  {
    name: "commit-notice-skips-an-owed-read-round",
    rule:
      "a commit notice to a follower that owes a read round is answered, so the round can count it",
    file: "raft/roles/leader.ts",
    find: "pr.matchIndex === log.lastIndex &&\n        pr.readRound >= this.readRound;",
    replace: "pr.matchIndex === log.lastIndex;",
    checks: [{ kind: "golden", script: "commit_notice.txt" }],
  },
  {
    name: "write-origin-believes-the-header",
    rule:
      "only a member's stream or Forward call names the node a write came through, never a client's header",
    file: "server/kv_service.ts",
    find: "    const origin = (ctx as ServedContext)[PASSED_ON_BY];",
    replace: "    const origin = Number(ctx.requestHeader.get(FORWARDED_HEADER));",
    checks: [{
      kind: "test",
      file: "tests/cluster/follow_writes_test.ts",
      filter: "claims its writes",
    }],
  },
  {
    name: "leadership-follows-writes-without-hysteresis",
    rule: "a partition stays while one node still sends most of its writes (no flapping)",
    file: "runtime/leader_balance.ts",
    find: "} else if (holder === self || voter(holder)) {",
    replace: "} else if (false) {",
    checks: [{
      kind: "test",
      file: "runtime/leader_follow_test.ts",
      filter: "swings around the line",
    }],
  },
  {
    name: "durable-notice-without-read-floor",
    rule:
      "a leader that lets a follower answer for an entry makes every later read wait for that entry",
    file: "raft/node.ts",
    find: "    role.readFloor = Math.max(role.readFloor, index);\n",
    replace: "",
    checks: [
      { kind: "test", file: "raft/durable_notice_test.ts", filter: "a read admitted afterwards" },
      { kind: "sim", seeds: 60, nodes: 3, passedOnPuts: 0.8, expect: "not linearizable" },
    ],
  },
  {
    name: "durable-notice-with-five-voters",
    rule: "a follower may answer on the leader's notice only when the two are a majority",
    file: "raft/node.ts",
    find: "if (voters.length > 3 || !voters.includes(raft.id)",
    replace: "if (!voters.includes(raft.id)",
    checks: [{ kind: "test", file: "raft/durable_notice_test.ts", filter: "a majority" }],
  },
  {
    name: "durable-answer-before-own-write",
    rule:
      "a follower answers on the leader's notice only once its own copy of the entry is on disk",
    file: "runtime/durability.ts",
    find: 'if (index > this.#index || index > node.stableIndex) return "later";',
    replace: 'if (node.termAt(index) === undefined) return "later";',
    // The simulation loses such a write only when the follower dies before its own write and
    // the leader before another follower has the entry: too rare for a few seeds.
    checks: [{ kind: "test", file: "runtime/durability_test.ts", filter: "has written it" }],
  },
];
