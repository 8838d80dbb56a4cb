// Two (or more) clips played by one clock: play/pause, loop, speed and scrub act on all.
// GIFs arrive as one sprite of their frames (drawn onto a canvas frame by frame), videos
// play in <video> elements that follow the clock. No clip text is ever parsed as HTML.
"use strict";
window.ClipPlayer = (() => {
  async function loadGif(box) {
    const r = await fetch(box.dataset.src + "/frames", {credentials: "same-origin"});
    if (!r.ok) throw new Error("clip frames: HTTP " + r.status);
    const n = +r.headers.get("X-Frames"), fps = +r.headers.get("X-Fps");
    const w = +r.headers.get("X-Frame-Width"), h = +r.headers.get("X-Frame-Height");
    const img = new Image();
    img.src = URL.createObjectURL(await r.blob());
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    box.replaceChildren(canvas);
    const ctx = canvas.getContext("2d");
    return {
      duration: n / fps,
      show(t) {
        const i = Math.min(n - 1, Math.floor(t * fps));
        ctx.drawImage(img, i * w, 0, w, h, 0, 0, w, h);
      },
    };
  }

  async function loadVideo(box) {
    const v = document.createElement("video");
    v.src = box.dataset.src; v.muted = true; v.playsInline = true; v.preload = "auto";
    box.replaceChildren(v);
    await new Promise((ok, bad) => { v.onloadedmetadata = ok; v.onerror = bad; });
    return {
      duration: v.duration,
      show(t, playing, rate) {
        v.playbackRate = rate;
        if (Math.abs(v.currentTime - t) > 0.15) v.currentTime = t;
        if (playing && v.paused) v.play().catch(() => {});
        if (!playing && !v.paused) v.pause();
      },
    };
  }

  function attach(itemEl) {
    const boxes = [...itemEl.querySelectorAll(".clip")];
    const ui = itemEl.querySelector(".player-controls");
    if (!boxes.length || !ui) return null;
    const el = (act) => ui.querySelector(`[data-act="${act}"]`);
    const state = {t: 0, playing: true, rate: 1, loop: true, clips: [], duration: 0, last: 0};
    let stopped = false;
    const render = () => {
      for (const c of state.clips) c.show(Math.min(state.t, c.duration - 1e-6), state.playing, state.rate);
      el("time").textContent = state.t.toFixed(2) + " s";
      if (state.duration) el("scrub").value = Math.round(1000 * state.t / state.duration);
    };
    const tick = (now) => {
      if (stopped || !itemEl.isConnected) return;
      const dt = state.last ? (now - state.last) / 1000 : 0;
      state.last = now;
      if (state.playing && state.duration) {
        state.t += dt * state.rate;
        if (state.t >= state.duration) {
          if (state.loop) state.t %= state.duration;
          else { state.t = state.duration; state.playing = false; }
        }
      }
      render();
      requestAnimationFrame(tick);
    };
    Promise.all(boxes.map((b) => (b.dataset.kind === "gif" ? loadGif(b) : loadVideo(b))))
      .then((clips) => {
        state.clips = clips;
        state.duration = Math.max(...clips.map((c) => c.duration));
        requestAnimationFrame(tick);
      })
      .catch((e) => { ui.append(" (clip failed to load: " + e.message + ")"); });
    const api = {
      toggle() { state.playing = !state.playing; if (state.playing && state.t >= state.duration) state.t = 0; },
      seek(frac) { state.t = frac * state.duration; },
      state,
      stop() { stopped = true; },
    };
    el("play").addEventListener("click", api.toggle);
    el("speed").addEventListener("change", (e) => { state.rate = +e.target.value; });
    el("loop").addEventListener("change", (e) => { state.loop = e.target.checked; });
    el("scrub").addEventListener("input", (e) => { state.playing = false; api.seek(e.target.value / 1000); });
    return api;
  }
  return {attach};
})();
