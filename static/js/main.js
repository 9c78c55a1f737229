// Wires the page: state ↔ URL, controls → runs → renderers.
//
// Runs always arrive as fast as the server makes them (speed 0, one WebSocket,
// latest request wins); what the plots show is decided here, frame by frame:
// everything at once in instant mode, or a playhead moving at `speed` updates
// per second when animating. So pause, replay and scrubbing never touch the server.

import * as S from "./state.js";
import { RunStream, fetchRuns, fetchSurface } from "./api.js";
import { DataView, LossView, Surface3DView, SurfaceView, fmtNumber, runColor, runDash, setPresentation } from "./plots.js";
import { h, problemControls, runCard, showValue } from "./controls.js";
import { SweepPanel } from "./sweep.js";

const $ = (sel) => document.querySelector(sel);
const catalog = new S.Catalog(JSON.parse($("#catalog").textContent));
const lessons = JSON.parse($("#lessons").textContent);
let lesson = lessonFromPath();
// /lessons/<slug> with no query opens on the lesson's own scene.
let state = lesson && !location.search ? S.fromScene(lesson, catalog) : S.fromURL(location.search, catalog);
let selected = 0;

function lessonFromPath() {
  const match = location.pathname.match(/^\/lessons\/([^/]+)\/?$/);
  return match ? lessons.find((l) => l.slug === decodeURIComponent(match[1])) || null : null;
}

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
  get lesson() {
    return lesson?.slug ?? null;
  },
  sweep: null, // the last sweep: {request, result, seconds}
  fair: null, // compare fairly's choices: [{run, alpha, …}]
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
    buffers: request.runs.map(() => ({ x: [], y: [], loss: [], diverged: null, converged: null })),
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
    if (current.buffers[i]) {
      current.buffers[i].diverged = run.diverged_at ?? null;
      current.buffers[i].converged = run.converged_at ?? null;
    }
  });
  drawNow();
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
        const { runs, ...head } = result;
        started({ id, ...head, runs: runs.map(({ path, loss, diverged_at, converged_at, ...run }) => run) });
        chunk({ id, from: 0, runs: runs.map((r) => ({ path: r.path, loss: r.loss })) });
        done({ id, runs: runs.map((r) => ({ diverged_at: r.diverged_at, converged_at: r.converged_at })) });
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
let drewThisFrame = false; // a draw ran since the last animation frame began

function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    drewThisFrame = false;
    frame();
  });
}

/**
 * A run just became complete: draw it now rather than at the next frame (up to
 * 16 ms later), unless this frame has drawn already; still one redraw per frame.
 */
function drawNow() {
  if (drewThisFrame || drawing || !plotsReady) {
    schedule();
    return;
  }
  frame();
}

/** Run `fn` once the current changes are painted: after the next frame's paint. */
function afterPaint(fn) {
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => fn();
    channel.port2.postMessage(null);
  });
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
    per: run ? S.batchesPerEpoch(run, state) : 1,
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
  if (!drewThisFrame) {
    drewThisFrame = true;
    requestAnimationFrame(() => (drewThisFrame = false));
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
  // Every point of a finished run fits on screen: draw its marks (✕, ◆) in the same update.
  const whole = cur.done && cur.buffers.every((buf) => points >= buf.x.length);
  if (newRun || view.stale || backwards || view.shown.length !== n) {
    const metas = cur.buffers.map((buf, i) => runMeta(i, buf, points));
    const final = whole ? marksOf(cur) : null;
    const jobs = [surface.reset(metas, steps, { draft: view.drafting, marks: final?.marks }), loss.reset(metas, steps, final)];
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
    view.marked = !!final;
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
    // The hook reports a run complete once its every point is painted.
    afterPaint(() => {
      hook.completed++;
      hook.lastCompleted = { id: cur.id, at: performance.now(), sent: cur.sentAt, received: cur.doneAt };
      window.dispatchEvent(new CustomEvent("descentlab:complete", { detail: hook.lastCompleted }));
    });
  }
}

function lastPoint(path) {
  const n = path.x.length;
  return n ? [path.x[n - 1], path.y[n - 1]] : null;
}

