/**
 * Where a PrkDB cluster's partition leaders are, and moving them: the benchmarks measure with the
 * leaders balanced (the cluster's steady state) or all on one node (as etcd has one leader),
 * since on one machine the layout changes what a write costs.
 *
 * @module
 */

/**
 * Each partition's leader's URL, from node `url`'s status document.
 *
 * @param url A node's base URL.
 * @param nodes Every node's base URL by id.
 * @param client The connections to use (TLS).
 */
export async function leaderUrls(
  url: string,
  nodes: ReadonlyMap<number, string>,
  client?: Deno.HttpClient,
): Promise<string[]> {
  const status = await (await fetch(`${url}/status.json?scope=node`, { client })).json();
  const out: string[] = [];
  for (const r of status.replicas as { partition: number; leader: number }[]) {
    const leader = nodes.get(r.leader);
    if (!leader) throw new Error(`partition ${r.partition} has no leader`);
    out[r.partition] = leader;
  }
  return out;
}

/** How many partitions each node leads, as node `url` sees it. */
export async function leaderCounts(
  url: string,
  nodes: ReadonlyMap<number, string>,
  client?: Deno.HttpClient,
): Promise<Map<number, number>> {
  const counts = new Map<number, number>([...nodes.keys()].map((id) => [id, 0]));
  for (const leader of await leaderUrls(url, nodes, client)) {
    for (const [id, u] of nodes) if (u === leader) counts.set(id, counts.get(id)! + 1);
  }
  return counts;
}

/**
 * Waits until no node leads more than one partition more than another. Leader balancing hands a
 * partition to its preferred node only once that node holds the whole log, checking every few
 * seconds, so right after start (or under load) the leaders may be piled up wherever the
 * elections put them.
 *
 * @returns Whether they balanced within `timeoutMs`.
 */
export async function awaitBalancedLeaders(
  url: string,
  nodes: ReadonlyMap<number, string>,
  client?: Deno.HttpClient,
  timeoutMs = 60_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = [...(await leaderCounts(url, nodes, client).catch(() => new Map())).values()];
    if (counts.length === nodes.size && Math.max(...counts) - Math.min(...counts) <= 1) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Moves every partition's leadership to node `to` (`/admin/move-leader`, which pins it there
 * against leader balancing), asking again while a move cannot start yet.
 *
 * @param url A node's base URL.
 * @param partitions The cluster's partition count.
 * @param to The node to lead them all.
 * @param client Connections a member's certificate opens (moving leaders is for members).
 */
export async function moveLeadersTo(
  url: string,
  partitions: number,
  to: number,
  client?: Deno.HttpClient,
): Promise<void> {
  for (let partition = 0; partition < partitions; partition++) {
    for (let attempt = 0;; attempt++) {
      const r = await fetch(`${url}/admin/move-leader`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ partition, to }),
        client,
      });
      const text = await r.text();
      if (r.ok) break;
      if (attempt >= 20) throw new Error(`moving partition ${partition} to node ${to}: ${text}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
