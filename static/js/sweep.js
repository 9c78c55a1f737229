// The sweep panel: one run's settings over a grid of two axes, computed on the
// server and streamed over the run socket (sweep_started, progress, sweep_done).
// It reads the page's state through `page` and changes it only through
// `page.load()` (a clicked cell) and `page.tuned()` (compare fairly).

import * as S from "./state.js";
import { fmtNumber, runColor } from "./plots.js";
import { SweepView } from "./sweepplot.js";

const $ = (sel, root = document) => root.querySelector(sel);
/** The most steps a sweep of `cells` may take on this problem: the server's sweep
 * limit and, on a regression, its budget of cells × steps × n_samples (loss terms). */
function stepCap(state, catalog, cells) {
  const most = catalog.limits.sweep.max_steps;
  const n = catalog.isRegression(state.problem) ? state.problemParams.n_samples : 0;
  return n ? Math.max(1, Math.min(most, Math.floor(catalog.limits.max_sample_work / (cells * n)))) : most;
}
const GREEK = { alpha: "α", beta: "β", beta1: "β₁", beta2: "β₂", gamma: "γ", rho: "ρ", eps: "ε" };

/** How a sweep axis reads: "α  learning rate", "start x". */
function axisLabel(param, catalog, state) {
  if (param === "start_x" || param === "start_y") {
    const axes = catalog.problem(state.problem).axes;
    return `start ${axes[param === "start_x" ? 0 : 1]}`;
  }
  return GREEK[param] ? `${GREEK[param]}  (${param.replace(/_/g, " ")})` : param.replace(/_/g, " ");
}

/** The numeric settings of a run that a sweep can vary. */
export function sweepAxes(run, catalog) {
  const opt = catalog.optimizer(run.optimizer);
  return [...opt.params.filter((p) => p.kind !== "bool").map((p) => p.name), "start_x", "start_y"];
}

/** Where a run sits on an axis. */
function valueOn(param, run, state, catalog) {
  if (param === "start_x") return S.startOf(run, state, catalog)[0];
  if (param === "start_y") return S.startOf(run, state, catalog)[1];
  return run.params[param];
}

/** The fixed part of a sweep request for run `run` (everything but the axes). */
function baseRequest(run, state, catalog, steps) {
  const body = S.toRequest({ ...state, runs: [run] }, catalog);
  const r = body.runs[0];
  const out = { problem: body.problem, optimizer: r.optimizer, params: r.params, schedule: r.schedule, steps, seed: state.seed };
  out.start = S.startOf(run, state, catalog);
  if (r.batch_size != null) out.batch_size = r.batch_size;
  return out;
}

/** The part of a request that must match the current run for a result to stay valid. */
function fixedKey(request) {
  const { x_axis: xa, y_axis: ya, params, start, ...rest } = request;
  const kept = { ...params };
  delete kept[xa.param];
  delete kept[ya.param];
  const at = [...(start || [])];
  if (xa.param === "start_x" || ya.param === "start_x") at[0] = null;
  if (xa.param === "start_y" || ya.param === "start_y") at[1] = null;
  return JSON.stringify({ ...rest, params: kept, start: at });
}

/** The cell to keep from a row of a 1-D α sweep: lowest final loss, ties by earliest convergence. */
export function bestAlpha(result, row) {
  const losses = result.final_loss[row];
  const conv = result.converged_at[row];
  let best = -1;
  for (let i = 0; i < losses.length; i++) {
    const v = losses[i];
    if (v == null) continue; // diverged
    if (best < 0) {
      best = i;
      continue;
    }
    const b = losses[best];
    const tie = Math.abs(v - b) <= 1e-9 * Math.max(1, Math.abs(v), Math.abs(b));
    if (tie) {
      if ((conv[i] ?? Infinity) < (conv[best] ?? Infinity)) best = i;
    } else if (v < b) best = i;
  }
  return best;
}