/** Where runs diverged (✕) and converged (◆). */
function marksOf(cur) {
  const marks = [];
  const converged = [];
  cur.buffers.forEach((buf, i) => {
    const n = buf.x.length;
    if (buf.diverged != null && n) marks.push({ i, t: buf.diverged, point: [buf.x[n - 1], buf.y[n - 1]], loss: buf.loss[n - 1] });
    if (buf.converged != null && buf.converged < n) converged.push({ i, t: buf.converged, loss: buf.loss[buf.converged] });
  });
  return { marks, converged };
}

/** Every point is on screen: settle the loss axis, mark divergence, report in the cards. */
async function finish(cur) {
  if (!view.marked) {
    // The run came in pieces (animation, a slow run): its marks were not drawn yet.
    const { marks, converged } = marksOf(cur);
    const metas = cur.buffers.map((buf, i) => runMeta(i, buf, buf.x.length));
    await Promise.all([loss.finish(metas, marks, converged), surface.markDiverged(marks)]);
    view.marked = true;
  }
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

/**
 * A run's name in the legend and on hover: the optimiser and its key settings —
 * α, whatever is off its default, and every setting on which it differs from
 * another run of the same optimiser (so two Momentum runs with β 0.5 and 0.9 both
 * show β, even when 0.9 is the default).
 */
function legendName(run) {
  if (!run) return "";
  return `${catalog.optimizer(run.optimizer).label} · ${distinguishing(run).join(", ")}`;
}

/** The hyper-parameters on which run `i` differs from another run of its optimiser. */
function differingParams(i) {
  const run = state.runs[i];
  const names = new Set();
  if (!run) return names;
  for (const other of state.runs) {
    if (other === run || other.optimizer !== run.optimizer) continue;
    for (const [name, v] of Object.entries(run.params)) if (String(Number(other.params[name])) !== String(Number(v))) names.add(name);
  }
  return names;
}

/** "α=0.1", "β=0.9", "step", "T=20", "batch 16", "from (1, 2)": what tells this run apart. */
function distinguishing(run) {
  const opt = catalog.optimizer(run.optimizer);
  const twins = state.runs.filter((r) => r !== run && r.optimizer === run.optimizer);
  const differs = (get) => twins.some((r) => String(get(r)) !== String(get(run)));
  const value = (v) => (typeof v === "boolean" ? Number(v) : v);
  const parts = opt.params
    .filter((p) => p.name === "alpha" || value(run.params[p.name]) !== value(p.default) || differs((r) => value(r.params[p.name])))
    .map((p) => `${symbolText(p)}=${showValue(p, run.params[p.name])}`);
  const sched = catalog.schedule(run.schedule.name);
  if (run.schedule.name !== catalog.raw.schedules[0].name || differs((r) => r.schedule.name)) parts.push(sched.label.toLowerCase());
  for (const p of sched.params) {
    const mine = run.schedule[p.name];
    const alike = twins.filter((r) => r.schedule.name === run.schedule.name);
    if (alike.some((r) => String(r.schedule[p.name]) !== String(mine))) parts.push(`${symbolText(p)}=${showValue(p, mine)}`);
  }
  if (catalog.isRegression(state.problem) && state.runs.some((r) => S.batchOf(r, state) !== S.batchOf(run, state))) parts.push(`batch ${S.batchOf(run, state)}`);
  const at = S.startOf(run, state, catalog);
  if (differs((r) => S.startOf(r, state, catalog).join(","))) parts.push(`from (${fmtNumber(at[0])}, ${fmtNumber(at[1])})`);
  return parts;
}

const GREEK = { alpha: "α", beta: "β", gamma: "γ", rho: "ρ", varepsilon: "ε", epsilon: "ε", sigma: "σ", kappa: "κ" };
function symbolText(spec) {
  let s = spec.symbol || spec.name;
  s = s.replace(/\\mathrm\{([^}]*)\}/g, "$1").replace(/\\([a-z]+)/g, (_, w) => GREEK[w] || w);
  s = s.replace(/_\{?([^}]*)\}?/g, (_, sub) => sub.replace(/[0-9]/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]));
  return s.replace(/[{}]/g, "");
}

let legendKey = "";

