/**
 * The cluster view served at `/ui`: one self-contained page (no scripts, styles or fonts from
 * anywhere else) that polls this node's `/status.json` once a second and draws every node,
 * every partition's replicas (role, term, commit and applied index, log length, snapshot index)
 * with its leader, message and proposal rates, recent elections and leadership transfers, and
 * health. With `--demo-actions` it also offers to transfer a leader and to write a key, and in
 * a demo cluster (`cli.ts cluster --demo-actions`) to pause, resume, kill and restart nodes.
 *
 * @module
 */

const STYLE = `
body{font:13px/1.35 system-ui,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{padding:10px 16px;background:#1d232b;color:#fff;display:flex;gap:18px;align-items:baseline}
header h1{font-size:16px;margin:0}
header span{opacity:.8}
main{padding:12px 16px;display:grid;gap:14px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 12px}
h2{font-size:13px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#55606e}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f3;white-space:nowrap}
th{font-weight:600;color:#55606e;position:sticky;top:0;background:#fff}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17803d}.bad{color:#c62828;font-weight:600}
.cell{font-variant-numeric:tabular-nums}
.role{display:inline-block;min-width:1.6em;text-align:center;border-radius:3px;padding:0 3px;
  margin-right:4px;font-weight:600;color:#fff;background:#8a94a3}
.Leader .role{background:#1565c0}.Candidate .role,.PreCandidate .role{background:#e65100}
.dim{color:#8a94a3}
#partitions{max-height:60vh;overflow:auto}
#events li{margin:2px 0;font-variant-numeric:tabular-nums}
#events ul{margin:0;padding-left:18px;max-height:30vh;overflow:auto}
form{display:inline-flex;gap:6px;margin-right:18px;align-items:center}
input{width:6em}
#error{color:#c62828}
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const short = { Leader: "L", Follower: "F", Candidate: "C", PreCandidate: "P" };
const rate = (n) => n >= 100 ? n.toFixed(0) : n.toFixed(1);

/** The leader and term of a partition: the newest term's leader any replica reports. */
function leaderOf(replicas) {
  let best = { leader: 0, term: 0 };
  for (const r of replicas) {
    if (r.term > best.term || (r.term === best.term && r.leader && !best.leader)) {
      best = { leader: r.leader, term: r.term };
    }
  }
  return best;
}

function render(doc) {
  const nodes = doc.nodes;
  $("title").textContent = "PrkDB cluster " + doc.cluster;
  $("meta").textContent = nodes.length + " nodes, " + doc.partitions + " partitions, served by node " +
    doc.servedBy + ", updated " + doc.time.slice(11, 19) + " UTC";
  // With node actions (a demo cluster): buttons to pause, resume, kill and restart each node.
  const buttons = (id) => !doc.nodeActions ? "" : "<td>" + ["pause", "resume", "kill", "restart"]
    .map((a) => '<button data-act="' + a + '" data-id="' + id + '">' + a + "</button>").join(" ") +
    "</td>";
  $("nodes").innerHTML = "<tr><th>Node</th><th>URL</th><th>Health</th><th>Leads</th>" +
    "<th>Msgs sent/s</th><th>Msgs recv/s</th><th>Proposals/s</th>" +
    (doc.nodeActions ? "<th>Demo</th>" : "") + "</tr>" + nodes.map((n) => {
      const s = n.status;
      if (!s) return '<tr data-node="' + n.id + '"><td>' + n.id + "</td><td>" + esc(n.url) +
        '</td><td class="bad" colspan="5">unreachable: ' + esc(n.error || "") + "</td>" +
        buttons(n.id) + "</tr>";
      const leads = s.replicas.filter((r) => r.role === "Leader").length;
      return '<tr data-node="' + n.id + '"><td>' + n.id + "</td><td>" + esc(n.url) + "</td><td " +
        (s.healthy ? 'class="ok">healthy' : 'class="bad" title="' + esc(s.reason || "") + '">unhealthy') +
        '</td><td class="num">' + leads + '</td><td class="num">' + rate(s.rates.messagesSent) +
        '</td><td class="num">' + rate(s.rates.messagesReceived) + '</td><td class="num">' +
        rate(s.rates.proposals) + "</td>" + buttons(n.id) + "</tr>";
    }).join("");
  const byPartition = new Map();
  for (const n of nodes) {
    for (const r of n.status?.replicas ?? []) {
      if (!byPartition.has(r.partition)) byPartition.set(r.partition, new Map());
      byPartition.get(r.partition).set(n.id, r);
    }
  }
  const rows = [];
  for (let p = 0; p < doc.partitions; p++) {
    const seen = byPartition.get(p) ?? new Map();
    const { leader, term } = leaderOf([...seen.values()]);
    const healthy = [...seen.values()].every((r) => r.healthy) && seen.size > 0;
    const cells = nodes.map((n) => {
      const r = seen.get(n.id);
      if (!r) return '<td class="dim">' + (n.status ? "" : "?") + "</td>";
      return '<td class="cell ' + r.role + '" title="last log index ' + r.lastLogIndex + '">' +
        '<span class="role">' + (short[r.role] ?? r.role) + "</span>t" + r.term + " c" +
        r.commitIndex + " a" + r.lastApplied + ' <span class="dim">log ' + r.logLength +
        " snap " + r.snapshotIndex + "</span></td>";
    }).join("");
    rows.push('<tr data-partition="' + p + '" data-leader="' + leader + '" data-term="' + term +
      '"><td>' + p + "</td><td>" + (leader ? "node " + leader : '<span class="bad">none</span>') +
      '</td><td class="num">' + term + "</td><td " + (healthy ? 'class="ok">ok' : 'class="bad">no') +
      "</td>" + cells + "</tr>");
  }
  $("partitions-table").innerHTML = "<tr><th>Partition</th><th>Leader</th><th>Term</th>" +
    "<th>Healthy</th>" + nodes.map((n) => "<th>Node " + n.id + "</th>").join("") + "</tr>" +
    rows.join("");
  const events = nodes.flatMap((n) => (n.status?.events ?? []).map((e) => ({ ...e, at: n.id })))
    .sort((a, b) => b.time.localeCompare(a.time)).slice(0, 40);
  $("events-list").innerHTML = events.length === 0 ? '<li class="dim">none yet</li>' :
    events.map((e) => "<li>" + e.time.slice(11, 23) + " partition " + e.partition + ": node " +
      e.at + " " + ({
        election: "started an election for term " + e.term,
        leader: "learned node " + e.node + " leads term " + e.term,
        transfer: "leadership transfer to node " + e.node + " " + e.detail,
        "quorum-lost": "stepped down: lost its quorum (term " + e.term + ")",
      })[e.kind] + "</li>").join("");
  $("demo").hidden = !doc.demoActions;
  document.body.dataset.updated = doc.time;
}

async function poll() {
  try {
    const response = await fetch("status.json", { cache: "no-store" });
    const doc = await response.json();
    if (doc.version !== 1) throw new Error("unknown status document version " + doc.version);
    render(doc);
    $("error").textContent = "";
  } catch (error) {
    $("error").textContent = "Could not load status.json: " + error.message;
  }
  setTimeout(poll, 1000);
}

async function act(form, run) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = form.querySelector("output");
    try { out.textContent = await run(new FormData(form)); } catch (e) { out.textContent = e.message; }
  });
}
act($("transfer"), async (f) => {
  const r = await fetch("demo/transfer-leader", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ partition: Number(f.get("partition")), to: Number(f.get("to")) }) });
  const body = await r.json();
  return r.ok ? "transfer started at node " + body.leader : body.error;
});
$("nodes").addEventListener("click", async (event) => {
  const b = event.target.closest("button[data-act]");
  if (!b) return;
  $("node-action").textContent = b.dataset.act + " node " + b.dataset.id + " ...";
  try {
    const r = await fetch("demo/node", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ node: Number(b.dataset.id), action: b.dataset.act }) });
    const body = await r.json();
    $("node-action").textContent = r.ok ? body.done : body.error;
  } catch (e) { $("node-action").textContent = e.message; }
});
act($("put"), async (f) => {
  const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
  const r = await fetch("prkdb.v1.KvService/Put", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: b64(f.get("key")), value: b64(f.get("value")) }) });
  const body = await r.json();
  return r.ok ? "written at version " + body.version : body.message;
});
poll();
`;