export class SweepPanel {
  /**
   * page: {catalog, state(), selected(), stream, load(run, patch), tuned(choices),
   *        idle(), toast(text), hook}
   */
  constructor(page) {
    this.page = page;
    this.card = $("#sweep-card");
    this.form = $("#sweep-form");
    this.view = new SweepView($("#sweep-plot"), { onPick: (i, j, result) => this.pick(i, j, result) });
    this.mode = "loss";
    this.result = null; // {request, result, run}
    this.runIndex = 0;
    this.formFor = null; // the optimizer the form was filled for
    this.busy = null; // "sweep" | "fair" while the server works
    this.wire();
  }

  get open() {
    return !this.card.hidden;
  }

  field(name) {
    return this.form.querySelector(`[data-sweep="${name}"]`);
  }

  wire() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    $("#sweep-close").addEventListener("click", () => this.close());
    $("#sweep-cancel").addEventListener("click", () => this.page.stream.stop());
    $("#sweep-fair").addEventListener("click", () => this.compareFairly());
    for (const axis of ["x", "y"]) {
      this.field(`${axis}-param`).addEventListener("change", () => this.defaults(axis));
    }
    this.card.querySelectorAll("[data-colour]").forEach((btn) =>
      btn.addEventListener("click", () => {
        this.mode = btn.dataset.colour;
        this.draw();
      }),
    );
  }

  toggle(i = this.page.selected()) {
    if (this.open) this.close();
    else this.show(i);
  }

  show(i = this.page.selected()) {
    this.runIndex = i;
    this.card.hidden = false;
    document.getElementById("stage").classList.add("sweeping");
    $("#sweep-toggle").setAttribute("aria-pressed", "true");
    this.refresh();
    this.draw();
  }

  close() {
    this.card.hidden = true;
    document.getElementById("stage").classList.remove("sweeping");
    $("#sweep-toggle").setAttribute("aria-pressed", "false");
  }

  /** The page changed (state, selection): keep the form and the mark in step. */
  refresh() {
    if (!this.open) return;
    const { catalog } = this.page;
    const state = this.page.state();
    if (!this.busy) this.runIndex = Math.min(this.page.selected(), state.runs.length - 1);
    const run = state.runs[this.runIndex];
    if (!run) return;
    const opt = catalog.optimizer(run.optimizer);
    const head = $("#sweep-run");
    head.replaceChildren();
    const dot = document.createElement("span");
    dot.className = "run-dot";
    dot.style.background = runColor(this.runIndex);
    dot.textContent = String(this.runIndex + 1);
    head.append(dot, ` ${opt.label}`);
    const key = `${run.optimizer}|${state.problem}`;
    if (this.formFor !== key) this.fill(run, state);
    if (this.result) this.draw();
  }

  fill(run, state) {
    const { catalog } = this.page;
    this.formFor = `${run.optimizer}|${state.problem}`;
    const axes = sweepAxes(run, catalog);
    const numeric = axes.filter((a) => !a.startsWith("start_"));
    // α against the second setting when there is one; else where it starts.
    const [x, y] = numeric.length >= 2 ? [numeric[0], numeric[1]] : ["start_x", "start_y"];
    for (const [axis, value] of [["x", x], ["y", y]]) {
      const select = this.field(`${axis}-param`);
      select.replaceChildren(...axes.map((a) => new Option(axisLabel(a, catalog, state), a, false, a === value)));
      select.value = value;
      this.defaults(axis);
    }
    const regression = catalog.isRegression(state.problem);
    this.field("count").value = regression ? "32" : "64";
    this.field("steps").value = Math.min(state.steps, stepCap(state, catalog, (regression ? 32 : 64) ** 2));
  }

  /** The catalog's range for the axis's setting (the plot's bounds for a start). */
  defaults(axis) {
    const { catalog } = this.page;
    const state = this.page.state();
    const run = state.runs[this.runIndex];
    const param = this.field(`${axis}-param`).value;
    let lo;
    let hi;
    let log = false;
    if (param.startsWith("start_")) {
      [lo, hi] = catalog.problem(state.problem).bounds[param === "start_x" ? "x" : "y"];
    } else {
      const spec = catalog.optimizer(run.optimizer).params.find((p) => p.name === param);
      lo = spec.min;
      hi = spec.max;
      log = spec.scale === "log" && lo > 0;
    }
    this.field(`${axis}-min`).value = lo;
    this.field(`${axis}-max`).value = hi;
    this.field(`${axis}-log`).checked = log;
  }

  axisSpec(axis, count) {
    const param = this.field(`${axis}-param`).value;
    const min = Number(this.field(`${axis}-min`).value);
    const max = Number(this.field(`${axis}-max`).value);
    const log = this.field(`${axis}-log`).checked;
    if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max)) throw new Error(`the ${axis} axis needs from < to`);
    if (log && min <= 0) throw new Error(`a log ${axis} axis needs a positive start`);
    return { param, min, max, count, scale: log ? "log" : "linear" };
  }

  note(html) {
    $("#sweep-note").innerHTML = html;
  }

  setBusy(kind) {
    this.busy = kind;
    $("#sweep-run-btn").disabled = !!kind;
    $("#sweep-fair").disabled = !!kind;
    $("#sweep-cancel").hidden = !kind;
    $("#sweep-progress").hidden = !kind;
    if (kind) this.progress(0, "");
  }

  progress(done, text) {
    $("#sweep-bar").style.width = `${(Math.max(0, Math.min(1, done)) * 100).toFixed(1)}%`;
    $("#sweep-progress-text").textContent = text;
  }

  /** One sweep over the socket, as a promise (rejects with {cancelled} or an Error). */
  sweepOnce(request, label) {
    return new Promise((resolve, reject) => {
      this.page.stream.sweep(request, {
        onStarted: (m) => this.progress(0, `${label}: ${m.cells.toLocaleString("en")} runs…`),
        onProgress: (done) => this.progress(done, `${label}: ${Math.round(done * 100)} %`),
        onDone: (result) => resolve(result),
        onError: (detail) => reject(new Error(detail)),
        onCancelled: () => reject(Object.assign(new Error("cancelled"), { cancelled: true })),
      });
    });
  }

  async run() {
    if (this.busy) return;
    const { catalog } = this.page;
    const state = this.page.state();
    const run = state.runs[this.runIndex];
    let request;
    try {
      const count = Math.max(16, Math.min(128, Number(this.field("count").value) || 64));
      const asked = Math.max(1, Math.round(Number(this.field("steps").value)) || state.steps);
      const steps = Math.min(asked, stepCap(state, catalog, count * count));
      this.field("steps").value = steps;
      if (steps < asked && steps < catalog.limits.sweep.max_steps) this.page.toast(`Sweep steps lowered to ${steps}: the server allows cells × steps × samples ≤ ${catalog.limits.max_sample_work.toExponential()}.`);
      request = { ...baseRequest(run, state, catalog, steps), x_axis: this.axisSpec("x", count), y_axis: this.axisSpec("y", count) };
      if (request.x_axis.param === request.y_axis.param) throw new Error("choose two different axes");
    } catch (error) {
      this.note(`<b class="bad">Cannot sweep:</b> ${error.message}.`);
      return;
    }
    this.setBusy("sweep");
    this.note(`Sweeping ${request.x_axis.count} × ${request.y_axis.count} runs of ${catalog.optimizer(run.optimizer).label}…`);
    const began = performance.now();
    try {
      const result = await this.sweepOnce(request, "sweep");
      this.result = { request, result, run: this.runIndex };
      this.mode = request.x_axis.param.startsWith("start_") && request.y_axis.param.startsWith("start_") ? "basin" : "loss";
      this.page.hook.sweep = { request, result, seconds: (performance.now() - began) / 1000 };
      this.draw();
    } catch (error) {
      this.note(error.cancelled ? "Sweep cancelled." : `<b class="bad">The server refused the sweep:</b> ${error.message}`);
    } finally {
      this.setBusy(null);
      this.page.idle();
    }
  }

  /** Redraw the result with the current colouring and the run's current position. */
  draw() {
    const colours = this.card.querySelectorAll("[data-colour]");
    const found = this.result;
    const starts = found && found.request.x_axis.param.startsWith("start_") && found.request.y_axis.param.startsWith("start_");
    colours.forEach((btn) => {
      btn.hidden = btn.dataset.colour === "basin" && !starts;
      btn.setAttribute("aria-pressed", String(btn.dataset.colour === this.mode));
    });
    $("#sweep-colour").hidden = !found;
    if (!found) {
      this.view.clear();
      return;
    }
    if (this.mode === "basin" && !starts) this.mode = "loss";
    const { catalog } = this.page;
    const state = this.page.state();
    const run = state.runs[found.run];
    const { request, result } = found;
    const stale = !run || fixedKey({ ...baseRequest(run, state, catalog, request.steps), x_axis: request.x_axis, y_axis: request.y_axis }) !== fixedKey(request);
    this.card.classList.toggle("stale", stale);
    const mark = run && !stale ? [valueOn(request.x_axis.param, run, state, catalog), valueOn(request.y_axis.param, run, state, catalog)] : null;
    const labels = [axisLabel(request.x_axis.param, catalog, state), axisLabel(request.y_axis.param, catalog, state)];
    this.view.show(result, { mode: this.mode, labels, mark, problem: catalog.problem(state.problem) });
    const cells = result.final_loss.flat();
    const diverged = result.diverged_at.flat().filter((v) => v != null).length;
    const converged = result.converged_at.flat().filter((v) => v != null).length;
    const key = [
      `<span class="key"><i style="background:#D55E00"></i>diverged (${diverged})</span>`,
      this.mode === "converged" ? `<span class="key"><i style="background:#cfd5de"></i>never converged</span>` : "",
      this.mode === "basin" ? `<span class="key"><i style="background:#cfd5de"></i>no minimum reached</span>` : "",
    ].join("");
    const lead = stale
      ? `<b>Settings changed since this sweep</b>: run it again to bring it up to date. `
      : `${converged} of ${cells.length} converged in ${request.steps} updates. <b>Click a cell</b> to load it into run ${found.run + 1}. `;
    this.note(`${lead}${key}`);
  }

  /** A clicked cell: its two settings go into the run the sweep was made for. */
  pick(i, j, result) {
    const found = this.result;
    if (!found || found.result !== result) return;
    const patch = {};
    for (const [axis, k] of [[result.x_axis, i], [result.y_axis, j]]) {
      patch[axis.param] = Number(axis.values[k].toPrecision(6));
    }
    this.page.hook.picked = { i, j, patch };
    this.page.load(found.run, patch);
  }

  /**
   * Compare fairly: for every run, sweep α alone (the other axis pinned at the
   * run's own value) and give each run the α with the lowest final loss (ties:
   * the earliest to converge). Then the runs are re-run with their best α.
   * With `only` (a run index) just that run is tuned: "Find a working α" on a
   * diverged run's card. Resolves to the choices, or null when it did not finish.
   */
  async compareFairly(only = null) {
    if (this.busy) return null;
    const { catalog } = this.page;
    const state = this.page.state();
    const steps = Math.min(state.steps, stepCap(state, catalog, 61 * 2));
    const choices = [];
    const curves = [];
    const which = only == null ? state.runs.map((_, r) => r) : [only].filter((r) => state.runs[r]);
    const was = only == null ? null : state.runs[only]?.params.alpha;
    this.setBusy("fair");
    this.note(only == null ? "Tuning α for every run…" : `Looking for a working α for run ${only + 1}…`);
    try {
      for (const r of which) {
        const run = state.runs[r];
        const opt = catalog.optimizer(run.optimizer);
        const alpha = opt.params.find((p) => p.name === "alpha");
        if (!alpha) {
          choices.push({ run: r, label: opt.label, alpha: null });
          continue;
        }
        const { axis: pinned, row } = pinnedAxis(run, state, catalog);
        const request = {
          ...baseRequest(run, state, catalog, steps),
          x_axis: { param: "alpha", min: alpha.min, max: alpha.max, count: 61, scale: "log" },
          y_axis: pinned,
        };
        const result = await this.sweepOnce(request, only == null ? `run ${r + 1} of ${state.runs.length} (${opt.label})` : `run ${r + 1} (${opt.label}): α from ${fmtNumber(alpha.min)} to ${fmtNumber(alpha.max)}`);
        const best = bestAlpha(result, row);
        const values = result.x_axis.values;
        curves.push({ run: r, alpha: values, loss: result.final_loss[row], best });
        if (best < 0) {
          choices.push({ run: r, label: opt.label, alpha: null, diverged: true });
          continue;
        }
        choices.push({
          run: r,
          label: opt.label,
          alpha: Number(values[best].toPrecision(4)),
          loss: result.final_loss[row][best],
          converged_at: result.converged_at[row][best],
        });
      }
    } catch (error) {
      const what = only == null ? "Compare fairly" : "The search for a working α";
      this.note(error.cancelled ? `${what} was cancelled: no run was changed.` : `<b class="bad">The server refused a sweep:</b> ${error.message}`);
      this.setBusy(null);
      this.page.idle();
      return null;
    }
    this.setBusy(null);
    this.page.hook.fair = choices;
    this.page.tuned(choices);
    const rows = choices
      .map((c) => {
        const dot = `<span class="run-dot" style="background:${runColor(c.run)}">${c.run + 1}</span>`;
        if (c.alpha == null) return `<li>${dot} ${c.label}: ${c.diverged ? "diverged for every α" : "has no α: unchanged"}</li>`;
        const when = c.converged_at != null ? `converges at t = ${c.converged_at}` : `final loss ${fmtNumber(c.loss)}`;
        return `<li>${dot} ${c.label}: <b>α = ${fmtNumber(c.alpha)}</b> <span class="muted">(${when})</span></li>`;
      })
      .join("");
    const lead =
      only == null
        ? `<b>Compared fairly</b>: each run now has the α with the lowest final loss after ${steps} updates.`
        : choices[0]?.alpha != null
          ? `<b>Found a working α</b> for run ${only + 1}: the one with the lowest final loss after ${steps} updates (was ${fmtNumber(was)}).`
          : `<b>No working α</b> for run ${only + 1}: it diverges for every α in the catalog's range. Try another start or optimiser.`;
    this.note(`${lead}<ul class="fair-list">${rows}</ul>`);
    this.result = null;
    this.view.showCurves(curves.map((c) => ({ ...c, color: runColor(c.run), label: catalog.optimizer(state.runs[c.run].optimizer).label })), state.problem ? catalog.problem(state.problem) : null);
    $("#sweep-colour").hidden = true;
    this.card.classList.remove("stale");
    return choices;
  }
}

/** A second axis pinned at the run's own value (two cells, row `row` is the run's). */
function pinnedAxis(run, state, catalog) {
  const opt = catalog.optimizer(run.optimizer);
  const second = opt.params.find((p) => p.name !== "alpha" && p.kind !== "bool");
  if (second) {
    const v = run.params[second.name];
    const delta = second.kind === "int" ? 1 : Math.max(Math.abs(v) * 1e-9, 1e-12);
    if (v + delta <= second.max) return { axis: { param: second.name, min: v, max: v + delta, count: 2, scale: "linear" }, row: 0 };
    return { axis: { param: second.name, min: v - delta, max: v, count: 2, scale: "linear" }, row: 1 };
  }
  const x0 = S.startOf(run, state, catalog)[0];
  const delta = Math.max(Math.abs(x0), 1) * 1e-9;
  return { axis: { param: "start_x", min: x0, max: x0 + delta, count: 2, scale: "linear" }, row: 0 };
}
