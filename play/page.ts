/**
 * The playground's HTML page: layout, styles and controls. Its script is the bundled
 * `play_web/app.ts`, served from the same server as `/app.js`; nothing is loaded from anywhere else.
 *
 * @module
 */

const STYLE = `
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{padding:10px 16px;background:#1d232b;color:#fff;display:flex;gap:18px;align-items:baseline}
header h1{font-size:16px;margin:0}
header span{opacity:.8}
main{padding:12px 16px;display:grid;gap:12px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 12px}
h2{font-size:12px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#55606e}
.bar{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}
.bar label{display:inline-flex;gap:4px;align-items:center}
input[type=number]{width:5em}
button{font:inherit;padding:2px 8px;margin:1px 2px;cursor:pointer}
.dim{color:#8a94a3}
#nodes{display:flex;flex-wrap:wrap;gap:10px}
#logs{overflow-x:auto}
.cluster{display:flex;gap:16px;align-items:center}
.ring text{text-anchor:middle;font-size:12px;font-weight:600;fill:#fff}
.ring text.small{font-size:10px;font-weight:400}
.ring .body{fill:#8a94a3;stroke:#fff;stroke-width:2}
.ring .Leader .body{fill:#1565c0}
.ring .Candidate .body,.ring .PreCandidate .body{fill:#e65100}
.ring .Crashed .body{fill:#dde1e6;stroke:#8a94a3;stroke-dasharray:3 3}
.ring .Crashed text{fill:#55606e}
.ring .isolated .body{stroke:#c62828;stroke-width:3;stroke-dasharray:4 3}
.ring .timer-arc{fill:none;stroke:#e65100;stroke-width:3}
.ring .Leader .timer-arc{stroke:#1565c0}
.ring .wire{stroke:#dde1e6;stroke-width:1}
.ring .msg{fill:#55606e;stroke:#fff}
.ring .msg.Vote,.ring .msg.VoteResponse{fill:#e65100}
.ring .msg.AppendEntries,.ring .msg.AppendEntriesResponse{fill:#1565c0}
.ring .msg.Heartbeat,.ring .msg.HeartbeatResponse{fill:#17803d}
.ring .msg.response{fill:#fff;stroke-width:2}
.ring .msg.response.VoteResponse{stroke:#e65100}
.ring .msg.response.AppendEntriesResponse{stroke:#1565c0}
.ring .msg.response.HeartbeatResponse{stroke:#17803d}
.node{border:1px solid #dde1e6;border-radius:6px;padding:8px 10px;min-width:170px}
.node .role{display:inline-block;border-radius:3px;padding:0 5px;color:#fff;background:#8a94a3}
.node.Leader .role{background:#1565c0}
.node.Candidate .role,.node.PreCandidate .role{background:#e65100}
.node.Crashed{opacity:.55;border-style:dashed}.node.Crashed .role{background:#c62828}
.node.isolated{outline:2px dashed #c62828}
.tag{color:#c62828;font-weight:600}
.timer{height:6px;background:#eef0f3;border-radius:3px;margin-top:4px;overflow:hidden}
.timer div{height:100%;background:#e65100}
.node.Leader .timer div{background:#1565c0}
table{border-collapse:collapse}
.logs th{font-weight:600;color:#55606e;padding:2px 6px;text-align:center;min-width:22px}
.logs td{width:26px;height:24px;text-align:center;border:1px solid #fff;font-weight:600}
.logs td.empty{background:#f6f7f9}
.logs td.snap{background:#dde1e6;color:#8a94a3}
.logs td.uncommitted{opacity:.6;outline:1px dashed #1d232b;outline-offset:-3px}
.logs td.commit{box-shadow:inset -4px 0 0 #1d232b}
.logs td.config{text-decoration:underline}
.logs tr.Crashed{opacity:.5}
.t0{background:#cfd8dc}.t1{background:#90caf9}.t2{background:#a5d6a7}.t3{background:#ffcc80}
.t4{background:#ce93d8}.t5{background:#80deea}.t6{background:#ef9a9a}.t7{background:#e6ee9c}
.messages td,.messages th{padding:2px 8px;border-bottom:1px solid #eef0f3;text-align:left;white-space:nowrap}
.messages td.text{font-family:ui-monospace,monospace;font-size:12px;white-space:normal}
pre{font:12px/1.35 ui-monospace,monospace;margin:0;white-space:pre-wrap}
#verdict.ok{color:#17803d}#verdict.bad{color:#c62828;font-weight:600}
[hidden]{display:none!important}
`;

const BODY = `
<header><h1>PrkDB playground</h1><span>the real Raft core of PrkDB, running in this page</span></header>
<main>
<section>
  <div class="bar">
    <button id="step" title="handle a Ready, deliver a message, or tick">Step</button>
    <button id="run">Run</button>
    <label>speed <select id="speed"><option value="600">slow</option>
      <option value="150" selected>normal</option><option value="20">fast</option></select></label>
    <span id="free-controls" class="bar">
      <button id="tick" title="advance every running node's clock now">Tick</button>
      <button id="back" title="undo the last action">Back</button>
      <button id="heal">Heal network</button>
      <label>command <input id="command" value="x=1" size="8"></label>
      <button id="propose">Propose on leader</button>
      <label>seed <input id="seed" type="number" value="1" min="0"></label>
      <label>nodes <select id="size"><option>3</option><option selected>5</option></select></label>
      <button id="reset" title="a fresh cluster with this seed">Reset</button>
      <button id="replay" title="a fresh cluster with this seed, then the same actions again">Replay</button>
    </span>
    <span class="bar">
      <label>golden script <select id="scripts"></select></label>
      <button id="load">Load</button>
      <button id="free" hidden>Free play</button>
    </span>
  </div>
  <div id="status" class="dim"></div>
</section>
<section><h2>Nodes (the arc around each is its timer)</h2>
  <div class="cluster"><div id="ring"></div><div id="nodes"></div></div></section>
<section><h2>Logs (cell = entry's term; dashed = not committed; bar = commit index)</h2>
  <div id="logs"></div></section>
<section><h2>Messages on the wire</h2><div id="messages"></div></section>
<section><h2 id="trace-title">Last step</h2><div id="verdict"></div><pre id="trace"></pre></section>
</main>
`;

/** The whole page. */
export const PAGE: string = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>PrkDB playground</title>
<style>${STYLE}</style></head><body>${BODY}<script type="module" src="app.js"></script></body></html>
`;
