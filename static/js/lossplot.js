// #loss-plot: loss against update (or epoch) for every run.
/* global Plotly */

import { CONFIG, FLOOR_DECADES, FONT, MODEBAR, STYLE, followSize, labelOffsets, lw, ms, replaceInPlace } from "./plots.js";

const LOSS_CONFIG = { ...CONFIG, modeBarButtons: [["toImage", "resetScale2d"]] };

/**
 * A moving average whose window grows with the update: 1 + t/10 updates, at most
 * `widest`. Early, where a loss falls fast, it barely smooths (and lags by little);
 * late, where the noise is what is left, it averages over the last tenth of the
 * run. Over log10 of the values on a log axis. Its first value is the loss itself
 * (no start at 0 to correct). `state` carries it from one call to the next: {m, k}.
 */
export function smoothed(values, widest, log, state = { m: 0, k: 0 }) {
  const out = new Array(values.length);
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    const x = log ? Math.log10(v) : v;
    if (!Number.isFinite(x)) {
      out[j] = null;
      continue;
    }
    const keep = 1 - 1 / Math.min(widest, 1 + state.k / 10);
    state.m = state.k ? keep * state.m + (1 - keep) * x : x;
    state.k += 1;
    out[j] = log ? 10 ** state.m : state.m;
  }
  return out;
}

/**
 * #loss-plot: one trace per run (meta.run = i), log y when the losses span decades.
 * On a regression the x-axis may count epochs (run.per = updates per epoch) so
 * batch sizes compare at equal work; the x-axis may be logarithmic. Noisy losses
 * may be smoothed: a bold moving average (meta.smooth = i) over the faint raw
 * loss. ◆ marks where a run converged (and stayed), ▲ where it blew up; the
 * open lesson's marks are labelled.
 */
export class LossView {
  constructor(el) {
    this.el = el;
    this.ready = false;
    this.type = "linear";
    this.mode = "auto";
    this.epochs = false;
    this.xlog = false;
    this.smooth = false;
    this.order = [];
    this.notes = [];
    followSize(this);
  }

  /** The x-axis covers every run to its end (in epochs, the run that makes the fewest updates per epoch). */
  xRange(runs, steps) {
    const per = runs.map((run) => (this.epochs ? run.per || 1 : 1));
    const end = Math.max(1e-9, ...per.map((p) => steps / p));
    if (!this.xlog) return [0, end];
    const first = Math.min(...per.map((p) => 1 / p)); // the first update, the first point a log axis can show
    return [Math.log10(first), Math.log10(end)];
  }

  /** Ticks far enough apart for their labels (10⁻¹⁰ stacks higher than 0.5). */
  yTicks() {
    const height = this.el.clientHeight || 300;
    return Math.max(3, Math.floor(height / (FONT.size * (this.type === "log" ? 3.2 : 2.4))));
  }

  layout(runs, steps) {
    return {
      font: FONT,
      modebar: MODEBAR,
      // Room under the tick labels for the axis title (Plotly keeps a title inside the margin).
      margin: { l: 58, r: 16, t: 8, b: Math.round(FONT.size * 3.7) },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      xaxis: {
        title: { text: this.epochs ? "epoch (passes over the data)" : "update t", standoff: 10 },
        type: this.xlog ? "log" : "linear",
        range: this.xRange(runs, steps),
        showline: true,
        linecolor: "#8a94a6",
        gridcolor: "#eef0f4",
        zeroline: false,
        ticks: "outside",
      },
      yaxis: {
        type: this.type,
        title: STYLE.present ? { text: "loss", standoff: 6 } : undefined,
        automargin: true,
        exponentformat: "power",
        showline: true,
        linecolor: "#8a94a6",
        gridcolor: "#eef0f4",
        zeroline: false,
        ticks: "outside",
        nticks: this.yTicks(),
        ...(this.yRange(runs) ? { range: this.yRange(runs), autorange: false } : { autorange: true }),
      },
      showlegend: false,
      hovermode: "x unified",
      hoverlabel: { font: { size: FONT.size - 1, family: FONT.family }, bgcolor: "rgba(255,255,255,0.95)" },
      annotations: [],
      uirevision: `loss-${this.epochs}-${this.xlog}`,
    };
  }

