// Wires the page: state ↔ URL, controls → runs → renderers.
//
// Runs always arrive as fast as the server makes them (speed 0, one WebSocket,
// latest request wins); what the plots show is decided here, frame by frame:
// everything at once in instant mode, or a playhead moving at `speed` updates
// per second when animating. So pause, replay and scrubbing never touch the server.

import * as S from "./state.js";
import { RunStream, fetchRuns, fetchSurface } from "./api.js";
import { DataView, LossView, Surface3DView, SurfaceView, fmtNumber, runColor, runDash } from "./plots.js";
import { h, problemControls, runCard, showValue } from "./controls.js";

const $ = (sel) => document.querySelector(sel);
const catalog = new S.Catalog(JSON.parse($("#catalog").textContent));
let state = S.fromURL(location.search, catalog);
let selected = 0;

// What tests and benchmarks can watch: a counter of finished redraws and when.
const hook = {
  transport: "ws",
  redraws: 0,
  lastRedraw: 0,
  completed: 0, // runs whose every point is on screen
  lastCompleted: { id: 0, at: 0 },
  get state() {
    return S.clone(state);
  },
  get url() {
    return S.toURL(state, catalog);
  },
  get currentId() {
    return current?.id ?? 0;
  },
};
window.__descentlab = hook;

// ---------------------------------------------------------------- Plotly, loaded after first paint

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/static/vendor/plotly.min.js";
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => reject(new Error("could not load Plotly"));
    document.head.append(script);
  });
}

// ---------------------------------------------------------------- the run in flight

let current = null; // {id, request, buffers, received, done, started, data}
const view = {
  target: Infinity, // updates to show
  playing: false,
  playFrom: 0,
  playStart: 0,
  shown: [], // points drawn per run
  drawnId: null, // the run id whose points are on screen
  stale: true, // renderers need a full reset
  finished: false,
};
let plotsReady = false;
let surface;
let surface3d;
let loss;
let dataView;
let ground = { key: null, grid: null, pending: null };

const stream = new RunStream({
  onStarted: (m) => started(m),
  onChunk: (m) => chunk(m),
  onDone: (m) => done(m),
  onError: (detail) => failed(detail),
  onStatus: (status) => connection(status),
});

function newRun(id, request) {
  current = {
    id,
    request,
    buffers: request.runs.map(() => ({ x: [], y: [], loss: [], diverged: null })),
    received: 0,
    done: false,
    sentAt: performance.now(),
    data: null,
  };
}

function started(message) {
  if (!current || message.id !== current.id) return;
  current.started = message;
  if (message.data) {
    current.data = message.data;
    const minimum = message.data.minimum;
    const key = JSON.stringify(minimum || null);
    if (key !== ground.minimumKey) {
      ground.minimumKey = key;
      view.stale = true;
      applyGround();
    }
    view.dataStale = true;
  }
}

function chunk(message) {
  if (!current || message.id !== current.id) return;
  message.runs.forEach((run, i) => {
    const buf = current.buffers[i];
    if (!buf) return;
    for (let k = 0; k < run.path.length; k++) {
      buf.x.push(run.path[k][0]);
      buf.y.push(run.path[k][1]);
      buf.loss.push(run.loss[k]);
    }
    current.received = Math.max(current.received, message.from + run.path.length);
  });
  schedule();
}

function done(message) {
  if (!current || message.id !== current.id) return;
  current.done = true;
  current.doneAt = performance.now();
  message.runs.forEach((run, i) => {
    if (current.buffers[i]) current.buffers[i].diverged = run.diverged_at ?? null;
  });
  schedule();
}

function failed(detail) {
  toast(`The server refused this run: ${detail}`);
}

// Latest request wins; sends are paced so a fast drag stays within the server's rate limit.
let sendTimer = null;
let lastSend = 0;
let postAbort = null;
const SEND_GAP = 40;
const INSTANT_WAIT = 120; // ms a new run may take before its first points are drawn anyway

