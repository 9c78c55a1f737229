// #state-plot: what the rules carry from update to update (docs/API.md, Anatomy),
// switchable with the loss chart: each run's effective learning rate per coordinate,
// the size of its velocity per coordinate (runs whose state has a v), or α_t of
// every run together. Drawn up to the playhead, as the loss chart.
/* global Plotly */

import { CONFIG, FLOOR_DECADES, FONT, MODEBAR, STYLE, followSize, lw } from "./plots.js";

const STATE_CONFIG = { ...CONFIG, modeBarButtons: [["toImage", "resetScale2d"]] };

// What each view plots of a run's anatomy (feed.js's lists; entry k is update k + 1):
// one series per coordinate, or one per run; null when the run has none.
const VIEWS = {
  rate: {
    title: "effective learning rate",
    series: (a) => [a.rx, a.ry],
  },
  velocity: {
    title: "velocity |v|",
    series: (a) => (a.state.v ? [a.state.v.x, a.state.v.y].map((v) => v.map(Math.abs)) : null),
  },
  alpha: {
    title: "learning rate α_t",
    series: (a) => [a.alpha],
  },
};
// A coordinate's line: the first solid, the second dotted (same colour: the run's).
const COORDINATE_DASH = ["solid", "dot"];

export class StateView {
  constructor(el) {
    this.el = el;
    this.ready = false;
    this.view = "rate";
    this.epochs = false;
    this.xlog = false;
    this.traces = []; // per trace: {run, coordinate}
    followSize(this);
  }

  /** The series of run `run` in this view (arrays of values, entry k = update k + 1), or null. */
  seriesOf(run) {
    return run.anatomy ? VIEWS[this.view].series(run.anatomy) : null;
  }

  xOf(run, t) {
    const per = this.epochs ? run.per || 1 : 1;
    return per === 1 ? t : t / per;
  }

  /**
   * The y axis: logarithmic when the values span more than a decade (rates die by
   * decades), its range over every value received (an animation stays inside it) but
   * at most FLOOR_DECADES deep (a velocity at rest shrinks to 10⁻²⁰).
   */
  yAxis(runs) {
    let lo = Infinity;
    let hi = 0;
    for (const run of runs) {
      if (run.hidden) continue;
      for (const values of this.seriesOf(run) || []) {
        for (const v of values) {
          if (v > 0 && v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    }
    if (!(hi > 0 && hi / lo > 10)) return { type: "linear", autorange: true, rangemode: "tozero" };
    const bottom = Math.max(Math.log10(lo), Math.log10(hi) - FLOOR_DECADES);
    return { type: "log", range: [bottom - 0.1, Math.log10(hi) + 0.1], autorange: false };
  }

  layout(runs, steps) {
    const per = runs.map((run) => (this.epochs ? run.per || 1 : 1));
    const end = Math.max(1e-9, ...per.map((p) => steps / p));
    const first = Math.min(...per.map((p) => 1 / p));
    return {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: 58, r: 16, t: 8, b: Math.round(FONT.size * 3.7) },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      xaxis: {
        title: { text: this.epochs ? "epoch (passes over the data)" : "update t", standoff: 10 },
        type: this.xlog ? "log" : "linear",
        range: this.xlog ? [Math.log10(first), Math.log10(end)] : [0, end],
        showline: true,
        linecolor: "#8a94a6",
        gridcolor: "#eef0f4",
        zeroline: false,
        ticks: "outside",
      },
      yaxis: {
        ...this.y,
        title: STYLE.present ? { text: VIEWS[this.view].title, standoff: 6 } : undefined,
        automargin: true,
        exponentformat: "power",
        showline: true,
        linecolor: "#8a94a6",
        gridcolor: "#eef0f4",
        zeroline: false,
        ticks: "outside",
      },
      showlegend: false,
      hovermode: "closest",
      hoverlabel: { font: { size: FONT.size - 1, family: FONT.family }, bgcolor: "rgba(255,255,255,0.95)" },
      uirevision: `state-${this.view}-${this.epochs}-${this.xlog}`,
    };
  }

  /** The x and y of a series' first `n` updates (update t at x = t, or its epoch). */
  points(run, values, n) {
    const x = new Array(n);
    const y = new Array(n);
    for (let k = 0; k < n; k++) {
      x[k] = this.xOf(run, k + 1);
      y[k] = this.y.type === "log" && !(values[k] > 0) ? null : values[k];
    }
    return { x, y };
  }

  /**
   * runs: the stage's run metas (name, color, hidden, selected, per, anatomy, path);
   * each run is drawn up to its points shown (update n for n + 1 points). One trace
   * per run and coordinate (meta {run, coordinate}) or, for α_t, per run (meta {run}).
   */
  reset(runs, steps, { order = runs.map((_, i) => i), view = this.view, axes = ["x", "y"] } = {}) {
    this.view = view;
    this.runs = runs;
    this.y = this.yAxis(runs);
    this.traces = [];
    const data = [];
    for (const i of order) {
      const run = runs[i];
      const series = this.seriesOf(run);
      if (!series) continue;
      const shown = Math.min(Math.max(0, run.path.x.length - 1), series[0].length);
      series.forEach((values, coordinate) => {
        const label = series.length > 1 ? ` · ${axes[coordinate]}` : "";
        data.push({
          type: "scatter",
          mode: "lines",
          name: `${run.name}${label}`,
          ...this.points(run, values, shown),
          line: { color: run.color, width: lw(run.selected ? 3.5 : 2.2), dash: series.length > 1 ? COORDINATE_DASH[coordinate] : run.dash },
          hovertemplate: `<b>${run.name}</b>${label}<br>%{y:.4g} at t = %{customdata}<extra></extra>`,
          customdata: Array.from({ length: shown }, (_, k) => k + 1),
          visible: run.hidden ? "legendonly" : true,
          meta: series.length > 1 ? { run: i, coordinate } : { run: i },
        });
        this.traces.push({ run: i, coordinate, shown });
      });
    }
    const draw = this.ready ? Plotly.react : Plotly.newPlot;
    this.ready = true;
    return draw(this.el, data, this.layout(runs, steps), STATE_CONFIG);
  }

  /** The playhead moved on: run i now shows `shown[i]` points (updates 1 … shown[i] − 1). */
  add(shown) {
    const update = { x: [], y: [], customdata: [] };
    const indices = [];
    this.traces.forEach((trace, index) => {
      const run = this.runs[trace.run];
      const values = this.seriesOf(run)?.[trace.coordinate];
      if (!values) return;
      const upto = Math.min(Math.max(0, shown[trace.run] - 1), values.length);
      if (upto <= trace.shown) return;
      const x = [];
      const y = [];
      const t = [];
      for (let k = trace.shown; k < upto; k++) {
        x.push(this.xOf(run, k + 1));
        y.push(this.y.type === "log" && !(values[k] > 0) ? null : values[k]);
        t.push(k + 1);
      }
      trace.shown = upto;
      indices.push(index);
      update.x.push(x);
      update.y.push(y);
      update.customdata.push(t);
    });
    if (!indices.length) return Promise.resolve();
    return Plotly.extendTraces(this.el, update, indices);
  }

  resize() {
    if (!this.ready) return;
    return Plotly.Plots.resize(this.el);
  }
}
