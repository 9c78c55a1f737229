// Wires the page: state ↔ URL, controls → runs → renderers.
//
// Runs always arrive as fast as the server makes them (speed 0, one WebSocket,
// latest request wins): feed.js gathers them, stage.js decides frame by frame
// what the plots show (everything at once in instant mode, or up to the
// playhead of playback.js), panel.js holds the run cards. This file creates the
// pieces, connects them, owns the state and the URL, and wires the top bar.

import * as S from "./state.js";
import { fmtNumber } from "./plots.js";
import { RunFeed } from "./feed.js";
import { Stage } from "./stage.js";
import { Playback } from "./playback.js";
import { Panel } from "./panel.js";
import { Lessons } from "./lessons.js";
import { SweepPanel } from "./sweep.js";
import { wirePresenting } from "./presenting.js";
import { wireKeys } from "./keys.js";
import { wireExport } from "./exporting.js";
import { wireFitting } from "./fitting.js";
import { Spotlight } from "./spotlight.js";
import { FormulaEditor } from "./formula.js";
import { settingsText, sharedSettings } from "./naming.js";
import { connection, toast } from "./notices.js";
import { Classroom, classCode } from "./classroom.js";

const $ = (sel) => document.querySelector(sel);
const catalog = new S.Catalog(JSON.parse($("#catalog").textContent));
// Which run is selected (drawn on top) and which are hidden: the panel changes it, the stage draws it.
const spotlight = new Spotlight();
const lessons = new Lessons(JSON.parse($("#lessons").textContent), {
  load(lesson) {
    const keep = { view: state.view, scale: state.scale, instant: state.instant };
    applyState(S.fromScene(lesson, catalog, keep), { animate: true, focus: lesson.focus ?? 0 });
  },
  query: () => S.toURL(state, catalog),
  home: () => (classCode() ? location.pathname : null),
});
// /lessons/<slug> with no query opens on the lesson's own scene.
let state = lessons.current && !location.search ? S.fromScene(lessons.current, catalog) : S.fromURL(location.search, catalog);
spotlight.reset(Math.min(lessons.current?.focus ?? 0, state.runs.length - 1));

/** The open lesson's marks ({run, t, text}), while its scene is on screen unchanged (they are its figures). */
let lessonScene = null;
function lessonMarks() {
  const lesson = lessons.current;
  if (!lesson?.marks?.length) return [];
  if (lessonScene?.lesson !== lesson) lessonScene = { lesson, request: JSON.stringify(S.toRequest(S.fromScene(lesson, catalog), catalog)) };
  return JSON.stringify(S.toRequest(state, catalog)) === lessonScene.request ? lesson.marks : [];
}

// What tests and benchmarks can watch: a counter of finished redraws and when.
const hook = {
  transport: "ws",
  redraws: 0,
  lastRedraw: 0,
  completed: 0, // runs whose every point is on screen
  lastCompleted: { id: 0, at: 0 },
  drawn: { id: 0, request: null, points: 0, complete: false }, // the run on screen: its request, points drawn
  get state() {
    return S.clone(state);
  },
  get url() {
    return S.toURL(state, catalog);
  },
  get currentId() {
    return feed.current?.id ?? 0;
  },
  get lesson() {
    return lessons.current?.slug ?? null;
  },
  sweep: null, // the last sweep: {request, result, seconds}
  fair: null, // compare fairly's choices: [{run, alpha, …}]
  get classroom() {
    return classroom.snapshot;
  },
};
window.__descentlab = hook;

// ---------------------------------------------------------------- the pieces

const feed = new RunFeed({
  hook,
  // The runs' anatomy only while a view shows it: it is four times the numbers.
  request: () => ({ ...S.toRequest(state, catalog), ...(S.wantsAnatomy(state) ? { anatomy: true } : {}) }),
  instant: () => state.instant,
  sent(animate) {
    stage.sent();
    playback.restart(animate);
  },
  data: (data) => stage.data(data),
  points: () => stage.schedule(),
  done: () => stage.drawNow(),
  failed: (detail) => toast(`The server refused this run: ${detail}`),
  status: connection,
});

const playback = new Playback({
  state: () => state,
  steps: () => feed.current?.request.steps,
  schedule: () => stage.schedule(),
  writeURL,
  moved: () => classroom.sceneChanged(),
});

const stage = new Stage({
  catalog,
  state: () => state,
  feed,
  playback,
  hook,
  toast,
  spotlight,
  marks: lessonMarks,
  legend: () => panel.renderLegend(),
  statuses: () => panel.renderStatuses(),
  typed() {
    panel.renderFormula();
    formula.shown();
  },
  typedFailed: (error) => formula.showError(error, state.expression),
});

const formula = new FormulaEditor({
  catalog,
  state: () => state,
  resolution: () => stage.resolution(),
  /** A formula the server drew: the state's from now on (a new start moves every run's). */
  apply(expression, origin) {
    const moved = JSON.stringify(origin) !== JSON.stringify(state.origin);
    state.expression = expression;
    state.origin = origin;
    if (moved) state.runs.forEach((run) => (run.start = null));
    stage.invalidate();
    changed({ push: true, panel: moved, ground: true });
  },
});

