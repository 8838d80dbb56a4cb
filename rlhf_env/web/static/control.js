// A control correction item: pick the step where the agent went wrong on a slider (the clip
// jumps to that frame) and build the corrective actions: buttons for a discrete space,
// rows of number inputs within the bounds for a box. Everything is built with textContent.
"use strict";
window.ControlCorrection = (() => {
  function attach(itemEl, player) {
    const box = itemEl.querySelector("section.control");
    if (!box) return null;
    const q = (sel) => box.querySelector(sel);
    const first = +box.dataset.first, last = +box.dataset.last, max = +box.dataset.max;
    const frames = +box.dataset.frames;
    const did = JSON.parse(box.dataset.did);
    const list = q(".chosen-actions");
    const slider = q("[data-act=step]");
    const bounds = [...box.querySelectorAll("[data-bound]")].map((b) => [+b.dataset.lo, +b.dataset.hi]);
    const discrete = box.dataset.space === "discrete";
    const chosen = [];  // discrete: action indices

    function setStep(value) {
      const v = Math.max(first, Math.min(last, value));
      slider.value = String(v);
      q("[data-act=step-out]").textContent = String(v);
      q("[data-act=did]").textContent = did.slice(v, v + max).join(", ");
      if (player) { player.state.playing = false; player.seek((v + 0.5) / frames); }
    }

    function renderDiscrete() {
      list.replaceChildren(...chosen.map((i) => {
        const li = document.createElement("li");
        li.textContent = box.querySelector(`[data-action="${i}"]`).dataset.name;
        return li;
      }));
    }

    function addRow() {
      if (list.children.length >= max) return;
      const li = document.createElement("li");
      for (const [lo, hi] of bounds) {
        const input = document.createElement("input");
        Object.assign(input, {type: "number", step: "any", min: String(lo), max: String(hi),
                              value: "0", title: `a number in [${lo}, ${hi}]`});
        li.append(input);
      }
      list.append(li);
    }

    function add(index) {
      if (!discrete || chosen.length >= max) return;
      if (!box.querySelector(`[data-action="${index}"]`)) return;
      chosen.push(index);
      renderDiscrete();
    }

    function pop() {
      if (discrete) { chosen.pop(); renderDiscrete(); }
      else if (list.children.length > 1) list.lastElementChild.remove();
    }

    function answer() {
      const step = +slider.value;
      if (discrete) {
        if (!chosen.length) return "add at least one action (its button or number key)";
        return {step, actions: chosen.slice()};
      }
      const actions = [...list.children].map((li) => [...li.querySelectorAll("input")].map((i) => parseFloat(i.value)));
      if (actions.some((a) => a.some(Number.isNaN))) return "fill in every number of every action";
      return {step, actions};
    }

    slider.addEventListener("input", () => setStep(+slider.value));
    for (const b of box.querySelectorAll("[data-action]")) b.onclick = () => add(+b.dataset.action);
    q("[data-act=pop]").onclick = pop;
    const more = q("[data-act=add-row]");
    if (more) { more.onclick = addRow; addRow(); }
    setStep(first);
    return {add, pop, answer, step(delta) { setStep(+slider.value + delta); }};
  }
  return {attach};
})();
