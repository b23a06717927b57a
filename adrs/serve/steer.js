// adrs serve: the steering panel (adrs/serve/steer.py answers it). It draws itself in the page's
// <section id="steer"> (else in a fixed box at the lower right), so it depends on nothing of
// page.html's layout but that place and the run picker (#runs, when there is one). It polls /api/steering every second; with `adrs serve --steer` and a
// run started --steerable it sends actions to POST /api/steer with the token of the page's address
// (?token=...) in a header. Every text it shows, hints included, goes in through textContent.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const style = document.createElement("style");
  style.textContent = `
    #steer-panel { width: 26em; max-width: 100%; background: #fff; border: 1px solid #bbb; border-radius: 6px;
      padding: .5em .8em; margin: .6em 0; font-size: 13px; }
    #steer-panel.floating { position: fixed; right: 1em; bottom: 1em; width: 22em; max-height: 70vh;
      overflow: auto; margin: 0; box-shadow: 0 2px 8px rgba(0,0,0,.15); z-index: 10; }
    #steer-panel h2 { font-size: 1em; margin: 0 0 .3em; cursor: pointer; }
    #steer-panel textarea { width: 100%; box-sizing: border-box; }
    #steer-panel ul { margin: .3em 0; padding-left: 1.2em; }
    #steer-panel .steer-x { border: none; background: none; color: #b00; cursor: pointer; }
    #steer-state.paused { color: #b60; font-weight: 600; }
    #steer-error { color: #b00; }`;
  document.head.appendChild(style);

  const panel = document.createElement("section");
  panel.id = "steer-panel";
  panel.innerHTML = `
    <h2 id="steer-title">Steering</h2>
    <div id="steer-body">
      <div><span id="steer-state">-</span> <button id="steer-pause" type="button" hidden>pause</button></div>
      <div id="steer-controls" hidden>
        <div style="margin-top:.4em">Hint for the next prompts:</div>
        <textarea id="steer-hint" rows="2" maxlength="2000"></textarea>
        <button id="steer-hint-add" type="button">add hint</button>
        <div style="margin-top:.4em">Program #<input id="steer-program" size="6" inputmode="numeric">
          <button id="steer-pin" type="button">pin as parent</button>
          <button id="steer-ban" type="button">ban as parent</button></div>
      </div>
      <div>hints:</div><ul id="steer-hints"></ul>
      <div id="steer-pins"></div>
      <div id="steer-error"></div>
    </div>`;
  const place = document.getElementById("steer");
  if (place) place.appendChild(panel);
  else { panel.className = "floating"; document.body.appendChild(panel); }
  const $ = id => document.getElementById(id);
  $("steer-title").onclick = () => { $("steer-body").hidden = !$("steer-body").hidden; };

  let current = null;  // the last /api/steering answer
  let pollFailed = false;  // the error line shows a failed poll (cleared by the next good one)

  // The run picked in the page's #runs list: "N", or "K:N" (run N of the K-th served archive, when
  // several are served side by side). Steering is for the first archive's runs (K = 0); null for another.
  function runParam() {
    const picker = document.getElementById("runs");
    const value = picker ? picker.value : "";
    const match = /^(?:(\d+):)?(\d+)$/.exec(value);
    if (!match) return "";
    if (match[1] && match[1] !== "0") return null;
    return `?id=${match[2]}`;
  }

  function item(label, onRemove) {
    const li = document.createElement("li");
    const span = document.createElement("span");
    span.textContent = label;
    li.appendChild(span);
    if (onRemove) {
      const x = document.createElement("button");
      x.type = "button"; x.className = "steer-x"; x.textContent = "\u00d7"; x.title = "remove";
      x.onclick = onRemove;
      li.appendChild(x);
    }
    return li;
  }

  function draw(data) {
    current = data;
    const s = data.state, can = data.enabled && data.steerable;
    const state = $("steer-state");
    state.className = s.paused ? "paused" : "";
    if (!data.steerable) state.textContent = `run #${data.run} was not started --steerable`;
    else if (!data.enabled) state.textContent = "read-only: start adrs serve --steer to steer";
    else state.textContent = s.paused ? "paused: no new proposals" : "running";
    if (data.steerable && s.paused && !can) state.textContent += " (paused)";
    $("steer-pause").hidden = !can;
    $("steer-pause").textContent = s.paused ? "resume" : "pause";
    $("steer-controls").hidden = !can;
    $("steer-hints").replaceChildren(...s.hints.map(h =>
      item(`${h.text} (${new Date(h.at).toLocaleTimeString()})`, can ? () => act({action: "unhint", hint_id: h.id}) : null)));
    if (!s.hints.length) $("steer-hints").replaceChildren(item("none"));
    const pins = [];
    for (const [name, ids, undo] of [["pinned", s.pinned, "unpin"], ["banned", s.banned, "unban"]]) {
      if (!ids.length) continue;
      const line = document.createElement("div");
      line.appendChild(document.createTextNode(`${name}: `));
      for (const id of ids) {
        const b = document.createElement("button");
        b.type = "button"; b.textContent = `#${id} \u00d7`; b.disabled = !can; b.dataset.program = id;
        b.onclick = () => act({action: undo, program_id: id});
        line.appendChild(b);
      }
      pins.push(line);
    }
    $("steer-pins").replaceChildren(...pins);
  }

  async function poll() {
    const run = runParam();
    if (run === null) {
      current = null;
      $("steer-state").textContent = "steering is for the first archive's runs";
      $("steer-pause").hidden = $("steer-controls").hidden = true;
      return;
    }
    try {
      const response = await fetch("api/steering" + run, {cache: "no-store"});
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      draw(body);
      if (pollFailed) $("steer-error").textContent = "";
      pollFailed = false;
    } catch (error) {
      $("steer-error").textContent = String(error);
      pollFailed = true;
    }
  }

  async function act(action) {
    if (!current) return false;
    $("steer-error").textContent = "";
    try {
      const response = await fetch("api/steer", {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-Adrs-Token": token},
        body: JSON.stringify({run: current.run, ...action}),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      draw(body);
      return true;
    } catch (error) {
      $("steer-error").textContent = String(error);
      return false;
    }
  }

  $("steer-pause").onclick = () => act({action: current && current.state.paused ? "resume" : "pause"});
  $("steer-hint-add").onclick = async () => {
    const box = $("steer-hint");
    if (box.value.trim() && await act({action: "hint", text: box.value})) box.value = "";
  };
  for (const action of ["pin", "ban"]) {
    $(`steer-${action}`).onclick = () => act({action, program_id: $("steer-program").value.trim()});
  }
  poll();
  setInterval(poll, 1000);
})();