const panel = new Panel({ catalog, state: () => state, feed, stage, lessons, spotlight, sweeps: () => sweeps, changed, toast, formula });

const sweeps = new SweepPanel({
  catalog,
  stream: feed.stream,
  hook,
  state: () => state,
  selected: () => panel.selected,
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
    panel.selected = i;
    changed({ push: true, panel: true });
  },
  /** Compare fairly chose an α per run: set them and run again. */
  tuned(choices) {
    for (const c of choices) if (c.alpha != null && state.runs[c.run]) state.runs[c.run].params.alpha = c.alpha;
    stage.invalidate();
    changed({ push: true, panel: true });
  },
  /** A sweep ended: a run it cut short is sent again. */
  idle() {
    feed.resumeAfterSweep();
  },
});

const classroom = new Classroom({
  catalog,
  toast,
  scene: () => S.toClassScene(state, catalog, { lesson: lessons.current?.slug ?? null, ...playback.position() }),
  follow: followScene,
  /** A challenge on a student's page: its scene with one run, the challenge's, with the student's params. */
  attempt(challenge, params) {
    const run = { optimizer: challenge.optimizer, params: { ...challenge.params, ...params }, schedule: challenge.schedule, start: challenge.start };
    followScene({ ...challenge.scene, request: { ...challenge.scene.request, runs: [run] } });
  },
  params: () => ({ ...state.runs[0].params }),
  selectedRun() {
    const { runs } = S.toRequest(state, catalog);
    return runs[panel.selected] ?? runs[0];
  },
  overlay: (runs) => stage.showOverlay(runs),
});

/** A class's scene on this page: its state, lesson and playhead (docs/API.md, Classes, Scenes). */
function followScene(scene) {
  const next = S.fromClassScene(scene, catalog);
  const lesson = lessons.list.find((l) => l.slug === scene.lesson) ?? null;
  if (lesson !== lessons.current) {
    lessons.current = lesson;
    lessons.render();
  }
  const position = { t: scene.t, playing: !!scene.view?.playing };
  if (feed.current && S.sameScene(next, state, catalog)) {
    playback.follow(position);
    if (feed.sendTimer) playback.next = position; // the run on its way starts there too
  } else {
    playback.next = position;
    applyState(next);
  }
  writeURL(false);
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
  classroom.sceneChanged();
}

/** The state changed: the URL, then (as asked) the run cards, the ground and a new run. */
function changed({ push = true, panel: rebuild = false, ground = false, rerun = true } = {}) {
  writeURL(push);
  $("#smooth").checked = S.smoothing(state, catalog); // "auto" follows the noise
  if (!push && rerun) stage.draft();
  if (rebuild) panel.renderRuns();
  if (ground) stage.loadGround();
  if (rerun) feed.rerun();
  else panel.renderLegend();
  if (push) sweeps?.refresh();
}

/** A whole new state (a lesson, the history): every control and view follows it; every run is shown, `focus` selected. */
function applyState(next, { animate = false, focus = spotlight.selected } = {}) {
  const problemChanged = next.problem !== state.problem;
  state = next;
  spotlight.reset(Math.max(0, Math.min(focus, state.runs.length - 1)));
  stage.setLossScale(state.scale);
  renderHeader();
  panel.renderProblem();
  panel.renderRuns();
  stage.invalidate();
  if (problemChanged) stage.newProblem();
  stage.loadGround();
  feed.rerun({ animate });
  sweeps?.refresh();
  classroom.sceneChanged();
}

// ---------------------------------------------------------------- the top bar and the surface

