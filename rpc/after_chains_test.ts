import { assertEquals } from "@std/assert";
import { afterChains, CHAIN_STEPS } from "./after_chains.ts";

Deno.test("afterChains runs after promise chains of up to its steps, in the same turn, in order", async () => {
  const order: string[] = [];
  let timerRan = false;
  const timer = setTimeout(() => timerRan = true, 0);
  afterChains(() => order.push(`flush 1 (timer ran: ${timerRan})`));
  // A chain as long as the steps given, less the one step a callback needs to be queued.
  let chain: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < CHAIN_STEPS - 2; i++) chain = chain.then();
  const chainDone = chain.then(() => order.push("answer"));
  afterChains(() => order.push("flush 2"));
  await chainDone;
  await new Promise((resolve) => setTimeout(resolve, 0));
  clearTimeout(timer);
  assertEquals(order, ["answer", "flush 1 (timer ran: false)", "flush 2"]);
  // A new count starts for a callback registered after the last one ran.
  const later: string[] = [];
  afterChains(() => later.push("again"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(later, ["again"]);
});

Deno.test("afterChains runs every callback even when one throws, and reports the error", async () => {
  const ran: string[] = [];
  const reported = new Promise<unknown>((resolve) => {
    const onError = (e: ErrorEvent) => {
      e.preventDefault();
      globalThis.removeEventListener("error", onError);
      resolve(e.error);
    };
    globalThis.addEventListener("error", onError);
  });
  afterChains(() => {
    throw new Error("boom");
  });
  afterChains(() => ran.push("second"));
  assertEquals(((await reported) as Error).message, "boom");
  assertEquals(ran, ["second"]);
});