function rerun({ animate = !state.instant } = {}) {
  view.animateNext = animate;
  if (sendTimer) return;
  const wait = lastSend + SEND_GAP - performance.now();
  if (wait <= 0) send();
  else sendTimer = setTimeout(send, wait);
}

function send() {
  sendTimer = null;
  lastSend = performance.now();
  const request = S.toRequest(state, catalog);
  if (hook.transport === "post") {
    postAbort?.abort();
    postAbort = new AbortController();
    const id = (hook.postId = (hook.postId || 0) + 1) + 1e6;
    newRun(id, request);
    fetchRuns(request, postAbort.signal)
      .then((result) => {
        if (current?.id !== id) return;
        started({ id, data: result.data });
        chunk({ id, from: 0, runs: result.runs.map((r) => ({ path: r.path, loss: r.loss })) });
        done({ id, runs: result.runs.map((r) => ({ diverged_at: r.diverged_at })) });
      })
      .catch((error) => {
        if (error.name !== "AbortError") failed(error.message);
      });
  } else {
    newRun(stream.run(request, 0), request);
  }
  view.finished = false;
  if (view.animateNext) {
    view.playing = true;
    view.playFrom = 0;
    view.playStart = performance.now();
    view.target = 0;
  } else {
    view.playing = false;
    view.target = Infinity;
  }
  updatePlayButton();
}

// ---------------------------------------------------------------- drawing, once per frame

let frameRequested = false;
let drawing = false;

function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(frame);
}

function runMeta(i, buf, upto) {
  const run = state.runs[i];
  const opt = catalog.optimizer(run?.optimizer);
  return {
    name: legendName(run),
    short: opt.label,
    color: runColor(i),
    dash: runDash(i),
    start: run ? S.startOf(run, state, catalog) : [0, 0],
    path: { x: buf.x.slice(0, upto), y: buf.y.slice(0, upto), loss: buf.loss.slice(0, upto) },
    allLoss: buf.loss.slice(0, upto),
  };
}

async function frame() {
  frameRequested = false;
  if (!plotsReady || !current || !ground.grid) return;
  if (drawing) {
    view.redrawAfter = true;
    return;
  }
  drawing = true;
  try {
    await draw();
  } catch (error) {
    console.warn("draw failed", error); // eslint-disable-line no-console
  } finally {
    drawing = false;
  }
  if (view.redrawAfter || view.playing) {
    view.redrawAfter = false;
    schedule();
  }
}