function renderLegend() {
  const box = $("#legend");
  // Rebuilt only when a name, a badge or the selection changed (not on every redraw).
  const key = JSON.stringify([selected, state.runs.map((run, i) => [legendName(run), statusBadge(i)?.textContent ?? ""])]);
  if (key === legendKey && box.childElementCount === state.runs.length) return;
  legendKey = key;
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
  if (!current?.done || !buf || !view.finished) return null;
  if (buf.diverged != null) return h("span", { class: "badge bad", title: `diverged at update ${buf.diverged}` }, `✕ t=${buf.diverged}`);
  if (buf.converged != null) return h("span", { class: "badge good", title: `converged in ${buf.converged} updates` }, `✓ ${buf.converged}`);
  return null;
}

function statusText(i) {
  const buf = current?.buffers[i];
  if (!buf || !buf.x.length) return "";
  const n = buf.x.length;
  if (buf.diverged != null) return `✕ diverged at t=${buf.diverged} (last finite loss ${fmtNumber(buf.loss[n - 1])})`;
  const end = `after ${n - 1} updates: loss ${fmtNumber(buf.loss[n - 1])} at (${fmtNumber(buf.x[n - 1])}, ${fmtNumber(buf.y[n - 1])})`;
  if (buf.converged != null) return `✓ converged in ${buf.converged} update${buf.converged === 1 ? "" : "s"} · ${end}`;
  return end;
}

let findingAlpha = null; // the run whose α "Find a working α" is searching

function renderStatuses() {
  document.querySelectorAll(".run-card").forEach((card) => {
    const i = Number(card.dataset.run);
    const el = card.querySelector(".run-status");
    el.textContent = statusText(i);
    // A diverged run offers a way out: sweep its α alone and take the best.
    const run = state.runs[i];
    const hasAlpha = run && catalog.optimizer(run.optimizer).params.some((p) => p.name === "alpha");
    if (current?.buffers[i]?.diverged != null && view.finished && hasAlpha) {
      el.append(
        h(
          "button",
          {
            type: "button",
            class: "btn soft find-alpha",
            "data-action": "find-alpha",
            disabled: findingAlpha != null,
            title: "Sweep α for this run alone (as Compare fairly does) and give it the α with the lowest final loss",
            onclick: () => findAlpha(i),
          },
          findingAlpha === i ? "Looking for a working α…" : "Find a working α",
        ),
      );
    }
    el.classList.toggle("bad", current?.buffers[i]?.diverged != null);
    el.classList.toggle("good", current?.buffers[i]?.diverged == null && current?.buffers[i]?.converged != null);
  });
}

let cards = [];

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
      // Its card and the cards of its twins mark the values that tell them apart.
      cards.forEach((card, k) => (k === i || state.runs[k]?.optimizer === state.runs[i].optimizer) && card.refresh(state.runs[k]));
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
    batch: (i, value, final) => {
      state.runs[i].batch_size = value;
      view.stale = view.stale || (final && state.lossx === "epochs");
      changed({ push: final, panel: final, rerun: final || state.instant });
    },
    sweep: (i) => {
      select(i);
      sweeps.show(i);
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
        perEpoch: S.batchesPerEpoch(run, state),
        defaultStart: problem.start,
        status: current && view.finished ? statusText(i) : "",
        differs: () => differingParams(i),
        name: () => legendName(state.runs[i]),
        batch: batchControl(run, problem),
      },
      handlers,
    ),
  );
  $("#runs").replaceChildren(...cards);
  renderStatuses();
  highlight();
  $("#add-run").disabled = state.runs.length >= catalog.maxRuns();
  if (focusKey) {
    const card = $(`.run-card[data-run="${focusKey[0]}"]`);
    const el = card?.querySelector(`[data-param="${focusKey[1]}"]:not(.sr-only), [data-control="${focusKey[1]}"], [data-action="${focusKey[1]}"], [data-start="${focusKey[1]}"]`);
    el?.focus();
  }
  renderLegend();
}

