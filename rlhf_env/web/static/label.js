// The labeling page: shows one server-rendered item at a time, keeps the next one
// prefetched, reads keys, posts answers as JSON. Item HTML comes from the server, already
// escaped; this script builds everything else with textContent only.
"use strict";
(() => {
  const slot = document.getElementById("slot");
  const HEADERS = {"Content-Type": "application/json", "X-Requested-With": "rlhf-env"};
  const $ = (sel, root = document) => root.querySelector(sel);
  let cur = null;          // {el, id, kind, shownAt, pick, player}
  let prefetched = null;   // Promise of the next item's element
  const answered = [];     // item ids answered this session, newest last (for undo)
  let sessionCount = 0;
  let busy = false;
  let pollTimer = null;

  function status(text, bad) {
    const s = $("#status");
    s.textContent = text;
    s.classList.toggle("bad", !!bad);
  }

  async function fetchItem(exclude, prefer) {
    const q = new URLSearchParams({exclude: exclude.join(",")});
    if (prefer) q.set("prefer", String(prefer));
    const r = await fetch("/label/next?" + q, {credentials: "same-origin"});
    if (r.status === 401 || r.status === 403) { location.href = "/"; return null; }
    const tpl = document.createElement("template");
    tpl.innerHTML = await r.text();  // rendered by the server with autoescaping
    return tpl.content.firstElementChild;
  }

  async function post(path, body) {
    const r = await fetch(path, {method: "POST", headers: HEADERS, credentials: "same-origin",
                                 body: JSON.stringify(body)});
    let data = {};
    try { data = await r.json(); } catch (e) { /* empty body */ }
    return {ok: r.ok, status: r.status, data};
  }

  function show(el) {
    if (cur && cur.player) cur.player.stop();
    clearTimeout(pollTimer);
    slot.replaceChildren(el);
    if (el.dataset.done) {
      cur = null;
      prefetched = null;
      pollTimer = setTimeout(() => fetchItem([]).then(show), 5000);
      return;
    }
    cur = {el, id: +el.dataset.itemId, kind: el.dataset.kind, shownAt: performance.now(),
           pick: {}, player: window.ClipPlayer.attach(el)};
    cur.control = window.ControlCorrection.attach(el, cur.player);
    $("#remaining").textContent = el.dataset.remaining;
    wire(el);
    prefetched = fetchItem([cur.id]);
  }

  async function advance() {
    const next = prefetched ? await prefetched : null;
    show(next && !next.dataset.done ? next : await fetchItem([]));
  }

  // -- answers -------------------------------------------------------------------------------
  function answerBody() {
    const body = {item_id: cur.id, duration_s: (performance.now() - cur.shownAt) / 1000};
    if (cur.kind === "comparison") {
      if (!cur.pick.choice) return "pick left (1), right (2), tie (T) or both bad (B) first";
      body.choice = cur.pick.choice;
    } else if (cur.kind === "ranking") {
      body.groups = [...cur.el.querySelectorAll(".rank-entry")].map((li) => [+li.dataset.pos]);
    } else if (cur.kind === "control_correction") {
      const answer = cur.control.answer();
      if (typeof answer === "string") return answer;
      Object.assign(body, answer);
    } else if (cur.kind === "rating") {
      const input = $("[data-score-input]", cur.el);
      const score = input ? parseFloat(input.value) : cur.pick.score;
      if (score === undefined || Number.isNaN(score)) return "pick a score first";
      body.score = score;
    } else {
      body.text = $(".answer-text", cur.el).value;
    }
    return body;
  }

  async function submit() {
    if (!cur || busy) return;
    const body = answerBody();
    if (typeof body === "string") { status(body, true); return; }
    busy = true;
    try {
      const r = await post("/api/answer", body);
      if (r.ok) {
        answered.push(cur.id);
        sessionCount += 1;
        $("#session-count").textContent = String(sessionCount);
        $("#undo").disabled = false;
        status("saved item " + cur.id);
        await advance();
      } else if (r.status === 409) {
        status(r.data.detail || "this item was taken; here is the next", true);
        await advance();
      } else {
        status(r.data.detail ? String(JSON.stringify(r.data.detail)) : "HTTP " + r.status, true);
      }
    } finally { busy = false; }
  }

  async function skip() {
    if (!cur || busy) return;
    busy = true;
    try {
      const r = await post("/api/skip", {item_id: cur.id});
      status(r.ok ? "skipped item " + cur.id : (r.data.detail || "skip failed"), !r.ok);
      await advance();
    } finally { busy = false; }
  }

  async function undo() {
    if (busy || !answered.length) return;
    busy = true;
    try {
      const id = answered.pop();
      const r = await post("/api/undo", {item_id: id});
      if (!r.ok) { status(r.data.detail || "undo failed", true); return; }
      sessionCount -= 1;
      $("#session-count").textContent = String(sessionCount);
      $("#undo").disabled = !answered.length;
      status("took back your answer to item " + id);
      show(await fetchItem([], id));
    } finally { busy = false; }
  }

  // -- per-kind wiring -----------------------------------------------------------------------
  function choose(choice) {
    cur.pick.choice = choice;
    for (const b of cur.el.querySelectorAll("[data-choice]")) {
      b.classList.toggle("picked", b.dataset.choice === choice);
    }
    for (const s of cur.el.querySelectorAll(".response")) {
      const pos = +s.dataset.pos;
      s.classList.toggle("picked", (choice === "left" && pos === 0) || (choice === "right" && pos === 1));
    }
  }

  function score(value) {
    cur.pick.score = value;
    for (const b of cur.el.querySelectorAll("[data-score]")) {
      b.classList.toggle("picked", +b.dataset.score === value);
    }
  }

  function rankSelect(i) {
    const items = [...cur.el.querySelectorAll(".rank-entry")];
    cur.pick.sel = Math.max(0, Math.min(items.length - 1, i));
    items.forEach((li, j) => li.classList.toggle("selected", j === cur.pick.sel));
  }

  function rankMove(delta) {
    const list = $(".rank-list", cur.el);
    const items = [...list.children];
    const i = cur.pick.sel ?? 0, j = i + delta;
    if (j < 0 || j >= items.length) return;
    if (delta < 0) list.insertBefore(items[i], items[j]); else list.insertBefore(items[j], items[i]);
    rankSelect(j);
  }

  function wireDrag(list) {
    let dragged = null;
    list.addEventListener("dragstart", (e) => { dragged = e.target.closest(".rank-entry"); });
    list.addEventListener("dragover", (e) => e.preventDefault());
    list.addEventListener("drop", (e) => {
      e.preventDefault();
      const target = e.target.closest(".rank-entry");
      if (!dragged || !target || target === dragged) return;
      const after = [...list.children].indexOf(target) > [...list.children].indexOf(dragged);
      list.insertBefore(dragged, after ? target.nextSibling : target);
      rankSelect([...list.children].indexOf(dragged));
    });
  }

  function wordDiff(a, b) {
    const x = a.split(/(\s+)/), y = b.split(/(\s+)/);
    const n = x.length, m = y.length;
    const L = Array.from({length: n + 1}, () => new Int32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
      L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    }
    const out = [];
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) { out.push(["same", x[i]]); i++; j++; }
      else if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) { out.push(["ins", y[j]]); j++; }
      else { out.push(["del", x[i]]); i++; }
    }
    return out;
  }

  function showDiff() {
    const box = $(".diff", cur.el);
    if (!box) return;
    const original = $(".original", cur.el).textContent;
    const parts = wordDiff(original, $(".answer-text", cur.el).value);
    box.replaceChildren(...parts.map(([op, text]) => {
      const span = document.createElement(op === "same" ? "span" : op);
      span.textContent = text;
      return span;
    }));
  }

  function wire(el) {
    for (const b of el.querySelectorAll("[data-choice]")) b.onclick = () => choose(b.dataset.choice);
    for (const s of el.querySelectorAll(".response.choice")) {
      s.onclick = () => choose(+s.dataset.pos === 0 ? "left" : "right");
    }
    for (const b of el.querySelectorAll("[data-score]")) b.onclick = () => score(+b.dataset.score);
    const list = $(".rank-list", el);
    if (list) {
      wireDrag(list);
      rankSelect(0);
      for (const li of list.children) li.onclick = () => rankSelect([...list.children].indexOf(li));
    }
    const text = $(".answer-text", el);
    if (text) { text.addEventListener("input", showDiff); showDiff(); }
    $("[data-act=submit]", el).onclick = submit;
    $("[data-act=skip]", el).onclick = skip;
  }

  // -- keys ----------------------------------------------------------------------------------
  function onKey(e) {
    const typing = e.target.matches && e.target.matches("textarea, input[type=number], select");
    if (typing) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey || e.target.tagName !== "TEXTAREA")) {
        e.preventDefault(); submit();
      } else if (e.key === "Escape") e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    if (k === "?") { const d = $("#keysheet"); d.open = !d.open; return; }
    if (k === "z" || k === "Z") { undo(); return; }
    if (!cur) return;
    if (k === "s" || k === "S") return skip();
    if (k === "p" || k === "P") { if (cur.player) cur.player.toggle(); return; }
    if (k === "Enter") { e.preventDefault(); return submit(); }
    if (cur.kind === "comparison") {
      const map = {"1": "left", ArrowLeft: "left", "2": "right", ArrowRight: "right",
                   t: "tie", T: "tie", b: "both_bad", B: "both_bad"};
      if (map[k]) { e.preventDefault(); choose(map[k]); }
    } else if (cur.kind === "ranking" && (k === "ArrowUp" || k === "ArrowDown")) {
      e.preventDefault();
      const d = k === "ArrowUp" ? -1 : 1;
      if (e.shiftKey) rankMove(d); else rankSelect((cur.pick.sel ?? 0) + d);
    } else if (cur.kind === "rating" && /^[0-9]$/.test(k)) {
      if (cur.el.querySelector(`[data-score="${k}"]`)) score(+k);
    } else if (cur.kind === "control_correction") {
      if (/^[1-9]$/.test(k)) cur.control.add(+k - 1);
      else if (k === "Backspace") { e.preventDefault(); cur.control.pop(); }
      else if (k === "[" || k === "]") cur.control.step(k === "[" ? -1 : 1);
    } else if ((cur.kind === "correction" || cur.kind === "demonstration") && k === "e") {
      e.preventDefault(); $(".answer-text", cur.el).focus();
    }
  }

  document.addEventListener("keydown", onKey);
  $("#undo").onclick = undo;
  fetchItem([]).then(show);
})();