async function draw() {
  const cur = current;
  const steps = cur.request.steps;
  if (view.playing) {
    view.target = view.playFrom + Math.floor(((performance.now() - view.playStart) / 1000) * state.speed);
    if (view.target >= steps) {
      view.target = steps;
      view.playing = false;
      updatePlayButton();
    }
  }
  const points = Math.min(view.target + 1, cur.received);
  const n = cur.buffers.length;
  const is3d = state.view === "3d";
  const newRun = view.drawnId !== cur.id;
  // A new run replaces the old paths only once it has points, so nothing blinks;
  // in instant mode it waits (briefly) for the whole run, so one redraw shows it.
  if (newRun && cur.received === 0) return;
  if (newRun && !cur.done && !view.playing && performance.now() - cur.sentAt < INSTANT_WAIT) {
    setTimeout(schedule, 8);
    return;
  }
  const backwards = view.shown.some((s) => s > points);
  if (newRun || view.stale || backwards || view.shown.length !== n) {
    const metas = cur.buffers.map((buf, i) => runMeta(i, buf, points));
    const jobs = [surface.reset(metas, steps, { draft: view.drafting }), loss.reset(metas, steps)];
    if (is3d) jobs.push(surface3d.reset(metas));
    if (cur.data && (view.dataStale || newRun || !dataView.ready)) {
      jobs.push(dataView.reset(catalog.problem(state.problem), cur.data, metas));
      view.dataStale = false;
    } else if (cur.data) jobs.push(dataView.update(metas.map((m) => lastPoint(m.path))));
    await Promise.all(jobs);
    view.shown = cur.buffers.map((buf) => Math.min(points, buf.x.length));
    view.drawnId = cur.id;
    view.stale = false;
    view.finished = false;
    renderLegend();
  } else {
    const slices = [];
    const from = [];
    let any = false;
    cur.buffers.forEach((buf, i) => {
      const a = view.shown[i];
      const b = Math.min(points, buf.x.length);
      from.push(a);
      slices.push({ x: buf.x.slice(a, b), y: buf.y.slice(a, b), loss: buf.loss.slice(a, b) });
      if (b > a) any = true;
      view.shown[i] = b;
    });
    if (any) {
      const jobs = [surface.add(slices), loss.add(slices, from)];
      if (is3d) jobs.push(surface3d.add(slices));
      if (cur.data) {
        jobs.push(dataView.update(cur.buffers.map((buf, i) => (view.shown[i] ? [buf.x[view.shown[i] - 1], buf.y[view.shown[i] - 1]] : null))));
      }
      await Promise.all(jobs);
    }
  }
  if (!view.drafting && !surface.dots) await surface.undraft();
  hook.redraws++;
  hook.lastRedraw = performance.now();
  updateClock(points - 1, steps);

  const complete = cur.done && cur.buffers.every((buf, i) => view.shown[i] >= buf.x.length);
  if (complete && !view.finished) {
    view.finished = true;
    await finish(cur);
    hook.completed++;
    hook.lastCompleted = { id: cur.id, at: performance.now(), sent: cur.sentAt, received: cur.doneAt };
  }
}

function lastPoint(path) {
  const n = path.x.length;
  return n ? [path.x[n - 1], path.y[n - 1]] : null;
}

/** Every point is on screen: settle the loss axis, mark divergence, report in the cards. */
async function finish(cur) {
  const marks = [];
  cur.buffers.forEach((buf, i) => {
    const n = buf.x.length;
    if (buf.diverged != null && n) marks.push({ i, t: buf.diverged, point: [buf.x[n - 1], buf.y[n - 1]], loss: buf.loss[n - 1] });
  });
  const metas = cur.buffers.map((buf, i) => runMeta(i, buf, buf.x.length));
  const jobs = [loss.finish(metas, marks)];
  if (marks.length) jobs.push(surface.markDiverged(marks));
  await Promise.all(jobs);
  renderStatuses(cur);
  renderLegend();
}

function updateClock(t, steps) {
  const scrub = $("#scrub");
  scrub.max = steps;
  scrub.value = Math.max(0, t);
  $("#t-out").textContent = `t = ${Math.max(0, t)}`;
  scrub.setAttribute("aria-valuetext", `update ${Math.max(0, t)} of ${steps}`);
}

// ---------------------------------------------------------------- the ground (contours)

function groundKey() {
  const problem = catalog.problem(state.problem);
  // A surface's shape never depends on its noise; a regression's depends on its data.
  return problem.kind === "regression" ? JSON.stringify([problem.name, state.problemParams, state.seed]) : problem.name;
}

function resolution() {
  const r = catalog.limits.surface_resolution || {};
  return Math.max(r.min ?? 10, Math.min(r.max ?? 200, 110));
}

function loadGround() {
  const key = groundKey();
  if (key === ground.key) return;
  ground.key = key;
  const problem = catalog.problem(state.problem);
  const body = { name: problem.name, ...S.toRequest(state, catalog).problem };
  const promise = fetchSurface(body, state.seed, resolution());
  ground.pending = promise;
  promise
    .then((grid) => {
      if (ground.pending !== promise) return;
      ground.grid = grid;
      ground.problem = problem;
      applyGround();
    })
    .catch((error) => toast(`Could not draw the surface: ${error.message}`));
}

