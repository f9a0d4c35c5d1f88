/**
 * How an applied log entry is described on a partition's change feed.
 *
 * @module
 */
import type { Entry } from "../raft/entry.ts";
import { decodeCommand } from "../partition/command.ts";
import type { PartitionChange } from "../rpc/gen/prkdb/v1/replication_pb.ts";

/**
 * Describes an applied entry for the change feed: the command's bytes, plus `op`, `key` and
 * `value` for an unconditional single-key write, so simple readers need not decode commands.
 *
 * @param entry An applied entry.
 * @returns The wire form.
 */
export function partitionChange(
  entry: Entry,
): Pick<PartitionChange, "index" | "op" | "key" | "value" | "command"> {
  const none = new Uint8Array();
  const base = { index: BigInt(entry.index), key: none, value: none };
  if (entry.type !== "normal") return { ...base, op: "", command: none };
  const command = decodeCommand(entry.data);
  if (command.op === "openSession") return { ...base, op: "session", command: entry.data };
  if (command.op === "expire") return { ...base, op: "expire", command: entry.data };
  const [m] = command.mutations;
  if (command.checks.length > 0 || command.mutations.length !== 1) {
    return { ...base, op: "write", command: entry.data };
  }
  return {
    ...base,
    op: m.type === "set" ? "put" : "delete",
    key: m.key,
    value: m.type === "set" ? m.value : none,
    command: entry.data,
  };
}
