/* dcluster dashboard: a single-page app served by salt-api (rest_cherrypy).
 *
 * It logs in with Salt eauth (POST /login) and calls the dcluster runners
 * (POST / with the X-Auth-Token header).  Requests omit credentials, so the
 * browser never keeps salt-api's session cookie and other sites cannot ride
 * on it.  Salt's eauth ACLs decide what a user may do.
 * Data goes into the page as text (textContent, createElement), never as HTML.
 * No library: fetch, DOM and <canvas>.
 */
"use strict";

(function () {
  const API = "";                 // salt-api root; the shipped config serves the app from the same origin
  const REFRESH_MS = 5000;
  const STORE = "dcluster.session";
  let session = null;             // {token, user, expire}
  let view = "workers";
  let timer = null;
  let busy = false;

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------ DOM helpers (text only)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === "data") for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function text(id, value) { $(id).textContent = value === undefined || value === null ? "" : String(value); }

  function age(now, since) {
    if (!since) return "";
    let s = Math.max(0, Math.floor(now - since));
    if (s >= 86400) return Math.floor(s / 86400) + "d" + Math.floor((s % 86400) / 3600) + "h";
    if (s >= 3600) return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
    return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  }
  function badge(value, prefix) {
    return el("span", {class: "badge " + prefix + String(value || "").replace(/[^a-z_]/g, "")}, value || "-");
  }
  function say(msg, bad) {
    const m = $("message");
    m.textContent = msg;
    m.className = "message" + (bad ? " bad" : "");
    m.hidden = !msg;
  }

  // ------------------------------------------------------------ salt-api
  class AuthError extends Error {}

  // credentials "omit": the session cookie /login sets is never stored, so no other page can ride on it;
  // every call carries the token in the X-Auth-Token header instead.
  async function post(path, body, token) {
    const headers = {"Content-Type": "application/json", "Accept": "application/json"};
    if (token) headers["X-Auth-Token"] = token;
    const resp = await fetch(API + path, {
      method: "POST", credentials: "omit", cache: "no-store", headers, body: JSON.stringify(body),
    });
    if (resp.status === 401 || resp.status === 403) throw new AuthError(resp.status === 401 ? "not authorised" : "forbidden");
    if (!resp.ok) throw new Error("salt-api answered HTTP " + resp.status);
    return resp.json();
  }

  async function runner(fun, kwarg) {
    if (!session) throw new AuthError("not logged in");
    const out = await post("/", [{client: "runner", fun: "dcluster." + fun, kwarg: kwarg || {}}], session.token);
    const ret = out && out.return ? out.return[0] : undefined;
    if (typeof ret === "string" && /^(Exception|Traceback|Error|.*Error:)/.test(ret)) throw new Error(failure(ret));
    return ret;
  }

  // A runner that raised (no engine, a refused command): salt-api answers with Salt's text, a traceback whose
  // last line is the exception and its message ("salt.exceptions.CommandExecutionError: dcluster.hold: ...").
  function failure(text) {
    const lines = text.trim().split("\n");
    const last = lines[lines.length - 1].replace(/^[\w.]*(Error|Exception): /, "");
    return lines.length > 1 && last ? last : lines[0];
  }

  async function login(username, password, eauth) {
    const out = await post("/login", {username, password, eauth});
    const t = out && out.return ? out.return[0] : null;
    if (!t || !t.token) throw new AuthError("login failed");
    return {token: t.token, user: t.user || username, expire: t.expire || 0, perms: t.perms || null};
  }

  // Whether the eauth ACL of this user names a runner (the server decides anyway; this only greys out buttons).
  function may(fun) {
    const perms = session && session.perms;
    if (!Array.isArray(perms)) return true;
    const full = "dcluster." + fun;
    const test = (p) => { try { return new RegExp("^(?:" + p + ")$").test(full); } catch (e) { return p === full; } };
    for (const entry of perms) {
      if (typeof entry === "string" && (entry === ".*" || entry === "@runner")) return true;
      if (entry && typeof entry === "object") {
        for (const [k, v] of Object.entries(entry)) {
          if (k !== "@runner" && k !== ".*") continue;
          const list = Array.isArray(v) ? v : [v];
          if (list.some((p) => typeof p === "string" ? test(p) : p && Object.keys(p).some(test))) return true;
        }
      }
    }
    return false;
  }

  // ------------------------------------------------------------ actions (confirmed)
  function button(fun, label, cls, onclick) {
    const ok = may(fun);
    return el("button", {type: "button", class: cls || null, data: {act: fun}, disabled: !ok,
      title: ok ? null : "not permitted for " + session.user, on: {click: onclick}}, label);
  }

  async function act(fun, kwarg, question) {
    if (!window.confirm(question)) return;
    try {
      const r = await runner(fun, kwarg);
      if (r && r.ok === false) say(fun + ": " + (r.message || "refused"), true);
      else say((r && r.message) || (fun + " done") , false);
    } catch (e) {
      if (e instanceof AuthError) say(fun + ": not permitted for " + session.user + " (" + e.message + ")", true);
      else say(fun + ": " + e.message, true);
    }
    refresh();
  }

  // ------------------------------------------------------------ views
  async function header() {
    const s = await runner("server_status");
    if (!s || typeof s !== "object") return s;
    const e = $("engine");
    clear(e);
    if (s.ok === false) { e.appendChild(el("span", {class: "bad"}, s.message || "engine unavailable")); return s; }
    e.appendChild(el("span", {class: s.engine_stale ? "bad" : "good"},
      "engine " + (s.engine_stale ? "stale" : "live") + " (" + Math.round(s.engine_age_s) + " s)"));
    e.appendChild(document.createTextNode(" \u00b7 scheduler "));
    e.appendChild(el("span", {class: s.scheduler_ok ? "good" : "bad"}, s.scheduler_ok ? "ok" : "failing"));
    e.appendChild(document.createTextNode(" \u00b7 auto " + (s.auto_mode ? "on" : "off")));
    return s;
  }

  async function showWorkers() {
    const state = $("worker-state").value;
    const workers = await runner("workers");
    const now = Date.now() / 1000;
    const states = new Set(["", ...Array.from($("worker-state").options).map((o) => o.value)]);
    for (const w of workers || []) if (!states.has(w.state)) {
      $("worker-state").appendChild(el("option", {value: w.state}, w.state)); states.add(w.state);
    }
    const rows = (workers || []).filter((w) => !state || w.state === state);
    const body = clear($("workers").tBodies[0]);
    text("worker-count", rows.length + " of " + (workers || []).length);
    if (!rows.length) body.appendChild(el("tr", {}, el("td", {colspan: 10, class: "empty"}, "no workers")));
    for (const w of rows) {
      const node = w.node || {};
      const inst = w.instance;
      const buttons = [];
      const nodeState = node.state || "";
      if (w.node && nodeState !== "held") buttons.push(button("hold", "Hold", "",
        () => act("hold", {name: w.name}, "Hold " + w.name + "? No new jobs will start on it.")));
      if (w.node && (nodeState === "held" || w.state === "held" || w.state === "draining")) buttons.push(button(
        "release", "Release", "", () => act("release", {name: w.name}, "Release " + w.name + "?")));
      if (w.jobs && w.jobs.length) buttons.push(button("vacate", "Vacate", "danger", () => act("vacate", {name: w.name},
        "Vacate " + w.name + "? Its jobs " + w.jobs.join(", ") + " are requeued or killed.")));
      if (w.state !== "physical") buttons.push(button("remove", "Remove", "danger", () => act("remove", {name: w.name},
        "Remove " + w.name + " from the scheduler and destroy its instance?")));
      body.appendChild(el("tr", {data: {name: w.name}},
        el("td", {class: "name"}, w.name),
        el("td", {class: "state"}, badge(w.state, "s-")),
        el("td", {class: "node"}, w.node ? badge(nodeState, "n-") : "-",
          node.hold_reason ? el("div", {class: "muted"}, node.hold_reason) : null),
        el("td", {}, w.resource || "physical"),
        // age_s: the engine's own measure; "since" is on its monotonic clock, not comparable with this browser's
        el("td", {class: "age"}, typeof w.age_s === "number" ? age(now, now - w.age_s) : ""),
        el("td", {}, w.reason || ""),
        el("td", {}, (w.jobs || []).slice(0, 8).join(", ") + ((w.jobs || []).length > 8 ? " \u2026" : "")),
        el("td", {}, w.cores || ""),
        el("td", {}, inst ? [inst.id, el("div", {class: "muted"}, [inst.state, inst.ip].filter(Boolean).join(" \u00b7 "))] : "-"),
        el("td", {class: "actions"}, buttons)));
    }
    await showWorkerGraphs();
  }

  async function showJobs() {
    const all = $("jobs-all").checked;
    const [jobs, status] = await Promise.all([runner("jobs", all ? {state: "all"} : {}), runner("status")]);
    const pend = (status && status.pending) || {};
    const why = clear($("job-plan"));
    if (pend.jobs !== undefined) {
      why.appendChild(el("p", {}, "Pending: " + pend.jobs + " job(s), " + pend.cores + " core(s); waiting for workers under way: " + (pend.waiting || 0) + "."));
      if ((pend.unplaceable || []).length) why.appendChild(el("ul", {class: "errors"}, pend.unplaceable.map((u) => el("li", {}, "cannot place " + u))));
    }
    const body = clear($("jobs").tBodies[0]);
    const now = Date.now() / 1000;
    text("job-count", (jobs || []).length + (all ? " jobs" : " pending (display limit: queued_job_number_to_display)"));
    if (!jobs || !jobs.length) body.appendChild(el("tr", {}, el("td", {colspan: 12, class: "empty"}, "no jobs")));
    for (const j of jobs || []) {
      body.appendChild(el("tr", {},
        el("td", {}, j.id), el("td", {}, j.name), el("td", {}, j.owner), el("td", {}, badge(j.state, "j-")),
        el("td", {}, j.queue), el("td", {}, j.account),
        el("td", {}, j.chunks + " \u00d7 " + j.chunk_cores),
        el("td", {}, j.chunk_mem_mb ? j.chunks * j.chunk_mem_mb + " MB" : ""),
        el("td", {}, j.walltime_s ? age(j.walltime_s, 1) : ""),
        el("td", {}, (j.properties || []).join(", ")),
        el("td", {}, j.priority), el("td", {}, age(now, j.submit_time))));
    }
  }

  async function showResources() {
    const res = await runner("resources");
    const box = clear($("resources"));
    const names = Object.keys(res || {}).sort();
    if (!names.length) box.appendChild(el("p", {class: "muted"}, "no cloud resources configured"));
    for (const name of names) {
      const r = res[name];
      const pct = r.max ? Math.min(100, Math.round(100 * r.current / r.max)) : 0;
      const bar = el("div", {class: "bar"}, el("div", {}));
      bar.firstChild.style.width = pct + "%";
      const count = el("input", {type: "number", min: 1, value: 1, "aria-label": "how many"});
      const kv = el("dl", {class: "kv"},
        el("dt", {}, "type"), el("dd", {}, r.type + " (priority " + r.priority + ")"),
        el("dt", {}, "min / current / max"), el("dd", {class: "limits"}, r.min + " / " + r.current + " / " + r.max),
        el("dt", {}, "mode"), el("dd", {}, r.mode + (r.mode !== "normal" ? " (pillar: " + r.configured_min + "-" + r.configured_max + ")" : "")),
        el("dt", {}, "launching"), el("dd", {}, String(r.in_flight || 0)),
        el("dt", {}, "workers"), el("dd", {}, Object.entries(r.states || {}).map(([k, v]) => k + " " + v).join(", ") || "none"),
        el("dt", {}, "node shape"), el("dd", {}, (r.cores_per_node || "?") + " cores, " + (r.mem_mb_per_node || "?") + " MB"),
        el("dt", {}, "reservation"), el("dd", {}, Object.entries(r.reservation || {}).filter(([, v]) => v).map(([k, v]) => k + "=" + v).join(", ") || "none"),
        el("dt", {}, "cloud"), el("dd", {class: r.cloud_ok ? "good" : "bad"}, r.cloud_ok ? "answering" : "poll failing"),
        el("dt", {}, "backoff"), el("dd", {class: r.backoff ? "backoff" : ""}, r.backoff
          ? r.backoff.kind + ", " + r.backoff.failures + " failure(s), until " + new Date(r.backoff.until * 1000).toLocaleTimeString() + ": " + r.backoff.last_error
          : "none"),
        // the bootstrap breaker (issue 13): instances that never joined stop a resource's launches
        el("dt", {}, "bootstrap"), el("dd", {class: r.bootstrap && r.bootstrap.protected ? "bad" : ""}, r.bootstrap
          ? (r.bootstrap.protected ? "protected, no launches: " : "") + r.bootstrap.failures + " of " + r.bootstrap.limit
            + " in a row never joined" + (r.bootstrap.protected ? " (" + r.bootstrap.reason + "; Restore lifts it)" : "")
          : "joining"));
      box.appendChild(el("div", {class: "card", data: {resource: name}},
        el("h3", {}, name), bar, kv,
        el("div", {class: "buttons"}, count,
          button("launch", "Launch", "primary", () => {
            const n = Math.max(1, parseInt(count.value, 10) || 1);
            act("launch", {resource: name, count: n}, "Launch " + n + " worker(s) of " + name + "? They cost money while they run.");
          }),
          button("freeze", "Freeze", "", () => act("freeze", {resource: name}, "Freeze " + name + " at its current size?")),
          button("drain", "Drain", "danger", () => act("drain", {resource: name}, "Drain " + name + " to zero as its jobs finish?")),
          button("restore", "Restore", "", () => act("restore", {resource: name}, "Restore the pillar's limits of " + name + "?")))));
    }
  }

  // ---- graphs: small line charts on <canvas>
  const COLORS = ["#1f6feb", "#1a7f37", "#d97706", "#b42318", "#7c3aed", "#0891b2", "#be185d", "#4b5563", "#65a30d", "#a16207"];
  const GROUPS = [
    ["nodes_by_state", "Nodes by state"], ["cores_by_state", "Cores by state"],
    ["nodes_by_resource", "Nodes by resource"], ["cores_by_resource", "Cores by resource"],
    ["pending", "Pending jobs and cores"],
  ];

  function chart(canvas, series, minutes) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 400, h = canvas.clientHeight || 180;
    canvas.width = w * ratio; canvas.height = h * ratio;
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    const left = 36, right = 8, top = 8, bottom = 20;
    const t1 = Date.now() / 1000;
    // the range asked for, or less when the data is younger (an engine that just started), at least 1 min
    let first = t1;
    for (const pts of Object.values(series)) for (const p of pts) if (p[0] >= t1 - minutes * 60) first = Math.min(first, p[0]);
    const t0 = Math.min(t1 - 60, Math.max(t1 - minutes * 60, first));
    const clock = t1 - t0 < 600 ? {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false}
      : {hour: "2-digit", minute: "2-digit", hour12: false};
    let ymax = 0;
    for (const pts of Object.values(series)) for (const p of pts) ymax = Math.max(ymax, Number(p[1]) || 0);
    const step = Math.max(1, Math.ceil(ymax * 1.1 / 4));  // 4 whole-number steps
    ymax = step * 4;
    const x = (t) => left + (w - left - right) * (t - t0) / (t1 - t0);
    const y = (v) => top + (h - top - bottom) * (1 - v / ymax);
    g.font = "11px system-ui, sans-serif"; g.fillStyle = "#6b7280"; g.strokeStyle = "#e5e7eb"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = ymax * i / 4, yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(left, yy); g.lineTo(w - right, yy); g.stroke();
      g.fillText(String(Math.round(v)), 2, yy + 4);
    }
    for (let i = 0; i <= 4; i++) {
      const t = t0 + (t1 - t0) * i / 4;
      const label = new Date(t * 1000).toLocaleTimeString([], clock);
      const lw = g.measureText(label).width;
      g.fillText(label, Math.min(w - right - lw, Math.max(left, x(t) - lw / 2)), h - 5);
    }
    Object.keys(series).sort().forEach((label, i) => {
      const pts = series[label].filter((p) => p[0] >= t0);
      g.strokeStyle = COLORS[i % COLORS.length]; g.lineWidth = 2; g.beginPath();
      pts.forEach((p, k) => { const xx = x(p[0]), yy = y(Number(p[1]) || 0); if (k) g.lineTo(xx, yy); else g.moveTo(xx, yy); });
      g.stroke();
      if (pts.length === 1) { g.fillStyle = g.strokeStyle; g.fillRect(x(pts[0][0]) - 2, y(Number(pts[0][1]) || 0) - 2, 4, 4); }
    });
  }

  async function showGraphs() {
    const minutes = Number($("graph-range").value);
    const data = await runner("graphs", {minutes});
    const box = clear($("graphs"));
    text("graph-source", "source: " + (data.source === "graphite" ? "Graphite render API" : "the engine's recent history")
      + (data.graphite_error ? " (Graphite failed: " + data.graphite_error + ")" : ""));
    for (const [key, title] of GROUPS) {
      const series = (data.series || {})[key] || {};
      const canvas = el("canvas", {"aria-label": title, role: "img"});
      const legend = el("div", {class: "legend"});
      Object.keys(series).sort().forEach((label, i) => {
        const pts = series[label];
        const last = pts.length ? pts[pts.length - 1][1] : "";
        const sw = el("span", {class: "swatch"}); sw.style.background = COLORS[i % COLORS.length];
        legend.appendChild(el("span", {}, sw, label + " " + last));
      });
      if (!Object.keys(series).length) legend.appendChild(el("span", {class: "muted"}, "no data yet"));
      box.appendChild(el("div", {class: "graph", data: {graph: key}}, el("h3", {}, title), canvas, legend));
      chart(canvas, series, minutes);
    }
  }

  // ---- one worker's graphs (click its row): load, CPU, memory, network and disk from its stats beacon
  const WORKER_GROUPS = [
    ["load", "Load", 1], ["cpu", "CPU busy (%)", 1], ["memory", "Memory and swap used (%)", 1],
    ["network", "Network (KiB/s)", 1 / 1024], ["disk_io", "Disk I/O (KiB/s)", 1 / 1024],
  ];
  let workerShown = null;       // the worker whose graphs are open

  function scaleSeries(series, k) {
    const out = {};
    for (const [label, pts] of Object.entries(series || {})) out[label] = pts.map((p) => [p[0], Number(p[1]) * k]);
    return out;
  }

  function lastValue(pts) {
    if (!pts || !pts.length) return "";
    const v = Number(pts[pts.length - 1][1]);
    return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
  }

  async function showWorkerGraphs() {
    const panel = $("worker-graphs");
    for (const r of $("workers").tBodies[0].rows) r.classList.toggle("selected", !!workerShown && r.dataset.name === workerShown);
    if (!workerShown) { panel.hidden = true; return; }
    const minutes = Number($("graph-range").value);
    const data = await runner("worker_graphs", {name: workerShown, minutes});
    const box = clear($("worker-graphs-box"));
    panel.hidden = false;
    text("worker-graphs-name", workerShown);
    if (!data || data.ok === false) { text("worker-graphs-source", (data && data.message) || "no answer"); return; }
    text("worker-graphs-source", "last " + minutes + " min; source: "
      + (data.source === "graphite" ? "Graphite render API" : "the engine's recent history of its stats beacon")
      + (data.graphite_error ? " (Graphite failed: " + data.graphite_error + ")" : ""));
    for (const [key, title, k] of WORKER_GROUPS) {
      const series = scaleSeries((data.series || {})[key], k);
      const canvas = el("canvas", {"aria-label": title, role: "img"});
      const legend = el("div", {class: "legend"});
      Object.keys(series).sort().forEach((label, i) => {
        const sw = el("span", {class: "swatch"}); sw.style.background = COLORS[i % COLORS.length];
        legend.appendChild(el("span", {}, sw, label + " " + lastValue(series[label])));
      });
      const used = key === "disk_io" ? ((data.series || {}).disk_used || {})["fullest mount %"] : null;
      if (used && used.length) legend.appendChild(el("span", {class: "used"}, "fullest mount " + lastValue(used) + " % used"));
      if (!Object.keys(series).length) legend.appendChild(el("span", {class: "muted"}, "no data yet"));
      box.appendChild(el("div", {class: "graph", data: {graph: key}}, el("h3", {}, title), canvas, legend));
      chart(canvas, series, minutes);
    }
  }

  function initWorkerGraphs() {
    $("workers").tBodies[0].addEventListener("click", (ev) => {
      if (ev.target.closest("button")) return;      // an action button, not a request for graphs
      const row = ev.target.closest("tr[data-name]");
      const state = row && row.querySelector("td.state");
      if (!row || !state || state.textContent === "physical") return;  // only our workers run the beacon
      workerShown = row.dataset.name;
      showWorkerGraphs().catch((e) => say(e.message, true));
    });
    $("worker-graphs-close").addEventListener("click", () => { workerShown = null; showWorkerGraphs(); });
  }

  async function showSettings() {
    const [s, status, conf] = await Promise.all([runner("server_status"), runner("status"), runner("config")]);
    text("auto-mode", s.auto_mode ? "on" : "off");
    const btn = $("auto-toggle");
    btn.textContent = s.auto_mode ? "Turn automatic scaling off" : "Turn automatic scaling on";
    btn.disabled = !may("auto");
    btn.title = may("auto") ? "" : "not permitted for " + session.user;
    btn.onclick = () => act("auto", {enable: !s.auto_mode}, btn.textContent + "?");
    const h = clear($("health"));
    const row = (k, v, ok) => { h.appendChild(el("dt", {}, k)); h.appendChild(el("dd", {class: ok === undefined ? "" : ok ? "good" : "bad"}, v)); };
    row("engine", (s.engine_stale ? "stale, " : "live, ") + "last cycle " + s.engine_age_s + " s ago", !s.engine_stale);
    row("scheduler", s.scheduler_ok ? "answering" : "poll failing", !!s.scheduler_ok);
    for (const [r, ok] of Object.entries(s.cloud_ok || {})) row("cloud " + r, ok ? "answering" : "poll failing", !!ok);
    row("launches under way", Object.entries(s.in_flight || {}).map(([k, v]) => k + " " + v).join(", ") || "none");
    row("actions under way", (s.busy_workers || []).join(", ") || "none");
    row("counters", Object.entries(s.counters || {}).map(([k, v]) => k + " " + (typeof v === "object" ? JSON.stringify(v) : v)).join(", ") || "none");
    const errs = clear($("errors"));
    for (const e of (status && status.recent_errors) || []) errs.appendChild(el("li", {}, e));
    if (!errs.childNodes.length) errs.appendChild(el("li", {class: "muted"}, "none"));
    $("config").textContent = JSON.stringify(conf, null, 2);
  }

  // ---- the Plan view: the live dry-run (salt-run dcluster.plan); it only reads, nothing is done from here
  const PLAN_PAGE = 50;
  let planOffset = 0;

  function planFilter(code) {
    const sel = $("plan-reason");
    if (code && !Array.from(sel.options).some((o) => o.value === code)) sel.appendChild(el("option", {value: code}, code));
    sel.value = code;
    planOffset = 0;
    refresh();
  }

  function planCounts(id, counts) {
    const ul = clear($(id));
    const entries = Object.entries(counts || {});
    if (!entries.length) ul.appendChild(el("li", {class: "muted"}, "none"));
    for (const [code, n] of entries) {
      ul.appendChild(el("li", {data: {reason: code}, title: "show only " + code, on: {click: () => planFilter(code)}},
        badge(code, "r-"), " " + n));
    }
  }

  function planActions(id, actions, total) {
    const ul = clear($(id));
    for (const a of actions || []) {
      const what = a.kind === "launch" ? a.count + " \u00d7 " + a.resource : a.target;
      ul.appendChild(el("li", {data: {kind: a.kind}}, el("strong", {}, a.kind), " " + what + ": " + a.reason));
    }
    if ((total || 0) > (actions || []).length) ul.appendChild(el("li", {class: "muted"}, "\u2026 " + total + " in all"));
    return ul;
  }

  async function showPlan() {
    const reason = $("plan-reason").value;
    const kw = {offset: planOffset, limit: PLAN_PAGE};
    if (reason) kw.reason = reason;
    const p = await runner("plan", kw);
    if (!p || typeof p !== "object") return;
    const sel = $("plan-reason");
    const known = new Set(Array.from(sel.options).map((o) => o.value));
    for (const code of [...Object.keys(p.summary.jobs || {}), ...Object.keys(p.summary.workers || {})]) {
      if (!known.has(code)) { sel.appendChild(el("option", {value: code}, code)); known.add(code); }
    }
    text("plan-info", "auto mode " + (p.auto_mode ? "on" : "off") + " \u00b7 the engine's view of "
      + Math.round(p.view_age_s || 0) + " s ago \u00b7 " + p.actions_total + " action(s)");
    planCounts("plan-job-counts", p.summary.jobs);
    planCounts("plan-worker-counts", p.summary.workers);
    const acts = planActions("plan-actions", p.actions, p.actions_total);
    if (!acts.childNodes.length) acts.appendChild(el("li", {class: "muted"}, "nothing: the cluster stays as it is"));
    const off = (p.not_done || []).length > 0;
    $("plan-not-done-title").hidden = !off; $("plan-not-done").hidden = !off;
    planActions("plan-not-done", p.not_done, p.not_done_total);
    const notes = clear($("plan-notes"));
    for (const n of p.notes || []) notes.appendChild(el("li", {}, n));
    const jobs = clear($("plan-jobs").tBodies[0]);
    if (!p.jobs.rows.length) jobs.appendChild(el("tr", {}, el("td", {colspan: 3, class: "empty"}, "no pending jobs")));
    for (const r of p.jobs.rows) {
      jobs.appendChild(el("tr", {data: {job: r.job}}, el("td", {}, r.job), el("td", {class: "reason"}, badge(r.reason, "r-")),
        el("td", {}, r.why)));
    }
    const workers = clear($("plan-workers").tBodies[0]);
    if (!p.workers.rows.length) workers.appendChild(el("tr", {}, el("td", {colspan: 5, class: "empty"}, "no workers")));
    for (const r of p.workers.rows) {
      workers.appendChild(el("tr", {data: {name: r.worker}}, el("td", {class: "name"}, r.worker),
        el("td", {}, badge(r.state, "s-")), el("td", {}, r.resource || "physical"),
        el("td", {class: "reason"}, badge(r.reason, "r-")), el("td", {}, r.why)));
    }
    const total = Math.max(p.jobs.total, p.workers.total);
    text("plan-page", total ? (planOffset + 1) + "\u2013" + Math.min(total, planOffset + PLAN_PAGE) + " of "
      + p.jobs.total + " job(s), " + p.workers.total + " worker(s)" : "");
    $("plan-prev").disabled = planOffset === 0;
    $("plan-next").disabled = planOffset + PLAN_PAGE >= total;
  }

  function planSetup() {
    $("plan-reason").addEventListener("change", () => { planOffset = 0; refresh(); });
    $("plan-prev").addEventListener("click", () => { planOffset = Math.max(0, planOffset - PLAN_PAGE); refresh(); });
    $("plan-next").addEventListener("click", () => { planOffset += PLAN_PAGE; refresh(); });
  }

  const VIEWS = {workers: showWorkers, jobs: showJobs, plan: showPlan, resources: showResources, graphs: showGraphs,
    settings: showSettings};

  async function refresh() {
    if (!session || busy) return;
    busy = true;
    try {
      const s = await header();
      if (s && s.ok === false) say(s.message, true);
      await VIEWS[view]();
    } catch (e) {
      if (e instanceof AuthError) { logout("Your session ended (" + e.message + "); log in again."); return; }
      say(e.message, true);
    } finally {
      busy = false;
    }
  }

  function show(name) {
    if (name !== view) say("", false);
    view = VIEWS[name] ? name : "workers";
    for (const v of Object.keys(VIEWS)) $(v + "-view").hidden = v !== view;
    for (const b of document.querySelectorAll("#tabs .tab")) b.classList.toggle("active", b.dataset.view === view);
    if (location.hash !== "#" + view) history.replaceState(null, "", "#" + view);
    refresh();
  }

  function start() {
    $("login-view").hidden = true;
    $("tabs").hidden = false;
    $("logout").hidden = false;
    text("who", session.user);
    if (timer) clearInterval(timer);
    timer = setInterval(refresh, REFRESH_MS);
    show((location.hash || "#workers").slice(1));
  }

  function logout(why) {
    session = null;
    sessionStorage.removeItem(STORE);
    if (timer) clearInterval(timer);
    timer = null;
    for (const v of Object.keys(VIEWS)) $(v + "-view").hidden = true;
    $("tabs").hidden = true; $("logout").hidden = true;
    text("who", ""); clear($("engine"));
    $("login-view").hidden = false;
    say("", false);
    text("login-error", why || "");
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const b of document.querySelectorAll("#tabs .tab")) b.addEventListener("click", () => show(b.dataset.view));
    $("logout").addEventListener("click", () => logout(""));
    $("worker-state").addEventListener("change", refresh);
    $("jobs-all").addEventListener("change", refresh);
    $("graph-range").addEventListener("change", refresh);
    initWorkerGraphs();
    planSetup();
    $("login").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      text("login-error", "");
      try {
        session = await login($("username").value, $("password").value, $("eauth").value);
        $("password").value = "";
        sessionStorage.setItem(STORE, JSON.stringify(session));
        start();
      } catch (e) {
        session = null;
        text("login-error", e instanceof AuthError ? "Wrong user, password or backend." : e.message);
      }
    });
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
      if (saved && saved.token && (!saved.expire || saved.expire > Date.now() / 1000)) { session = saved; start(); }
    } catch (e) { sessionStorage.removeItem(STORE); }
  });
})();
