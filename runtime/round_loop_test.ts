/**
 * The round loop tells each round whether the node was idle before it: only the first round
 * after a pause may block the thread for its storage write.
 */
import { assertEquals } from "@std/assert";
import { ManualClock } from "./clock.ts";
import { LoopUtilization } from "./loop_utilization.ts";
import { RoundLoop } from "./round_loop.ts";

function loopRecording(manual: boolean, work: number[]) {
  const idle: boolean[] = [];
  const clock = new ManualClock();
  const loop = new RoundLoop((wasIdle) => {
    idle.push(wasIdle);
    // Each entry of `work` is how many rounds in a row find work before one finds none.
    if (work[0] > 0) {
      work[0]--;
      return Promise.resolve(true);
    }
    work.shift();
    return Promise.resolve(false);
  }, { clock, utilization: new LoopUtilization(clock), manual, onFailure() {} });
  return { idle, loop };
}

Deno.test("RoundLoop: the first round after a pause was idle, the rounds that follow it straight away were not", async () => {
  const { idle, loop } = loopRecording(false, [2, 0]);
  await loop.flush();
  assertEquals(idle, [true, false, false]);
  loop.schedule();
  await loop.flush();
  // schedule() started a run (idle, no work); flush() then ran one of its own after it.
  assertEquals(idle, [true, false, false, true, true]);
  await loop.close();
});

Deno.test("RoundLoop: a manually driven loop never reports idle (tests and simulations wait for nothing)", async () => {
  const { idle, loop } = loopRecording(true, [2, 0]);
  await loop.flush();
  await loop.flush();
  assertEquals(idle, [false, false, false, false]);
  await loop.close();
});
