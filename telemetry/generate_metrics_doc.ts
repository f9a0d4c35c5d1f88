/**
 * Writes `docs/metrics.md` from the metric catalogue: `deno task docs:metrics`.
 *
 * @module
 */
import { metricsMarkdown } from "./metric_definitions.ts";

if (import.meta.main) {
  const path = new URL("../docs/metrics.md", import.meta.url);
  await Deno.writeTextFile(path, metricsMarkdown());
  // deno-lint-ignore no-console -- a generator: says what it wrote
  console.log(`wrote ${path.pathname}`);
}
