// The stage: the Plotly views and what they show of the run in flight,
// decided frame by frame: everything at once in instant mode, or up to the
// playhead when animating. At most one redraw per animation frame; a run's
// `done` draws at once instead of waiting for the next frame. Also the ground
// (the surface's loss on a grid, fetched once per problem), drafting (paths
// not nested while a slider moves), the state chart in the loss chart's place and the
// selected run's step anatomy on the surface (when the state asks for them).

import * as S from "./state.js";
import { fetchSurface } from "./api.js";
import { runColor, runDash } from "./plots.js";
import { SurfaceView } from "./surfaceplot.js";
import { Surface3DView } from "./surface3d.js";
import { LossView } from "./lossplot.js";
import { DataView } from "./dataplot.js";
import { StateView } from "./stateplot.js";
import { CloudFeed, layer, magnification, renderKey, stepArrows } from "./anatomy.js";
import { legendName } from "./naming.js";

const $ = (sel) => document.querySelector(sel);
const INSTANT_WAIT = 120; // ms a new run may take before its first points are drawn anyway

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

/** Run `fn` once the current changes are painted: after the next frame's paint. */
function afterPaint(fn) {
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => fn();
    channel.port2.postMessage(null);
  });
}

function lastPoint(path) {
  const n = path.x.length;
  return n ? [path.x[n - 1], path.y[n - 1]] : null;
}

/** Where runs diverged (✕), converged (◆) and blew up (▲; a diverged run shows its ✕ only). */
function marksOf(cur) {
  const marks = [];
  const converged = [];
  const blowUps = [];
  cur.buffers.forEach((buf, i) => {
    const n = buf.x.length;
    if (buf.diverged != null && n) marks.push({ i, t: buf.diverged, point: [buf.x[n - 1], buf.y[n - 1]], loss: buf.loss[n - 1] });
    if (buf.converged != null && buf.converged < n) converged.push({ i, t: buf.converged, loss: buf.loss[buf.converged] });
    if (buf.blewUp != null && buf.diverged == null && buf.blewUp < n) blowUps.push({ i, t: buf.blewUp, loss: buf.loss[buf.blewUp] });
  });
  return { marks, converged, blowUps };
}

function setStageShape(problem) {
  const wide = (problem.bounds.x[1] - problem.bounds.x[0]) / (problem.bounds.y[1] - problem.bounds.y[0]) > 1.6;
  const stage = $("#stage");
  stage.classList.toggle("wide", wide);
  stage.classList.toggle("square", !wide);
  stage.classList.toggle("regression", problem.kind === "regression");
  $("#data-card").hidden = problem.kind !== "regression";
}

export class Stage {
  /**
   * page: {catalog, state(), feed (the run in flight), playback, hook, toast(text),
   *        spotlight (the selected run, hidden runs), marks() → the open lesson's marks,
   *        legend() → re-render the legend, statuses() → re-render the run cards' statuses,
   *        typed() → a typed formula's ground arrived (its formula and window are known),
   *        typedFailed(error) → its ground was refused; true if the error was shown}
   */
  constructor(page) {
    this.page = page;
    this.view = {
      shown: [], // points drawn per run
      buffers: [], // the feed's buffers drawn, per run (the feed keeps a run's while it is unchanged)
      names: [], // the runs' names drawn
      drawnId: null, // the run id whose points are on screen
      stale: true, // renderers need a full reset
      finished: false,
    };
    this.plotsReady = false;
    this.ground = { key: null, grid: null, pending: null };
    this.frameRequested = false;
    this.drawing = false;
    this.drewThisFrame = false; // a draw ran since the last animation frame began
    this.draftTimer = null;
    this.clouds = new CloudFeed(() => this.schedule());
  }

