/**
 * Plain-text tables for the operator CLI: one header row, columns padded to
 * their widest cell, two spaces between columns.
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command-line table: printing is its job

/**
 * Prints `head` and `rows` as aligned columns to stdout.
 *
 * @example
 * ```ts
 * import { printTable } from "./table.ts";
 * printTable(["NODE", "ROLE"], [["1", "leader"], ["2", "follower"]]);
 * // NODE  ROLE
 * // 1     leader
 * // 2     follower
 * ```
 */
export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) {
    console.log(r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
  }
}