function applyGround() {
  if (!ground.grid || !plotsReady) return;
  const problem = ground.problem;
  const data = problem.kind === "regression" ? current?.data : null;
  if (problem.kind === "regression" && !data) return; // wait for the dataset's minimum
  const minima = data?.minimum ? [data.minimum] : problem.minima;
  surface.setProblem(problem, ground.grid, minima, data?.min_loss);
  surface3d.setProblem(problem, ground.grid, minima, surface.scale);
  setStageShape(problem);
  view.stale = true;
  schedule();
}

function setStageShape(problem) {
  const wide = (problem.bounds.x[1] - problem.bounds.x[0]) / (problem.bounds.y[1] - problem.bounds.y[0]) > 1.6;
  const stage = $("#stage");
  stage.classList.toggle("wide", wide);
  stage.classList.toggle("square", !wide);
  stage.classList.toggle("regression", problem.kind === "regression");
  $("#data-card").hidden = problem.kind !== "regression";

}


// ---------------------------------------------------------------- panel and header

function legendName(run) {
  if (!run) return "";
  const opt = catalog.optimizer(run.optimizer);
  const keys = opt.params.filter((p) => p.name === "alpha" || run.params[p.name] !== p.default);
  const parts = keys.map((p) => `${symbolText(p)}=${showValue(p, run.params[p.name])}`);
  if (run.schedule.name !== catalog.raw.schedules[0].name) parts.push(catalog.schedule(run.schedule.name).label.toLowerCase());
  return `${opt.label} · ${parts.join(", ")}`;
}

const GREEK = { alpha: "α", beta: "β", gamma: "γ", rho: "ρ", varepsilon: "ε", epsilon: "ε", sigma: "σ", kappa: "κ" };
function symbolText(spec) {
  let s = spec.symbol || spec.name;
  s = s.replace(/\\mathrm\{([^}]*)\}/g, "$1").replace(/\\([a-z]+)/g, (_, w) => GREEK[w] || w);
  s = s.replace(/_\{?([^}]*)\}?/g, (_, sub) => sub.replace(/[0-9]/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]));
  return s.replace(/[{}]/g, "");
}

function renderLegend() {
  const box = $("#legend");
  box.replaceChildren(
    ...state.runs.map((run, i) =>
      h(
        "button",
        { type: "button", class: `legend-item${i === selected ? " selected" : ""}`, style: { "--run": runColor(i) }, onclick: () => select(i, true), title: "Select this run" },
        h("span", { class: "swatch", "aria-hidden": "true" }),
        legendName(run),
        statusBadge(i),
      ),
    ),
  );
}

function statusBadge(i) {
  const buf = current?.buffers[i];
  if (buf?.diverged != null && current?.done) return h("span", { class: "badge bad" }, `✕ t=${buf.diverged}`);
  return null;
}

function statusText(i) {
  const buf = current?.buffers[i];
  if (!buf || !buf.x.length) return "";
  const n = buf.x.length;
  if (buf.diverged != null) return `✕ diverged at t=${buf.diverged} (last finite loss ${fmtNumber(buf.loss[n - 1])})`;
  return `after ${n - 1} updates: loss ${fmtNumber(buf.loss[n - 1])} at (${fmtNumber(buf.x[n - 1])}, ${fmtNumber(buf.y[n - 1])})`;
}

function renderStatuses() {
  document.querySelectorAll(".run-card").forEach((card) => {
    const i = Number(card.dataset.run);
    const el = card.querySelector(".run-status");
    el.textContent = statusText(i);
    el.classList.toggle("bad", current?.buffers[i]?.diverged != null);
  });
}

let cards = [];

function perEpoch() {
  const p = state.problemParams;
  return p.n_samples && p.batch_size ? Math.ceil(p.n_samples / p.batch_size) : 1;
}