  /** Load Plotly (after the first paint) and create the views. */
  async mount({ onPick, onHover }) {
    const { catalog, state } = this.page;
    await loadPlotly();
    this.surface = new SurfaceView($("#surface-plot"), { onPick, onHover });
    this.surface3d = new Surface3DView($("#surface-3d"));
    this.loss = new LossView($("#loss-plot"));
    this.loss.mode = state().scale;
    this.loss.epochs = catalog.isRegression(state().problem) && state().lossx === "epochs";
    this.dataView = new DataView($("#data-plot"));
    this.stateView = new StateView($("#state-plot"));
    this.plotsReady = true;
    document.body.classList.add("ready");
    this.applyGround();
    this.schedule();
  }

  /** Whether the whole run in flight is drawn (playback reached its end). */
  get finished() {
    return this.view.finished;
  }

  /** Everything is laid out again at the next draw. */
  invalidate() {
    this.view.stale = true;
  }

  setLossScale(mode) {
    if (this.loss) this.loss.mode = mode;
  }

  setEpochs(on) {
    if (this.loss) this.loss.epochs = on;
  }

  /** Type and line widths changed (presentation mode): lay every view out again. */
  relayout() {
    if (this.surface?.problem) this.surface.layout = this.surface.baseLayout();
    this.view.stale = true;
    this.view.dataStale = true;
    this.schedule();
  }

  /** The 3-D view was just shown: fit it to its box. */
  resize3d() {
    requestAnimationFrame(() => this.surface3d.resize());
  }

  /** A new run was sent. */
  sent() {
    this.view.finished = false;
  }

  // ---------------------------------------------------------------- drawing, once per frame