  /**
   * A log axis's range (log10), from every loss of the visible runs — the whole
   * run, not only the points shown, so an animation stays inside it — down to the
   * floor at most, in quarter decades (a slider's next run rarely moves it).
   */
  yRange(runs) {
    if (this.type !== "log") return null;
    let lo = Infinity;
    let hi = 0;
    for (const run of runs) {
      if (run.hidden) continue;
      for (const v of run.allLoss) {
        if (v > 0 && v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!(hi > 0) || !Number.isFinite(lo)) return null;
    const bottom = Math.max(Math.log10(lo), this.floor(runs) ?? -Infinity);
    return [Math.floor(bottom * 4) / 4 - 0.1, Math.ceil(Math.log10(hi) * 4) / 4 + 0.1];
  }

  /** The lowest a log axis goes: FLOOR_DECADES under the highest starting loss (log10). */
  floor(runs) {
    let start = 0;
    for (const run of runs) if (run.allLoss.length && run.allLoss[0] > start) start = run.allLoss[0];
    return start > 0 ? Math.log10(start) - FLOOR_DECADES : undefined;
  }

  /** Pick the axis type: log when every loss is positive and they span > 2 decades. */
  chooseType(runs) {
    if (this.mode !== "auto") return this.mode;
    let lo = Infinity;
    let hi = -Infinity;
    for (const run of runs) {
      for (const v of run.allLoss) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!(lo > 0) || !Number.isFinite(hi)) return "linear";
    return hi / lo > 300 ? "log" : "linear";
  }

  xOf(i, t) {
    const per = this.epochs ? this.runs[i]?.per || 1 : 1;
    return per === 1 ? t : t / per;
  }

  /**
   * runs: [{name, color, dash, hidden, selected, per, path, allLoss}]; final: {marks,
   * converged, blowUps} once every point is in; order: the drawing order (selected last);
   * notes: the open lesson's marks ({run, t, text}); changed: the runs whose points or
   * names changed since the last reset (default: all).
   *
   * When nothing but those runs' numbers changed (a slider moved: same axes, style,
   * order and marks), their traces, the marks and the lesson's dots are replaced in
   * place by one Plotly.animate without a transition, the other runs left alone (a
   * run's 3 000 losses cost as much to hand to Plotly as to draw). Anything else is
   * one Plotly.react of the whole chart.
   */
  reset(runs, steps, final = null, { order = this.order, notes = this.notes, changed = null } = {}) {
    this.runs = runs;
    this.steps = steps;
    this.order = order.length === runs.length ? order : runs.map((_, i) => i);
    this.notes = notes;
    this.type = this.chooseType(runs);
    this.widest = Math.max(4, steps / 20);
    const smooths = (run) => this.smooth && run.noisy; // a run without noise is drawn as it is
    const width = (run) => lw(run.selected ? 5 : 3.5);
    const visible = (run) => (run.hidden ? "legendonly" : true);
    const raw = (i) => {
      const run = runs[i];
      return {
        type: "scatter",
        mode: "lines",
        name: run.name,
        x: this.xs(i, run.path.loss.length),
        y: run.path.loss,
        customdata: run.path.x.map((x, t) => [x, run.path.y[t], t]),
        line: { color: run.color, width: smooths(run) ? lw(1.2) : width(run), dash: run.dash },
        opacity: smooths(run) ? 0.35 : 1,
        hovertemplate: `%{y:.4g} at (%{customdata[0]:.3g}, %{customdata[1]:.3g}), t = %{customdata[2]}`,
        hoverinfo: smooths(run) ? "skip" : undefined,
        visible: visible(run),
        meta: { run: i },
      };
    };
    const smoothTrace = (i) => {
      const run = runs[i];
      this.ema[i] = { m: 0, k: 0 };
      return {
        type: "scatter",
        mode: "lines",
        name: `${run.name} (smoothed)`,
        x: this.xs(i, run.path.loss.length),
        y: smoothed(run.path.loss, this.widest, this.type === "log", this.ema[i]),
        customdata: run.path.loss.map(() => null), // extended with the raw traces' in add()
        line: { color: run.color, width: width(run), dash: run.dash },
        hovertemplate: "%{y:.4g} (smoothed)",
        visible: visible(run),
        meta: { smooth: i },
      };
    };
    const marks = final ? [...this.diamonds(runs, final.converged || []), ...this.blowUps(runs, final.blowUps || [])] : [];
    const note = this.noteTrace(runs, notes);
    const smoothedRuns = this.smooth ? this.order.filter((i) => smooths(runs[i])) : [];
    // The layout object stays the same while nothing in it changes, so Plotly.react
    // only recomputes the traces and the y range (no relayout).
    const key = JSON.stringify([FONT.size, STYLE.present, this.epochs, this.xlog, this.xRange(runs, steps), this.type, this.yRange(runs), this.yTicks()]);
    const shape = JSON.stringify([key, this.order, smoothedRuns, runs.map((r) => [r.color, r.dash, r.hidden, r.selected]), marks.map((m) => m.meta)]);
    const notesList = [...(final ? this.divergedNotes(runs, final.marks || []) : []), ...this.noteLabels(runs, notes)];
    const notesKey = JSON.stringify(notesList.map((a) => [a.x, a.y, a.text]));
    this.final = !!final;
    if (this.ready && changed && shape === this.shape && this.lay && this.layKey === key) {
      const indices = [];
      const data = [];
      for (const i of changed) {
        const slot = this.order.indexOf(i);
        indices.push(slot);
        const { x, y, customdata, name } = raw(i);
        data.push({ x, y, customdata, name });
        if (this.smoothSlot[i] != null) {
          indices.push(this.smoothSlot[i]);
          const { x: sx, y: sy, customdata: sc, name: sn } = smoothTrace(i);
          data.push({ x: sx, y: sy, customdata: sc, name: sn });
        }
      }
      const first = this.order.length + smoothedRuns.length;
      marks.forEach((m, k) => {
        indices.push(first + k);
        data.push({ x: m.x, y: m.y, hovertemplate: m.hovertemplate });
      });
      indices.push(first + marks.length);
      data.push({ x: note.x, y: note.y, customdata: note.customdata, marker: note.marker, meta: note.meta });
      let layout;
      if (notesKey !== this.notesKey) {
        this.lay.annotations = notesList;
        this.notesKey = notesKey;
        layout = { annotations: notesList };
      }
      return replaceInPlace(this.el, data, indices, layout);
    }
    this.ema = [];
    const traces = this.order.map(raw);
    this.smoothSlot = [];
    for (const i of smoothedRuns) {
      this.smoothSlot[i] = traces.length;
      traces.push(smoothTrace(i));
    }
    traces.push(...marks, note);
    if (!this.lay || this.layKey !== key) {
      this.lay = this.layout(runs, steps);
      this.layKey = key;
      this.notesKey = "[]";
    }
    if (notesKey !== this.notesKey) {
      this.lay.annotations = notesList;
      this.notesKey = notesKey;
    }
    this.shape = shape;
    const draw = this.ready ? Plotly.react : Plotly.newPlot;
    this.ready = true;
    return draw(this.el, traces, this.lay, LOSS_CONFIG);
  }

  /** The x values of run i's first n points (updates, or epochs), reused while unchanged. */
  xs(i, n) {
    const per = this.epochs ? this.runs[i]?.per || 1 : 1;
    this.xCache = this.xCache || [];
    const hit = this.xCache[i];
    if (hit && hit.n === n && hit.per === per) return hit.x;
    const x = new Array(n);
    for (let t = 0; t < n; t++) x[t] = per === 1 ? t : t / per;
    this.xCache[i] = { n, per, x };
    return x;
  }

  /** One marker on run i's loss line at update t; `what` names it on hover and in meta. */
  marker({ i, t, loss }, runs, what, symbol, edge, size) {
    return {
      type: "scatter",
      mode: "markers",
      x: [this.xOf(i, t)],
      y: [loss],
      marker: { symbol, size: ms(size), color: runs[i].color, line: { color: edge, width: 2 } },
      hovertemplate: `${what === "converged" ? "converged (and stayed)" : "blew up"} at t = ${t}<extra></extra>`,
      showlegend: false,
      meta: { [what]: i },
    };
  }

  /** ◆ where each converged run converged (meta.converged = i); none for a hidden run. */
  diamonds(runs, converged) {
    return converged.filter(({ i }) => !runs[i].hidden).map((mark) => this.marker(mark, runs, "converged", "diamond", "#ffffff", 13));
  }

  /** ▲ where each run that blew up (and went on) first broke the limit (meta.blewUp = i). */
  blowUps(runs, blown) {
    return blown.filter(({ i }) => !runs[i].hidden).map((mark) => this.marker(mark, runs, "blewUp", "triangle-up", "#c0392b", 14));
  }

  /** The open lesson's marks within the points shown, on each run's loss curve. */
  notePoints(runs, notes) {
    return notes
      .filter((n) => runs[n.run] && !runs[n.run].hidden && n.t < runs[n.run].path.loss.length)
      .map((n) => ({ ...n, x: this.xOf(n.run, n.t), y: runs[n.run].path.loss[n.t], color: runs[n.run].color }));
  }

  /** The lesson's marks as circled dots (meta.role = "lesson-mark", with the update of each in meta.t). */
  noteTrace(runs, notes) {
    const points = this.notePoints(runs, notes);
    return {
      type: "scatter",
      mode: "markers",
      x: points.map((p) => p.x),
      y: points.map((p) => p.y),
      customdata: points.map((p) => p.text),
      marker: { symbol: "circle", size: ms(12), color: points.map((p) => p.color), line: { color: "#1f2733", width: 1.5 } },
      hovertemplate: "%{customdata}<extra></extra>",
      showlegend: false,
      meta: { role: "lesson-mark", t: points.map((p) => p.t), runs: points.map((p) => p.run) },
    };
  }

  /** A label per mark; marks that say the same at the same x (1 epoch of each run) share one. */
  noteLabels(runs, notes) {
    const log = this.type === "log";
    const seen = new Set();
    const points = this.notePoints(runs, notes).filter((p) => {
      const key = `${p.x}|${p.text}`;
      return !seen.has(key) && seen.add(key);
    });
    const ay = labelOffsets(points);
    return points.map((p, k) => ({
      x: this.xlog ? Math.log10(Math.max(p.x, 1e-300)) : p.x,
      y: log ? Math.log10(Math.max(p.y, 1e-300)) : p.y,
      text: p.text,
      showarrow: true,
      arrowhead: 0,
      arrowcolor: p.color,
      ax: 0,
      ay: ay[k],
      font: { color: "#1f2733", size: FONT.size - 2 },
      bgcolor: "rgba(255,255,255,0.9)",
      bordercolor: p.color,
      borderwidth: 1.5,
      borderpad: 2,
    }));
  }

  /** "✕ diverged at t" beside each diverged run's last point. */
  divergedNotes(runs, marks) {
    const log = this.type === "log";
    return marks
      .filter(({ i }) => !runs[i].hidden)
      .map(({ i, t, loss }) => ({
        x: this.xlog ? Math.log10(Math.max(this.xOf(i, t - 1), 1e-300)) : this.xOf(i, t - 1),
        y: log ? Math.log10(Math.max(loss, 1e-300)) : loss,
        text: `✕ diverged at t=${t}`,
        showarrow: false,
        xanchor: "left",
        xshift: 6,
        font: { color: runs[i].color, size: FONT.size - 1 },
        bgcolor: "rgba(255,255,255,0.85)",
      }));
  }

  add(slices, firstIndex) {
    const update = { x: [], y: [], customdata: [] };
    const indices = [];
    const slot = [];
    this.order.forEach((i, k) => (slot[i] = k));
    slices.forEach((slice, i) => {
      if (!slice.x.length || slot[i] == null) return;
      const from = firstIndex[i];
      const xs = slice.x.map((_, k) => this.xOf(i, from + k));
      indices.push(slot[i]);
      update.x.push(xs);
      update.y.push(slice.loss);
      update.customdata.push(slice.x.map((x, k) => [x, slice.y[k], from + k]));
      if (this.smoothSlot[i] != null) {
        indices.push(this.smoothSlot[i]);
        update.x.push(xs);
        update.y.push(smoothed(slice.loss, this.widest, this.type === "log", this.ema[i]));
        update.customdata.push(xs.map(() => null));
      }
    });
    if (!indices.length) return Promise.resolve();
    return Plotly.extendTraces(this.el, update, indices);
  }

  /**
   * Every point is in: re-check the axis type, mark diverged runs (✕ note),
   * converged ones (◆ at the update they converged, meta.converged = i) and those
   * that blew up (▲, meta.blewUp = i), in one Plotly.react. Nothing to do when
   * reset() already drew them.
   */
  finish(runs, marks, converged = [], blowUps = []) {
    return this.reset(runs, this.steps, { marks, converged, blowUps });
  }

  /** A new size: the y ticks are spaced for it. */
  resize() {
    if (!this.ready) return;
    const ticks = this.yTicks();
    if (this.lay && this.lay.yaxis.nticks !== ticks) {
      return Plotly.relayout(this.el, { "yaxis.nticks": ticks }).then(() => Plotly.Plots.resize(this.el));
    }
    return Plotly.Plots.resize(this.el);
  }
}