function renderRuns() {
  const problem = catalog.problem(state.problem);
  const handlers = {
    select: (i) => select(i),
    optimizer: (i, name) => {
      const old = state.runs[i];
      state.runs[i] = catalog.run({ optimizer: name, params: sharedParams(old, name), schedule: old.schedule, start: old.start });
      changed({ push: true, panel: true });
    },
    param: (i, name, value, final) => {
      state.runs[i].params[name] = value;
      cards[i]?.refresh(state.runs[i]);
      changed({ push: final, rerun: final || state.instant });
    },
    schedule: (i, name) => {
      state.runs[i].schedule = catalog.run({ optimizer: "x", schedule: { name } }).schedule;
      changed({ push: true, panel: true });
    },
    scheduleParam: (i, name, value, final) => {
      state.runs[i].schedule[name] = value;
      changed({ push: final, panel: final, rerun: final || state.instant });
    },
    start: (i, point) => {
      state.runs[i].start = point;
      changed({ push: true, panel: true });
    },
    duplicate: (i) => {
      if (state.runs.length >= catalog.maxRuns()) return;
      state.runs.splice(i + 1, 0, S.clone(state.runs[i]));
      selected = i + 1;
      changed({ push: true, panel: true });
    },
    remove: (i) => {
      if (state.runs.length <= 1) return;
      state.runs.splice(i, 1);
      selected = Math.min(selected, state.runs.length - 1);
      changed({ push: true, panel: true });
    },
  };
  const focused = document.activeElement;
  const focusKey = focused?.closest?.(".run-card") ? [focused.closest(".run-card").dataset.run, focused.dataset.param || focused.dataset.control || focused.dataset.action || focused.dataset.start] : null;
  cards = state.runs.map((run, i) =>
    runCard(
      run,
      i,
      {
        catalog,
        state,
        selected: i === selected,
        canRemove: state.runs.length > 1,
        canAdd: state.runs.length < catalog.maxRuns(),
        perEpoch: perEpoch(),
        defaultStart: problem.start,
        status: current && view.finished ? statusText(i) : "",
      },
      handlers,
    ),
  );
  $("#runs").replaceChildren(...cards);
  $("#add-run").disabled = state.runs.length >= catalog.maxRuns();
  if (focusKey) {
    const card = $(`.run-card[data-run="${focusKey[0]}"]`);
    const el = card?.querySelector(`[data-param="${focusKey[1]}"]:not(.sr-only), [data-control="${focusKey[1]}"], [data-action="${focusKey[1]}"], [data-start="${focusKey[1]}"]`);
    el?.focus();
  }
  renderLegend();
}

/** Keep what carries over when switching optimiser (alpha, shared β's). */
function sharedParams(old, name) {
  const opt = catalog.optimizer(name);
  const out = {};
  for (const spec of opt.params) {
    if (spec.name === "alpha") continue; // each rule has its own sensible scale
    if (spec.name in old.params) out[spec.name] = old.params[spec.name];
  }
  return out;
}

