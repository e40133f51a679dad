// ykt sim view: draws what the server's feed publishes (docs/view.md). No build step, no library.
"use strict";
(function () {
  const feed = new URLSearchParams(location.search).get("feed") || "0";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k) e.append(k);
    return e;
  };
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  };
  let meta = null;
  const terms = {};      // id -> {root, parts, desc, last}
  let finished = false;
  const stats = window.viewStats = {messages: 0, ms: 0, max_ms: 0};

  function showError(msg) {
    const box = $("#error");
    box.textContent = msg || "";
    box.hidden = !msg;
  }

  async function post(path, body) {
    const r = await fetch(path + (path.includes("?") ? "&" : "?") + "feed=" + feed,
                          {method: "POST", body: typeof body === "string" ? body : JSON.stringify(body)});
    const out = await r.json().catch(() => ({error: "no answer"}));
    if (!r.ok) showError(out.error || ("error " + r.status));
    return {ok: r.ok, out};
  }

  function glass(cls, cols, rows) {
    const g = el("div", {class: "glass " + cls});
    for (let i = 0; i < rows; i++) g.append(el("span", {class: "row", text: " ".repeat(cols)}));
    g.dataset.cols = cols;
    return g;
  }

  function setGlass(g, lines) {
    const cols = +g.dataset.cols;
    const rows = g.children;
    for (let i = 0; i < rows.length; i++) {
      const text = ((lines && lines[i]) || "").padEnd(cols).slice(0, cols);
      if (rows[i].textContent !== text) rows[i].textContent = text;
    }
    const shown = (lines || []).map(s => s.trimEnd()).join("\n").trim();
    g.dataset.text = shown;
  }

  function gateSvg() {
    const s = svg("svg", {viewBox: "0 0 90 46"});
    s.append(svg("rect", {class: "post", x: 4, y: 20, width: 12, height: 24, fill: "#607d8b"}));
    s.append(svg("rect", {x: 76, y: 20, width: 10, height: 24, fill: "#b0bec5"}));
    s.append(svg("line", {class: "beam", x1: 16, y1: 40, x2: 76, y2: 40}));
    s.append(svg("line", {class: "arm", x1: 14, y1: 32, x2: 72, y2: 32}));
    return s;
  }

  function build(desc) {
    const p = {};
    const root = el("section", {class: "term", "data-terminal": desc.id});
    const what = [desc.role, desc.board].filter(Boolean).join(" · ");
    root.append(el("h3", {}, el("span", {text: desc.id}), el("small", {text: what})));
    const top = el("div", {class: "row-parts"});
    if (desc.display) {
      if (desc.display.kind === "pole") {
        p.display = glass("pole", desc.display.width, desc.display.rows);
        p.display.dataset.part = "display";
        top.append(el("div", {}, el("span", {class: "part-label", text: "pole display"}), p.display));
      } else {
        top.append(el("div", {class: "muted", text: "display " + desc.display.kind + ": not driven"}));
      }
    }
    if (desc.lcd) {
      p.lcd = glass("lcd", desc.lcd.cols, desc.lcd.rows);
      p.lcd.dataset.part = "lcd";
      top.append(el("div", {}, el("span", {class: "part-label", text: "LCD " + desc.lcd.cols + "×" + desc.lcd.rows}), p.lcd));
    }
    root.append(top);
    const mid = el("div", {class: "row-parts"});
    if (desc.leds && desc.leds.length) {
      p.leds = {};
      const box = el("div", {class: "leds"});
      for (const name of desc.leds) {
        p.leds[name] = el("span", {class: "led", "data-led": name, "data-on": "0", title: name + " LED"});
        box.append(p.leds[name]);
      }
      mid.append(box);
    }
    if (desc.buzzer) {
      p.buzzer = el("span", {class: "buzzer", "data-on": "0", text: "buzzer"});
      mid.append(p.buzzer);
    }
    if (desc.reader) {
      p.reader = el("span", {class: "reader", "data-cards": "", text: "reader: no card"});
      mid.append(p.reader);
    }
    if (desc.gate) {
      p.gate = el("div", {class: "gate", "data-arm": "closed", "data-emergency": "false", "data-beam": "false"},
                  gateSvg(), el("span", {class: "arm-label", text: "arm closed"}), el("span", {class: "emergency", text: "EMERGENCY"}));
      mid.append(p.gate);
    }
    if (mid.children.length) root.append(mid);
    if (desc.keypad) {
      const pad = el("div", {class: "keypad", "data-part": "keypad"});
      pad.style.gridTemplateColumns = "repeat(" + desc.keypad.cols + ", 30px)";
      p.keys = {};
      for (const k of desc.keypad.keys) {
        const b = el("button", {"data-key": k, text: k, title: "press " + k});
        b.addEventListener("click", () => post("/key", {terminal: desc.id, key: k}));
        p.keys[k] = b;
        pad.append(b);
      }
      p.keypad = pad;
      root.append(el("div", {}, el("span", {class: "part-label", text: "keypad (click to press)"}), pad));
    }
    p.outcome = el("div", {class: "outcome", text: "—"});
    root.append(p.outcome);
    if (desc.printer) {
      p.receipt = el("div", {class: "receipt", "data-part": "receipt", text: "(no receipt yet)"});
      root.append(el("div", {}, el("span", {class: "part-label", text: "receipt printer"}), p.receipt));
    }
    if (desc.recorded) root.append(el("div", {class: "muted", text: "recorded: only what its lines say (display text, outcomes)"}));
    p.journal = el("table", {class: "journal"});
    p.console = el("pre", {class: "console"});
    if (!desc.recorded) root.append(el("details", {}, el("summary", {text: "journal (latest records)"}), p.journal));
    const con = el("details", {}, el("summary", {text: "console"}), p.console);
    root.append(con);
    return {root, parts: p, desc, beeps: 0, drawn: {}};
  }

  function receiptHtml(receipts) {
    const frag = document.createDocumentFragment();
    receipts.forEach((lines, i) => {
      if (i) frag.append(el("div", {class: "cut"}));
      for (const [text, bold] of lines) {
        frag.append(bold ? el("b", {text: text}) : document.createTextNode(text));
        frag.append("\n");
      }
    });
    return frag;
  }

  // true when part ``name`` of terminal ``t`` differs from what was drawn (then remembered)
  function changed(t, name, value) {
    const text = JSON.stringify(value);
    if (t.drawn[name] === text) return false;
    t.drawn[name] = text;
    return true;
  }

  function update(t, s) {
    const p = t.parts;
    if (p.display && s.display) setGlass(p.display, s.display);
    if (p.lcd && s.lcd) {
      setGlass(p.lcd, s.lcd.lines);
      p.lcd.classList.toggle("dark", !s.lcd.backlight);
    }
    if (p.leds && s.leds) for (const [name, on] of Object.entries(s.leds)) if (p.leds[name]) p.leds[name].dataset.on = on ? "1" : "0";
    if (p.buzzer && s.buzzer !== undefined) {
      p.buzzer.dataset.on = s.buzzer ? "1" : "0";
      if (s.beeps > t.beeps) {
        p.buzzer.classList.add("beeped");
        p.buzzer.textContent = "beep ×" + s.beeps;
        clearTimeout(t.beepTimer);
        t.beepTimer = setTimeout(() => p.buzzer.classList.remove("beeped"), 350);
      }
      t.beeps = s.beeps || 0;
    }
    if (p.reader && s.reader) {
      const names = s.reader.join(", ");
      p.reader.dataset.cards = names;
      p.reader.textContent = names ? "card on reader: " + names : "reader: no card";
    }
    if (p.gate && s.gate) {
      p.gate.dataset.arm = s.gate.arm;
      p.gate.dataset.emergency = String(s.gate.emergency);
      p.gate.dataset.beam = String(s.gate.beam);
      $(".arm-label", p.gate).textContent = "arm " + s.gate.arm + (s.gate.beam ? ", someone in the beam" : "") +
        " · " + s.gate.passages + " passed";
    }
    if (p.keys && s.keys) for (const [k, b] of Object.entries(p.keys)) b.classList.toggle("held", s.keys.includes(k));
    if (p.receipt && s.receipts && s.receipts.length && changed(t, "receipts", s.receipts)) {
      p.receipt.replaceChildren(receiptHtml(s.receipts));
      p.receipt.scrollTop = p.receipt.scrollHeight;
    }
    if (s.outcome && changed(t, "outcome", s.outcome)) {
      const o = Object.assign({}, s.outcome); delete o.t; delete o.terminal;
      p.outcome.dataset.event = o.event;
      p.outcome.textContent = (s.outcome.t || "").slice(11) + " " + JSON.stringify(o);
    }
    if (s.journal && changed(t, "journal", s.journal)) {
      const rows = [el("tr", {}, ...["seq", "time", "kind", "card", "amount", "balance"].map(h => el("th", {text: h})))];
      for (const r of s.journal.slice().reverse())
        rows.push(el("tr", {}, ...[r.seq, (r.time || "").slice(11), r.kind, String(r.card).slice(-4), r.amount, r.balance].map(v => el("td", {text: String(v)}))));
      p.journal.replaceChildren(...rows);
    }
    if (s.console && changed(t, "console", s.console)) p.console.textContent = s.console.map(l => {
      const o = Object.assign({}, l); delete o.t; delete o.terminal;
      return (l.t || "").slice(11) + " " + (o.event === "console" ? o.text : JSON.stringify(o));
    }).join("\n");
  }

  function buildMap(map) {
    if (!map) return;
    $("#metro").hidden = false;
    $("#map-name").textContent = "— " + map.name;
    const s = $("#map");
    s.setAttribute("viewBox", "0 0 " + map.width + " " + map.height);
    const pos = {};
    for (const st of map.stations) pos[st.id] = st;
    const colour = {};
    for (const ln of map.lines) colour[ln.id] = ln.colour;
    const g = svg("g", {});
    for (const e of map.edges) {
      const a = pos[e.a], b = pos[e.b];
      g.append(svg("line", {class: "edge", x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: colour[e.line] || "#999"}));
    }
    s.append(g);
    const trips = svg("g", {id: "trip-layer"});
    s.append(trips);
    const dots = svg("g", {});
    for (const st of map.stations) {
      const c = svg("circle", {class: "st", cx: st.x, cy: st.y, r: 2.6, "data-station": st.id});
      c.append(svg("title", {})); c.lastChild.textContent = st.name + " (" + st.id + ")";
      dots.append(c);
    }
    s.append(dots);
    s.append(svg("g", {id: "label-layer"}));
    meta.pos = pos;
  }

  function updateMap(status) {
    if (!meta.map) return;
    const pos = meta.pos;
    const key = JSON.stringify([status.stations, status.trips]);
    if (key === meta.mapKey) return;
    meta.mapKey = key;
    const labels = $("#label-layer");
    labels.replaceChildren();
    for (const [id, tids] of Object.entries(status.stations || {})) {
      const st = pos[id];
      if (!st) continue;
      const dot = $('circle[data-station="' + id + '"]');
      if (dot) { dot.classList.add("ours"); dot.setAttribute("r", 6); }
      const t = svg("text", {x: st.x + 8, y: st.y - 8});
      t.textContent = st.name + " · " + tids.join(", ");
      labels.append(t);
    }
    const layer = $("#trip-layer");
    layer.replaceChildren();
    const list = $("#trips");
    list.replaceChildren();
    for (const trip of status.trips || []) {
      const ids = trip.path || [trip.from, trip.to].filter(x => x !== null && x !== undefined);
      const pts = ids.map(i => pos[i]).filter(Boolean).map(p => p.x + "," + p.y).join(" ");
      if (pts) layer.append(svg("polyline", {class: "trip" + (trip.to == null ? " open" : ""), points: pts, "data-card": trip.card}));
      const name = i => (pos[i] ? pos[i].name : "?");
      list.append(el("li", {"data-card": trip.card,
        text: trip.card + ": " + (trip.from != null ? name(trip.from) : "(no entry seen)") + " → " +
              (trip.to != null ? name(trip.to) : "(in the network)") + (trip.path ? " (" + (trip.path.length - 1) + " stops)" : "")}));
    }
  }

  function setStatus(st) {
    $("#virtual").textContent = st.virtual ? st.virtual.replace("T", " ") : "--";
    $("#progress").value = st.progress || 0;
    finished = st.done;
    const state = st.error ? "stopped" : st.done ? "done" : st.paused ? "paused" : "running";
    $("#state").textContent = state;
    document.body.dataset.state = state;
    for (const b of document.querySelectorAll("[data-speed]")) b.classList.toggle("on", b.dataset.speed === st.speed);
    $("#pause").textContent = st.paused ? "resume" : "pause";
    $("#pause").classList.toggle("on", !!st.paused);
    if (st.error) showError(st.error);
    for (const t of Object.values(terms)) if (t.parts.keypad) t.parts.keypad.classList.toggle("disabled", !!st.done || meta.mode !== "live");
    if (st.cards && st.cards.length) {
      $("#cards").hidden = false;
      $("#cardtable").replaceChildren(el("tr", {}, ...["card", "number", "balance", "subsidy", "atc"].map(h => el("th", {text: h}))),
        ...st.cards.map(c => el("tr", {}, ...[c.name, c.card, (c.balance / 100).toFixed(2), (c.subsidy / 100).toFixed(2), c.atc].map(v => el("td", {text: String(v)})))));
    }
    updateMap(st);
  }

  function showConsole(c) {
    $("#board-console").hidden = false;
    $("#console-name").textContent = "— " + c.name;
    const pre = $("#console-lines");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = c.lines.join("\n");
    if (atEnd) pre.scrollTop = pre.scrollHeight;
    $("#console-error").textContent = c.error || "";
  }

  function start() {
    const src = new EventSource("/events?feed=" + feed);
    src.addEventListener("meta", ev => {
      if (meta) return;  // a reconnect: the terminals are drawn already
      meta = JSON.parse(ev.data);
      document.title = meta.name + " — ykt sim view";
      $("#name").textContent = meta.name;
      $("#mode").textContent = meta.mode === "live" ? "live · " + meta.runtime : meta.mode;
      const box = $("#terminals");
      for (const d of meta.terminals) { terms[d.id] = build(d); box.append(terms[d.id].root); }
      if (meta.terminals.length <= 3)  // a few terminals: their journals and consoles open
        for (const d of box.querySelectorAll("details")) d.open = true;
      buildMap(meta.map);
      document.body.dataset.ready = "1";
    });
    src.addEventListener("state", ev => {
      const t0 = performance.now();
      const msg = JSON.parse(ev.data);
      for (const [id, s] of Object.entries(msg.terms)) if (terms[id]) update(terms[id], s);
      setStatus(msg.status);
      if (msg.console) showConsole(msg.console);
      document.body.dataset.version = msg.version;
      document.body.dataset.lines = msg.status.lines;
      document.body.dataset.steps = msg.status.steps;
      const took = performance.now() - t0;  // how long drawing takes (docs/view.md, figures)
      stats.messages++; stats.ms += took; stats.max_ms = Math.max(stats.max_ms, took);
    });
  }

  for (const b of document.querySelectorAll("[data-speed]")) b.addEventListener("click", () => post("/control", {speed: b.dataset.speed}));
  $("#pause").addEventListener("click", () => post("/control", {pause: $("#pause").textContent === "pause"}));
  $("#step").addEventListener("click", () => post("/control", {step: true}));
  $("#replay-file").addEventListener("change", async ev => {
    const file = ev.target.files[0];
    if (!file) return;
    const text = await file.text();
    const speed = (document.querySelector("[data-speed].on") || {dataset: {speed: "1"}}).dataset.speed;
    const r = await fetch("/replay?name=" + encodeURIComponent(file.name) + "&speed=" + speed, {method: "POST", body: text});
    const out = await r.json().catch(() => ({error: "no answer"}));
    if (!r.ok) { showError(out.error); return; }
    location.search = "?feed=" + out.feed;
  });
  start();
})();