function renderHeader() {
  $("#steps").value = state.steps;
  $("#steps").max = catalog.maxSteps();
  $("#seed").max = catalog.maxSeed();
  $("#seed").value = state.seed;
  $("#speed").value = Math.log10(state.speed).toFixed(2);
  $("#speed-out").textContent = `${state.speed}/s`;
  $("#instant").checked = state.instant;
  $("#scale").value = state.scale;
  $("#lossx").value = state.lossx;
  $("#xlog").checked = state.xlog;
  $("#smooth").checked = S.smoothing(state, catalog);
  renderCharts();
  document.querySelectorAll("[data-view]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === state.view)));
  $("#surface-3d").hidden = state.view !== "3d";
}

/** The chart in the loss chart's place (loss, or the rules' state) and the step anatomy toggle follow the state. */
function renderCharts() {
  document.querySelectorAll("[data-chart]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.chart === state.chart)));
  $("#state-plot").hidden = state.chart === "loss";
  // Two traces a run in the per-coordinate charts: which is which.
  const axes = catalog.problem(state.problem).axes;
  $("#chart-coordinates").hidden = !["rate", "velocity"].includes(state.chart);
  $("#chart-coordinates").textContent = `solid: ${axes[0]}, dotted: ${axes[1]}`;
  $(".loss-card").classList.toggle("charting", state.chart !== "loss");
  $("#anatomy-toggle").setAttribute("aria-pressed", String(state.anatomy));
}

/** A view that reads the runs' anatomy was switched on or off: ask for it if the run in flight lacks it. */
function anatomyChanged() {
  renderCharts();
  writeURL(true);
  stage.invalidate();
  const current = feed.current;
  if (S.wantsAnatomy(state) && current && !current.request.anatomy) feed.rerun({ animate: false });
  else stage.schedule();
}

/** What a slide or an animation shows: the views' picture, the title, the formula, each run's mark and settings. */
function slideScene() {
  const picture = stage.picture();
  const lesson = lessons.current;
  const problem = catalog.problem(state.problem);
  const shared = sharedSettings(state, catalog);
  return {
    ...picture,
    title: lesson ? `${lesson.number}. ${lesson.title}` : problem.label,
    subtitle: [lesson ? problem.label : problem.description, shared].filter(Boolean).join(" · "),
    formula: $("#formula"),
    runs: picture.runs.map((run, i) => ({ ...run, badge: panel.statusBadge(i)?.textContent ?? "", settings: settingsText(state.runs[i], state, catalog) })),
  };
}

function pick(point, onlySelected) {
  if (!classroom.allows("start")) return; // a challenge fixes where the run starts
  const p = [Number(point[0].toPrecision(4)), Number(point[1].toPrecision(4))];
  if (onlySelected) state.runs[panel.selected].start = p;
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

function wire() {
  const refit = wireFitting();
  const { togglePresent, exitPresent, togglePanel } = wirePresenting({
    relayout() {
      refit();
      stage.relayout();
      if (sweeps?.open) sweeps.draw();
    },
  });
  const toggleAnatomy = () => {
    state.anatomy = !state.anatomy;
    anatomyChanged();
  };
  wireKeys({
    anatomy: toggleAnatomy,
    play: () => playback.toggle(),
    next: () => lessons.step(1),
    previous: () => lessons.step(-1),
    present: togglePresent,
    exitPresent,
    panel: togglePanel,
  });
  wireExport({ run: () => feed.current, state: () => state, lesson: () => lessons.current, scene: slideScene, toast });
  $("#sweep-toggle").addEventListener("click", () => sweeps.toggle(panel.selected));
  $("#anatomy-toggle").addEventListener("click", toggleAnatomy);
  document.querySelectorAll("[data-chart]").forEach((btn) =>
    btn.addEventListener("click", () => {
      if (state.chart === btn.dataset.chart) return;
      state.chart = btn.dataset.chart;
      anatomyChanged();
    }),
  );
  $("#lossx").addEventListener("change", (e) => {
    state.lossx = e.target.value;
    panel.renderProblem();
    stage.invalidate();
    writeURL(true);
    stage.schedule();
  });
  $("#problem").addEventListener("change", (e) => {
    const name = e.target.value;
    // Your own formula starts as the surface on screen, typed out (the default one after a regression).
    const previous = catalog.problem(state.problem);
    state.problem = name;
    S.withFormula(state, catalog, previous.expression, previous.expression ? previous.start : null);
    state.problemParams = catalog.problemParams(name);
    state.runs.forEach((run) => (run.start = null));
    catalog.fitBatches(state);
    panel.renderProblem();
    renderCharts();
    stage.invalidate();
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
    state.seed = Number.isFinite(v) ? Math.max(0, Math.min(catalog.maxSeed(), v)) : state.seed;
    e.target.value = state.seed;
    changed({ push: true, ground: true });
  });
  $("#xlog").addEventListener("change", (e) => {
    state.xlog = e.target.checked;
    stage.invalidate();
    writeURL(true);
    stage.schedule();
  });
  $("#smooth").addEventListener("change", (e) => {
    state.smooth = e.target.checked ? "on" : "off";
    stage.invalidate();
    writeURL(true);
    stage.schedule();
  });
  $("#scale").addEventListener("change", (e) => {
    state.scale = e.target.value;
    stage.setLossScale(state.scale);
    stage.invalidate();
    writeURL(true);
    stage.schedule();
  });
  document.querySelectorAll("[data-view]").forEach((btn) =>
    btn.addEventListener("click", () => {
      if (state.view === btn.dataset.view) return;
      state.view = btn.dataset.view;
      renderHeader();
      writeURL(true);
      stage.invalidate();
      stage.schedule();
      if (state.view === "3d") stage.resize3d();
    }),
  );
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
    lessons.current = lessons.fromPath();
    lessons.render();
    const lesson = lessons.current;
    applyState(lesson && !location.search ? S.fromScene(lesson, catalog, state) : S.fromURL(location.search, catalog), { focus: lesson?.focus ?? 0 });
  });
}

async function main() {
  renderHeader();
  panel.renderProblem();
  panel.renderRuns();
  lessons.render();
  wire();
  if (lessons.current) history.replaceState(null, "", lessons.url());
  stage.loadGround();
  feed.rerun({ animate: false }); // the data starts flowing while Plotly loads
  await stage.mount({ onPick: pick, onHover: hover });
}

main().catch((error) => toast(error.message));