function select(i, scroll = false) {
  if (i === selected) return;
  selected = i;
  document.querySelectorAll(".run-card").forEach((card) => card.classList.toggle("selected", Number(card.dataset.run) === i));
  renderLegend();
  if (scroll) document.querySelector(`.run-card[data-run="${i}"]`)?.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function renderProblem() {
  const problem = catalog.problem(state.problem);
  $("#problem").value = problem.name;
  $("#problem-desc").textContent = problem.description;
  $("#formula").innerHTML = problem.formula_mathml || "";
  $("#formula").title = problem.label;
  $("#problem-params").replaceChildren(
    problemControls(problem, state.problemParams, (name, value, final) => {
      state.problemParams[name] = value;
      state.problemParams = catalog.problemParams(state.problem, state.problemParams);
      if (name === "n_samples" || (name === "batch_size" && final)) renderRuns(); // α(t) depends on epochs
      if (name === "n_samples" && final) renderProblem();
      changed({ push: final, ground: final || state.instant, rerun: final || state.instant });
    }),
  );
}

function renderHeader() {
  $("#steps").value = state.steps;
  $("#steps").max = catalog.maxSteps();
  $("#seed").value = state.seed;
  $("#speed").value = Math.log10(state.speed).toFixed(2);
  $("#speed-out").textContent = `${state.speed}/s`;
  $("#instant").checked = state.instant;
  $("#scale").value = state.scale;
  document.querySelectorAll("[data-view]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === state.view)));
  $("#surface-3d").hidden = state.view !== "3d";
}

function updatePlayButton() {
  const btn = $("#play");
  btn.classList.toggle("playing", view.playing);
  btn.setAttribute("aria-label", view.playing ? "Pause" : "Play the runs as an animation");
}

// ---------------------------------------------------------------- changes and history

let replaceTimer = null;

function writeURL(push) {
  const url = S.toURL(state, catalog);
  if (push) {
    clearTimeout(replaceTimer);
    if (url !== location.search) history.pushState(null, "", url);
  } else {
    // While dragging: replaceState, a few times a second at most.
    clearTimeout(replaceTimer);
    replaceTimer = setTimeout(() => history.replaceState(null, "", url), 120);
  }
}

let draftTimer = null;

/** A slider is moving: draw cheaply until it rests for a moment. */
function drafting() {
  view.drafting = true;
  clearTimeout(draftTimer);
  draftTimer = setTimeout(() => {
    view.drafting = false;
    if (plotsReady && !drawing) surface.undraft();
    else schedule();
  }, 250);
}

function changed({ push = true, panel = false, ground: newGround = false, rerun: run = true } = {}) {
  writeURL(push);
  if (!push && run) drafting();
  if (panel) renderRuns();
  if (newGround) loadGround();
  if (run) rerun();
  else renderLegend();
}

function applyState(next) {
  const problemChanged = next.problem !== state.problem;
  state = next;
  selected = Math.min(selected, state.runs.length - 1);
  loss.mode = state.scale;
  renderHeader();
  renderProblem();
  renderRuns();
  if (problemChanged) view.stale = true;
  loadGround();
  rerun({ animate: false });
}

function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 6000);
}

let lostTimer = null;
function connection(status) {
  const conn = $("#conn");
  conn.dataset.status = status;
  conn.title = status === "open" ? "connected to the server" : "connection lost: reconnecting";
  conn.textContent = status === "open" ? "live" : "offline";
  clearTimeout(lostTimer);
  if (status === "open") $("#banner").hidden = true;
  else lostTimer = setTimeout(() => ($("#banner").hidden = false), 600);
}

// ---------------------------------------------------------------- wiring