/** The page's HTML. */
export const UI_HTML: string = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>PrkDB cluster view</title><style>${STYLE}</style></head>
<body>
<header><h1 id="title">PrkDB cluster</h1><span id="meta">loading status.json ...</span>
<span id="error"></span></header>
<main>
<section><h2>Nodes</h2><table id="nodes"></table><output id="node-action"></output></section>
<section><h2>Partitions</h2>
<div class="dim">Each replica: role (L leader, F follower, C candidate, P pre-candidate), term,
commit index, applied index, log length after the snapshot, snapshot index.</div>
<div id="partitions"><table id="partitions-table"></table></div></section>
<section id="events"><h2>Recent elections and transfers</h2><ul id="events-list"></ul></section>
<section id="demo" hidden><h2>Demo actions</h2>
<form id="transfer">Transfer partition <input name="partition" type="number" min="0" required>
to node <input name="to" type="number" min="1" required><button>Transfer</button><output></output></form>
<form id="put">Put key <input name="key" required> value <input name="value"><button>Put</button>
<output></output></form></section>
</main>
<script>${SCRIPT}</script>
</body></html>
`;

/**
 * The `/ui` response.
 *
 * @returns The page, never cached (it is tiny, and a stale one would poll a changed document).
 */
export function uiPage(): Response {
  return new Response(UI_HTML, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // Everything it needs comes from this node.
      "content-security-policy":
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
    },
  });
}
