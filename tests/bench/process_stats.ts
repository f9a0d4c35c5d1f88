/**
 * What a process has used so far, read from `/proc` (Linux): the benchmarks take two readings
 * around a measurement and divide the difference by the operations done.
 *
 * @module
 */

/** Fields of `/proc/<pid>/stat` after the command name (which may hold spaces). */
function statFields(pid: number): string[] {
  return Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
}

/** CPU seconds (user + system) process `pid` has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

/** CPU seconds process `pid` has spent in the kernel so far. */
export function systemSeconds(pid: number): number {
  return Number(statFields(pid)[12]) / 100;
}

/**
 * Context switches of every thread of process `pid` so far: voluntary (a thread waited: for I/O,
 * a lock, a timer) and involuntary (the kernel took a core from a thread that could have run on).
 */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  const total = { voluntary: 0, involuntary: 0 };
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/status`);
    } catch {
      continue; // the thread ended between the listing and the read
    }
    total.voluntary += Number(status.match(/^voluntary_ctxt_switches:\s+(\d+)$/m)?.[1] ?? 0);
    total.involuntary += Number(status.match(/^nonvoluntary_ctxt_switches:\s+(\d+)$/m)?.[1] ?? 0);
  }
  return total;
}