function wire() {
  $("#problem").addEventListener("change", (e) => {
    const name = e.target.value;
    state.problem = name;
    state.problemParams = catalog.problemParams(name);
    state.runs.forEach((run) => (run.start = null));
    renderProblem();
    view.stale = true;
    changed({ push: true, panel: true, ground: true });
  });
  $("#steps").addEventListener("change", (e) => {
    const v = Math.round(Number(e.target.value));
    state.steps = Number.isFinite(v) ? Math.max(1, Math.min(catalog.maxSteps(), v)) : state.steps;
    e.target.value = state.steps;
    changed({ push: true, panel: true });
  });
  $("#seed").addEventListener("change", (e) => {
    const v = Math.round(Number(e.target.value));
    state.seed = Number.isFinite(v) ? Math.max(0, Math.min(2 ** 32 - 1, v)) : state.seed;
    e.target.value = state.seed;
    changed({ push: true, ground: true });
  });
  $("#speed").addEventListener("input", (e) => {
    state.speed = Math.max(1, Math.round(10 ** Number(e.target.value)));
    $("#speed-out").textContent = `${state.speed}/s`;
    if (view.playing) {
      view.playFrom = view.target;
      view.playStart = performance.now();
    }
    writeURL(false);
  });
  $("#speed").addEventListener("change", () => writeURL(true));
  $("#instant").addEventListener("change", (e) => {
    state.instant = e.target.checked;
    writeURL(true);
    if (state.instant) {
      view.playing = false;
      view.target = Infinity;
      updatePlayButton();
      schedule();
    }
  });
  $("#play").addEventListener("click", togglePlay);
  $("#scrub").addEventListener("input", (e) => {
    view.playing = false;
    view.target = Number(e.target.value);
    updatePlayButton();
    schedule();
  });
  $("#scale").addEventListener("change", (e) => {
    state.scale = e.target.value;
    loss.mode = state.scale;
    view.stale = true;
    writeURL(true);
    schedule();
  });
  document.querySelectorAll("[data-view]").forEach((btn) =>
    btn.addEventListener("click", () => {
      if (state.view === btn.dataset.view) return;
      state.view = btn.dataset.view;
      renderHeader();
      writeURL(true);
      view.stale = true;
      schedule();
      if (state.view === "3d") requestAnimationFrame(() => surface3d.resize());
    }),
  );
  $("#add-run").addEventListener("click", () => {
    if (state.runs.length >= catalog.maxRuns()) return;
    const base = state.runs[selected] || state.runs[0];
    // A new run is the selected one's optimiser with the catalog's defaults.
    state.runs.push(catalog.run({ optimizer: base.optimizer, start: base.start }));
    selected = state.runs.length - 1;
    changed({ push: true, panel: true });
    requestAnimationFrame(() => cards[selected]?.scrollIntoView({ block: "nearest", behavior: "smooth" }));
  });
  $("#copy-link").addEventListener("click", async () => {
    const btn = $("#copy-link");
    history.replaceState(null, "", S.toURL(state, catalog));
    try {
      await navigator.clipboard.writeText(location.href);
      btn.textContent = "Copied ✓";
    } catch {
      window.prompt("Copy this link:", location.href);
    }
    setTimeout(() => (btn.textContent = "Copy link"), 1600);
  });
  window.addEventListener("popstate", () => applyState(S.fromURL(location.search, catalog)));
  document.addEventListener("keydown", (e) => {
    if (e.key !== " " || e.target.closest("input, select, textarea, button")) return;
    e.preventDefault();
    togglePlay();
  });

}

function togglePlay() {
  if (!current) return;
  const steps = current.request.steps;
  if (view.playing) {
    view.playing = false;
  } else {
    const at = Number.isFinite(view.target) && view.target < steps ? view.target : 0;
    view.playing = true;
    view.playFrom = at;
    view.playStart = performance.now();
    view.target = at;
  }
  updatePlayButton();
  schedule();
}

function pick(point, onlySelected) {
  const p = [Number(point[0].toPrecision(4)), Number(point[1].toPrecision(4))];
  if (onlySelected) state.runs[selected].start = p;
  else state.runs.forEach((run) => (run.start = p));
  changed({ push: true, panel: true });
}

function hover(info) {
  const el = $("#readout");
  if (!info) {
    el.textContent = "";
    return;
  }
  const axes = catalog.problem(state.problem).axes;
  const [x, y] = info.point;
  el.textContent = `${axes[0]} = ${fmtNumber(x)}, ${axes[1]} = ${fmtNumber(y)}${info.loss != null ? `  ·  loss ${fmtNumber(info.loss)}` : ""}`;
}

async function main() {
  renderHeader();
  renderProblem();
  renderRuns();
  wire();
  loadGround();
  rerun({ animate: false }); // the data starts flowing while Plotly loads
  await loadPlotly();
  surface = new SurfaceView($("#surface-plot"), { onPick: pick, onHover: hover });
  surface3d = new Surface3DView($("#surface-3d"));
  loss = new LossView($("#loss-plot"));
  loss.mode = state.scale;
  dataView = new DataView($("#data-plot"));
  plotsReady = true;
  document.body.classList.add("ready");
  applyGround();
  schedule();
}

main().catch((error) => toast(error.message));