  schedule() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.drewThisFrame = false;
      this.frame();
    });
  }

  /**
   * A run just became complete: draw it now rather than at the next frame (up to
   * 16 ms later), unless this frame has drawn already; still one redraw per frame.
   */
  drawNow() {
    if (this.drewThisFrame || this.drawing || !this.plotsReady) {
      this.schedule();
      return;
    }
    this.frame();
  }

  runMeta(i, buf, upto) {
    const { catalog, spotlight } = this.page;
    const state = this.page.state();
    const run = state.runs[i];
    const opt = catalog.optimizer(run?.optimizer);
    return {
      name: legendName(run, state, catalog),
      short: opt.label,
      hidden: spotlight.isHidden(i),
      noisy: run ? S.runIsNoisy(run, state, catalog) : false,
      selected: spotlight.selected === i,
      color: runColor(i),
      dash: runDash(i),
      start: run ? S.startOf(run, state, catalog) : [0, 0],
      per: run ? S.batchesPerEpoch(run, state) : 1,
      path: { x: buf.x.slice(0, upto), y: buf.y.slice(0, upto), loss: buf.loss.slice(0, upto) },
      allLoss: buf.loss, // every loss received (the loss axis covers the whole run, even while animating)
      anatomy: buf.anatomy, // every update's, as received (null unless asked for)
    };
  }

  async frame() {
    const view = this.view;
    this.frameRequested = false;
    if (!this.plotsReady || !this.page.feed.current || !this.ground.grid) return;
    if (this.drawing) {
      view.redrawAfter = true;
      return;
    }
    if (!this.drewThisFrame) {
      this.drewThisFrame = true;
      requestAnimationFrame(() => (this.drewThisFrame = false));
    }
    this.drawing = true;
    try {
      await this.draw();
    } catch (error) {
      console.warn("draw failed", error); // eslint-disable-line no-console
    } finally {
      this.drawing = false;
    }
    if (view.redrawAfter || this.page.playback.playing) {
      view.redrawAfter = false;
      this.schedule();
    }
  }

  async draw() {
    const { catalog, playback, hook } = this.page;
    const state = this.page.state();
    const { view, surface, surface3d, loss, dataView } = this;
    const cur = this.page.feed.current;
    const steps = cur.request.steps;
    playback.advance(steps);
    const points = Math.min(playback.target + 1, cur.received);
    const n = cur.buffers.length;
    const is3d = state.view === "3d";
    const charting = state.chart !== "loss"; // the state chart is in the loss chart's place
    const newRun = view.drawnId !== cur.id;
    // A new run replaces the old paths only once it has points, so nothing blinks;
    // in instant mode it waits (briefly) for the whole run, so one redraw shows it.
    if (newRun && cur.received === 0) return;
    if (newRun && !cur.done && !playback.playing && performance.now() - cur.sentAt < INSTANT_WAIT) {
      setTimeout(() => this.schedule(), 8);
      return;
    }
    const backwards = view.shown.some((s) => s > points);
    // Every point of a finished run fits on screen: draw its marks (✕, ◆) in the same update.
    const whole = cur.done && cur.buffers.every((buf) => points >= buf.x.length);
    if (newRun || view.stale || backwards || view.shown.length !== n) {
      const metas = cur.buffers.map((buf, i) => this.runMeta(i, buf, points));
      const order = this.page.spotlight.order(n);
      const final = whole ? marksOf(cur) : null;
      const notes = this.page.marks();
      loss.xlog = state.xlog;
      loss.smooth = S.smoothing(state, catalog);
      // The runs whose points (or names) differ from those on screen: a slider moves one,
      // and the feed keeps the others' points, so only its traces are handed to Plotly.
      const changed = view.stale || view.shown.length !== n ? null : metas.flatMap((meta, i) => {
        const same = view.buffers[i] === cur.buffers[i] && view.shown[i] === meta.path.x.length && view.names[i] === meta.name;
        return same ? [] : [i];
      });
      const jobs = [
        surface.reset(metas, steps, { draft: view.drafting, marks: final?.marks, order, whole, notes, changed: changed ?? undefined }),
        loss.reset(metas, steps, final, { order, notes, changed }),
      ];
      if (is3d) jobs.push(surface3d.reset(metas, order));
      if (charting) {
        Object.assign(this.stateView, { epochs: loss.epochs, xlog: state.xlog });
        const axes = catalog.problem(state.problem).axes;
        jobs.push(this.stateView.reset(metas, steps, { order, view: state.chart, axes }));
      }
      if (cur.data && (view.dataStale || newRun || !dataView.ready)) {
        jobs.push(dataView.reset(catalog.problem(state.problem), cur.data, metas, order));
        view.dataStale = false;
      } else if (cur.data) jobs.push(dataView.update(metas.map((m) => lastPoint(m.path))));
      await Promise.all(jobs);
      view.shown = cur.buffers.map((buf) => Math.min(points, buf.x.length));
      view.buffers = cur.buffers.slice();
      view.names = metas.map((meta) => meta.name);
      view.drawnId = cur.id;
      view.stale = false;
      view.finished = false;
      view.marked = !!final;
      this.page.legend();
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
        if (charting) jobs.push(this.stateView.add(view.shown));
        if (cur.data) {
          jobs.push(dataView.update(cur.buffers.map((buf, i) => (view.shown[i] ? [buf.x[view.shown[i] - 1], buf.y[view.shown[i] - 1]] : null))));
        }
        await Promise.all(jobs);
      }
    }
    if (!view.drafting) await surface.undraft();
    await this.drawAnatomy(cur, state);
    hook.redraws++;
    hook.lastRedraw = performance.now();
    playback.clock(points - 1, steps);

    const complete = cur.done && cur.buffers.every((buf, i) => view.shown[i] >= buf.x.length);
    // Which run the plots now show, whole or not: a benchmark watches it frame by frame.
    hook.drawn = { id: cur.id, request: cur.request, points: view.shown.reduce((a, b) => a + b, 0), complete };
    if (complete && !view.finished) {
      view.finished = true;
      await this.finish(cur);
      // The hook reports a run complete once its every point is painted.
      afterPaint(() => {
        hook.completed++;
        hook.lastCompleted = { id: cur.id, at: performance.now(), sent: cur.sentAt, received: cur.doneAt };
        window.dispatchEvent(new CustomEvent("descentlab:complete", { detail: hook.lastCompleted }));
      });
    }
  }

  /**
   * The selected run's step at the update shown, as arrows on the surface, with its
   * key; on a regression its minibatch cloud too (fetched; drawn once it is here).
   * Nothing when the step anatomy is off, the run is hidden or has no anatomy yet.
   */
  drawAnatomy(cur, state) {
    const { catalog, spotlight } = this.page;
    const i = spotlight.selected;
    const buf = cur.buffers[i];
    const run = state.runs[i];
    let shown = null;
    if (state.anatomy && buf && run && !spotlight.isHidden(i)) {
      const rule = catalog.optimizer(run.optimizer);
      const step = stepArrows(buf, this.view.shown[i] - 1, rule, cur.request.runs[i]?.params);
      const problem = catalog.problem(state.problem);
      if (step) {
        let cloud = null;
        if (problem.kind === "regression") {
          const { problem: spec, seed, runs } = cur.request;
          const batch = runs[i]?.batch_size ?? spec.batch_size;
          cloud = this.clouds.get({ problem: spec, seed, batch_size: batch, t: step.t, at: step.from });
        }
        shown = { ...layer(step, magnification(step, problem.bounds), cloud), color: runColor(i), run: i };
      }
      renderKey($("#anatomy-key"), shown, { rule, color: runColor(i), name: legendName(run, state, catalog), terms: catalog.raw.arrow_terms });
      if (shown && document.body.classList.contains("present")) this.placeKey();
    } else renderKey($("#anatomy-key"), null, {});
    return this.surface.showAnatomy(shown);
  }

  /**
   * Presenting, the key lies over the map's lower right corner (inside its axes, away
   * from the starts, which the problems put on the left), so the map keeps its height.
   */
  placeKey() {
    const full = this.surface.el._fullLayout;
    if (!full?.xaxis?._length) return;
    const card = this.surface.el.closest(".surface-card").getBoundingClientRect();
    const plot = this.surface.el.getBoundingClientRect();
    const key = $("#anatomy-key");
    // The axes' own box (a map keeps its aspect, so it may sit inside Plotly's margins).
    key.style.setProperty("--map-right", `${card.right - plot.left - full.xaxis._offset - full.xaxis._length + 6}px`);
    key.style.setProperty("--map-bottom", `${card.bottom - plot.top - full.yaxis._offset - full.yaxis._length + 6}px`);
  }

  /** Students' runs of a class drawn over the scene ([{x, y, rank, student}]; [] for none). */
  showOverlay(runs) {
    if (!this.surface) return;
    this.surface.setOverlay(runs);
    this.invalidate(); // one draw of the whole surface, in turn with every other draw
    this.schedule();
  }

  /** Every point is on screen: settle the loss axis, mark divergence, report in the cards. */
  async finish(cur) {
    if (!this.view.marked) {
      // The run came in pieces (animation, a slow run): its marks were not drawn yet.
      const { marks, converged, blowUps } = marksOf(cur);
      const metas = cur.buffers.map((buf, i) => this.runMeta(i, buf, buf.x.length));
      const jobs = [this.loss.finish(metas, marks, converged, blowUps), this.surface.markDiverged(marks, metas), this.surface.nest(metas)];
      // The state chart's axis was chosen from the first pieces: choose it from them all.
      const state = this.page.state();
      if (state.chart !== "loss") {
        const order = this.page.spotlight.order(metas.length);
        jobs.push(this.stateView.reset(metas, cur.request.steps, { order, view: state.chart, axes: this.page.catalog.problem(state.problem).axes }));
      }
      await Promise.all(jobs);
      this.view.marked = true;
    }
    this.page.statuses();
    this.page.legend();
  }

  /**
   * What a slide or an animation shows of the views: the graphs as drawn, the
   * painted ground and its bounds, the loss axis, the drawing order and each run's
   * name, colour and whether it is hidden or selected.
   */
  picture() {
    const { catalog, spotlight } = this.page;
    const state = this.page.state();
    const problem = catalog.problem(state.problem);
    const n = state.runs.length;
    return {
      surface: state.view === "3d" ? this.surface3d.el : this.surface.el,
      loss: this.loss.el,
      ground: this.surface.groundSource,
      bounds: problem.bounds,
      axes: problem.axes,
      minima: this.surface.minima,
      lossType: this.loss.type,
      xlog: state.xlog,
      epochs: this.loss.epochs,
      order: spotlight.order(n),
      runs: state.runs.map((run, i) => ({
        name: legendName(run, state, catalog),
        color: runColor(i),
        hidden: spotlight.isHidden(i),
        selected: spotlight.selected === i,
        noisy: S.runIsNoisy(run, state, catalog),
      })),
    };
  }

  /** A slider is moving: leave the paths' nesting (overlap.js) until it rests for a moment. */
  draft() {
    this.view.drafting = true;
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => {
      this.view.drafting = false;
      if (this.plotsReady && !this.drawing) this.surface.undraft();
      else this.schedule();
    }, 250);
  }

  // ---------------------------------------------------------------- the ground (contours)

  groundKey() {
    const { catalog } = this.page;
    const state = this.page.state();
    const problem = catalog.problem(state.problem);
    // A surface's shape never depends on its noise; a regression's depends on its data,
    // a typed formula's on its text and start.
    if (problem.kind === "regression") return JSON.stringify([problem.name, state.problemParams, state.seed]);
    return state.expression != null ? JSON.stringify([problem.name, state.expression, state.origin]) : problem.name;
  }

  resolution() {
    const r = this.page.catalog.limits.surface_resolution || {};
    return Math.max(r.min ?? 10, Math.min(r.max ?? 200, 110));
  }

  /** Fetch the ground for the state's problem, unless it is the one drawn. */
  loadGround() {
    const { catalog } = this.page;
    const state = this.page.state();
    const ground = this.ground;
    const key = this.groundKey();
    if (key === ground.key) return;
    ground.key = key;
    const problem = catalog.problem(state.problem);
    const body = { name: problem.name, ...S.toRequest(state, catalog).problem };
    const promise = fetchSurface(body, state.seed, this.resolution());
    ground.pending = promise;
    promise
      .then((grid) => {
        if (ground.pending !== promise) return;
        ground.grid = grid;
        if (catalog.isTyped(problem.name)) {
          // Its window, start and formula are the server's answer's.
          catalog.resolveTyped(grid);
          this.page.typed?.();
        }
        ground.problem = catalog.problem(problem.name);
        this.applyGround();
      })
      .catch((error) => {
        if (ground.pending !== promise) return;
        ground.key = null; // the same formula may be tried again
        if (catalog.isTyped(problem.name) && this.page.typedFailed?.(error)) return;
        this.page.toast(`Could not draw the surface: ${error.message}`);
      });
  }

  /** A new problem: its minimum (a regression's comes with its data) is not known yet. */
  newProblem() {
    this.ground.minimumKey = undefined;
  }

  /** The run in flight brought its dataset (regressions): its minimum may move the ground's. */
  data(data) {
    const key = JSON.stringify(data.minimum || null);
    if (key !== this.ground.minimumKey) {
      this.ground.minimumKey = key;
      this.view.stale = true;
      this.applyGround();
    }
    this.view.dataStale = true;
  }

  applyGround() {
    const ground = this.ground;
    if (!ground.grid || !this.plotsReady) return;
    const problem = ground.problem;
    const data = problem.kind === "regression" ? this.page.feed.current?.data : null;
    if (problem.kind === "regression" && !data) return; // wait for the dataset's minimum
    const minima = data?.minimum ? [data.minimum] : problem.minima;
    this.surface.setProblem(problem, ground.grid, minima, data?.min_loss);
    this.surface3d.setProblem(problem, ground.grid, minima, this.surface.scale);
    setStageShape(problem);
    this.view.stale = true;
    this.schedule();
  }
}