/** "Find a working α": compare fairly's α sweep for run i alone; the best α goes into the run. */
async function findAlpha(i) {
  if (findingAlpha != null) return;
  if (sweeps.busy) {
    toast("A sweep is running: wait for it, or cancel it in the sweep panel.");
    return;
  }
  select(i);
  sweeps.show(i); // the panel shows the progress, then final loss against α
  findingAlpha = i;
  renderStatuses();
  let choices = null;
  try {
    choices = await sweeps.compareFairly(i);
  } finally {
    findingAlpha = null;
    renderStatuses();
  }
  if (choices && choices[0]?.alpha == null) toast(`Run ${i + 1} diverges for every α in the catalog's range: try another start or optimiser.`);
}

/** A regression run's own batch size: a log slider from 1 to n_samples. */
function batchControl(run, problem) {
  if (problem.kind !== "regression") return null;
  const spec = problem.params.find((p) => p.name === "batch_size");
  if (!spec) return null;
  return { spec, value: S.batchOf(run, state), max: state.problemParams.n_samples ?? spec.max, inherited: run.batch_size == null };
}

/** Mark the controls the lesson is about. */
function highlight() {
  document.querySelectorAll(".param.highlight").forEach((el) => el.classList.remove("highlight"));
  for (const name of lesson?.highlights || []) {
    document.querySelectorAll(`.param:has([data-param="${name}"]), .param:has([data-control="${name}"])`).forEach((el) => el.classList.add("highlight"));
  }
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
  sweeps?.refresh();
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
  const regression = problem.kind === "regression";
  $("#lossx-wrap").hidden = !regression;
  $("#loss-against").textContent = regression && state.lossx === "epochs" ? "against epoch" : "against update";
  if (loss) loss.epochs = regression && state.lossx === "epochs";
  $("#problem-params").replaceChildren(
    problemControls(problem, state.problemParams, (name, value, final) => {
      state.problemParams[name] = value;
      state.problemParams = catalog.problemParams(state.problem, state.problemParams);
      catalog.fitBatches(state);
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
  $("#lossx").value = state.lossx;
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
  if (push) sweeps?.refresh();
}

function applyState(next, { animate = false } = {}) {
  const problemChanged = next.problem !== state.problem;
  state = next;
  selected = Math.min(selected, state.runs.length - 1);
  if (loss) loss.mode = state.scale;
  renderHeader();
  renderProblem();
  renderRuns();
  view.stale = true;
  if (problemChanged) ground.minimumKey = undefined;
  loadGround();
  rerun({ animate });
  sweeps?.refresh();
}

// ---------------------------------------------------------------- lessons

function lessonURL(l) {
  return (l ? `/lessons/${encodeURIComponent(l.slug)}` : "/") + S.toURL(state, catalog);
}

/** Open a lesson (or free play, for null): its scene, its panel, its highlights. */
function openLesson(next, { push = true } = {}) {
  lesson = next;
  if (lesson) {
    const keep = { view: state.view, scale: state.scale, instant: state.instant };
    selected = 0;
    applyState(S.fromScene(lesson, catalog, keep), { animate: true });
  }
  const url = lessonURL(lesson);
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  renderLesson();
}

function stepLesson(delta) {
  const at = lesson ? lessons.indexOf(lesson) : -1;
  const next = at < 0 ? (delta > 0 ? 0 : lessons.length - 1) : at + delta;
  if (next < 0 || next >= lessons.length) return;
  openLesson(lessons[next]);
}

function renderLesson() {
  const box = $("#lesson");
  $("#lesson-pick").value = lesson?.slug ?? "";
  // Closed, the picker says which lesson, short; the open list and the panel give the titles.
  $("#lesson-face").textContent = lesson ? `Lesson ${lesson.number} of ${lessons.length}` : "Free play";
  $(".lesson-pick").title = lesson ? `Lesson ${lesson.number}: ${lesson.title} (n / b: next / previous)` : "Lessons: preset scenes from SGD to Adam (n / b: next / previous)";
  document.body.classList.toggle("in-lesson", !!lesson);
  box.hidden = !lesson;
  if (lesson) {
    $("#lesson-num").textContent = `Lesson ${lesson.number} of ${lessons.length}`;
    $("#lesson-title").textContent = lesson.title;
    $("#lesson-idea").textContent = lesson.idea;
    $("#lesson-notice").textContent = lesson.notice;
    $("#lesson-try").textContent = lesson.try;
    const at = lessons.indexOf(lesson);
    $("#lesson-prev").disabled = at <= 0;
    $("#lesson-next").disabled = at >= lessons.length - 1;
    $("#lesson-next").textContent = at >= lessons.length - 1 ? "The end" : "Next →";
    document.title = `${lesson.title} · descentlab`;
  } else document.title = "descentlab · optimiser playground";
  highlight();
}

// ---------------------------------------------------------------- presenting

function setPanel(hidden) {
  document.body.classList.toggle("panel-hidden", hidden);
  $("#panel-toggle").setAttribute("aria-pressed", String(hidden));
  $("#panel-toggle .label").textContent = hidden ? "Show panel" : "Panel";
}

function setPresent(on) {
  document.body.classList.toggle("present", on);
  $("#present").setAttribute("aria-pressed", String(on));
  setPresentation(on);
  setPanel(on);
  // Type and line widths are read when a view is laid out: lay them all out again.
  if (surface?.problem) surface.layout = surface.baseLayout();
  view.stale = true;
  view.dataStale = true;
  schedule();
  if (sweeps?.open) sweeps.draw();
}

// ---------------------------------------------------------------- export

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}

function fileStem() {
  return `descentlab-${lesson ? lesson.slug : state.problem}`;
}

/** The runs on screen as rows: run (1-based, as on the cards), optimizer, t, x, y, loss. */
function exportCSV() {
  if (!current) return;
  const lines = ["run,optimizer,t,x,y,loss"];
  current.buffers.forEach((buf, i) => {
    const name = current.request.runs[i].optimizer;
    for (let t = 0; t < buf.x.length; t++) lines.push(`${i + 1},${name},${t},${buf.x[t]},${buf.y[t]},${buf.loss[t]}`);
  });
  download(`${fileStem()}.csv`, "text/csv", lines.join("\n") + "\n");
}

/** The runs in the shape POST /api/runs answers. */
function exportJSON() {
  if (!current) return;
  const head = current.started || {};
  const body = {
    problem: head.problem || current.request.problem,
    steps: head.steps ?? current.request.steps,
    seed: head.seed ?? current.request.seed,
    runs: current.buffers.map((buf, i) => ({
      ...(head.runs?.[i] || current.request.runs[i]),
      path: buf.x.map((x, t) => [x, buf.y[t]]),
      loss: buf.loss.slice(),
      diverged_at: buf.diverged,
      converged_at: buf.converged,
    })),
  };
  if (head.data) body.data = head.data;
  download(`${fileStem()}.json`, "application/json", JSON.stringify(body, null, 1));
}

function exportPNG() {
  const el = state.view === "3d" ? $("#surface-3d") : $("#surface-plot");
  if (window.Plotly && el.data) window.Plotly.downloadImage(el, { format: "png", scale: 2, filename: fileStem() });
}

// ---------------------------------------------------------------- help

function openHelp() {
  const dialog = $("#help");
  if (!dialog.open) dialog.showModal();
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
  $("#lesson-pick").addEventListener("change", (e) => {
    openLesson(lessons.find((l) => l.slug === e.target.value) || null);
    e.target.blur(); // so the keys (n, b, space) work at once
  });
  $("#lesson-prev").addEventListener("click", () => stepLesson(-1));
  $("#lesson-next").addEventListener("click", () => stepLesson(1));
  $("#lesson-replay").addEventListener("click", () => lesson && openLesson(lesson, { push: false }));
  $("#lesson-fold").addEventListener("click", () => {
    const folded = $("#lesson").classList.toggle("folded");
    $("#lesson-fold").setAttribute("aria-expanded", String(!folded));
  });
  $("#present").addEventListener("click", () => setPresent(!document.body.classList.contains("present")));
  $("#panel-toggle").addEventListener("click", () => setPanel(!document.body.classList.contains("panel-hidden")));
  $("#sweep-toggle").addEventListener("click", () => sweeps.toggle(selected));
  $("#help-open").addEventListener("click", openHelp);
  $("#help-close").addEventListener("click", () => $("#help").close());
  $("#help").addEventListener("click", (e) => {
    if (e.target === e.currentTarget) e.currentTarget.close(); // a click on the backdrop
  });
  const menu = $("#export-menu");
  menu.querySelectorAll("[data-export]").forEach((btn) =>
    btn.addEventListener("click", () => {
      menu.open = false;
      ({ csv: exportCSV, json: exportJSON, png: exportPNG })[btn.dataset.export]();
    }),
  );
  document.addEventListener("click", (e) => {
    if (menu.open && !menu.contains(e.target)) menu.open = false;
  });
  $("#lossx").addEventListener("change", (e) => {
    state.lossx = e.target.value;
    renderProblem();
    view.stale = true;
    writeURL(true);
    schedule();
  });
  $("#problem").addEventListener("change", (e) => {
    const name = e.target.value;
    state.problem = name;
    state.problemParams = catalog.problemParams(name);
    state.runs.forEach((run) => (run.start = null));
    catalog.fitBatches(state);
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
      btn.classList.add("done");
      toast("Link copied: it reopens exactly this view.");
    } catch {
      window.prompt("Copy this link:", location.href);
    }
    setTimeout(() => btn.classList.remove("done"), 1600);
  });
  window.addEventListener("popstate", () => {
    lesson = lessonFromPath();
    renderLesson();
    applyState(lesson && !location.search ? S.fromScene(lesson, catalog, state) : S.fromURL(location.search, catalog));
  });
  document.addEventListener("keydown", keys);
}

/** Keyboard: space play/pause, n/→ b/← lessons, p present, h side panel, ? help. */
function keys(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  if (e.target.closest?.("input, select, textarea, [contenteditable]")) return;
  if ($("#help").open) return; // the dialog handles its own keys (Esc closes it)
  const onButton = !!e.target.closest?.("button, summary");
  const actions = {
    " ": onButton ? null : togglePlay,
    n: () => stepLesson(1),
    ArrowRight: () => stepLesson(1),
    b: () => stepLesson(-1),
    ArrowLeft: () => stepLesson(-1),
    p: () => setPresent(!document.body.classList.contains("present")),
    h: () => setPanel(!document.body.classList.contains("panel-hidden")),
    "?": openHelp,
  };
  const action = actions[e.key.length === 1 ? e.key.toLowerCase() : e.key];
  if (!action) return;
  e.preventDefault();
  action();
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

// ---------------------------------------------------------------- sweeps

const sweeps = new SweepPanel({
  catalog,
  stream,
  hook,
  state: () => state,
  selected: () => selected,
  toast,
  /** A clicked cell: settings into run `i` (hyper-parameters, or start_x / start_y). */
  load(i, patch) {
    const run = state.runs[i];
    if (!run) return;
    for (const [name, value] of Object.entries(patch)) {
      if (name === "start_x" || name === "start_y") {
        const at = [...S.startOf(run, state, catalog)];
        at[name === "start_x" ? 0 : 1] = value;
        run.start = at;
      } else run.params[name] = value;
    }
    state.runs[i] = catalog.run(run); // clamped and rounded like any other value
    selected = i;
    changed({ push: true, panel: true });
  },
  /** Compare fairly chose an α per run: set them and run again. */
  tuned(choices) {
    for (const c of choices) if (c.alpha != null && state.runs[c.run]) state.runs[c.run].params.alpha = c.alpha;
    view.stale = true;
    changed({ push: true, panel: true });
  },
  /** A sweep ended: a run it cut short is sent again. */
  idle() {
    // Only when the sweep replaced it: a run that replaced the sweep is on its way.
    if (current && !current.done && hook.transport === "ws" && stream.currentId !== current.id) rerun({ animate: false });
  },
});

async function main() {
  renderHeader();
  renderProblem();
  renderRuns();
  renderLesson();
  wire();
  if (lesson) history.replaceState(null, "", lessonURL(lesson));
  loadGround();
  rerun({ animate: false }); // the data starts flowing while Plotly loads
  await loadPlotly();
  surface = new SurfaceView($("#surface-plot"), { onPick: pick, onHover: hover });
  surface3d = new Surface3DView($("#surface-3d"));
  loss = new LossView($("#loss-plot"));
  loss.mode = state.scale;
  loss.epochs = catalog.isRegression(state.problem) && state.lossx === "epochs";
  dataView = new DataView($("#data-plot"));
  plotsReady = true;
  document.body.classList.add("ready");
  applyGround();
  schedule();
}

main().catch((error) => toast(error.message));
