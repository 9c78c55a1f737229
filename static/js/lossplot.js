// #loss-plot: loss against update (or epoch) for every run.
/* global Plotly */

import { CONFIG, FONT, MODEBAR, followSize, lw, ms } from "./plots.js";

const LOSS_CONFIG = { ...CONFIG, modeBarButtons: [["toImage", "resetScale2d"]] };

/**
 * #loss-plot: one trace per run (meta.run = i), log y when the losses span decades.
 * On a regression the x-axis may count epochs (run.per = updates per epoch) so
 * batch sizes compare at equal work; ◆ marks where a run converged, ▲ where it blew up.
 */
export class LossView {
  constructor(el) {
    this.el = el;
    this.ready = false;
    this.type = "linear";
    this.mode = "auto";
    this.epochs = false;
    followSize(this);
  }

  xRange(runs, steps) {
    if (!this.epochs) return [0, steps];
    // The epochs every run covers: where the comparison is fair.
    const ends = runs.map((run) => steps / (run.per || 1));
    return [0, Math.max(1e-9, Math.min(...ends))];
  }

  layout(runs, steps) {
    return {
      font: FONT,
      modebar: MODEBAR,
      // Room under the tick labels for the axis title (Plotly keeps a title inside the margin).
      margin: { l: 58, r: 16, t: 8, b: Math.round(FONT.size * 3.7) },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      xaxis: { title: { text: this.epochs ? "epoch (passes over the data)" : "update t", standoff: 10 }, range: this.xRange(runs, steps), showline: true, linecolor: "#8a94a6", gridcolor: "#eef0f4", zeroline: false, ticks: "outside" },
      yaxis: { type: this.type, automargin: true, exponentformat: "power", showline: true, linecolor: "#8a94a6", gridcolor: "#eef0f4", zeroline: false, ticks: "outside", autorange: true },
      showlegend: false,
      hovermode: "x unified",
      hoverlabel: { font: { size: FONT.size - 1, family: FONT.family }, bgcolor: "rgba(255,255,255,0.95)" },
      annotations: [],
      uirevision: `loss-${this.epochs}`,
    };
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

  reset(runs, steps, final = null) {
    this.runs = runs;
    this.steps = steps;
    this.type = this.chooseType(runs);
    const traces = runs.map((run, i) => ({
      type: "scatter",
      mode: "lines",
      name: run.short,
      x: this.xs(i, run.path.loss.length),
      y: run.path.loss,
      customdata: run.path.x.map((x, t) => [x, run.path.y[t], t]),
      line: { color: run.color, width: lw(3.5), dash: run.dash },
      hovertemplate: `%{y:.4g} at (%{customdata[0]:.3g}, %{customdata[1]:.3g}), t = %{customdata[2]}`,
      meta: { run: i },
    }));
    if (final) traces.push(...this.diamonds(runs, final.converged || []), ...this.blowUps(runs, final.blowUps || []));
    // The layout object stays the same while nothing in it changes, so Plotly.react
    // only recomputes the traces and the y range (no relayout).
    const key = JSON.stringify([FONT.size, this.epochs, this.xRange(runs, steps), this.type]);
    if (!this.lay || this.layKey !== key) {
      this.lay = this.layout(runs, steps);
      this.layKey = key;
      this.notesKey = "[]";
    }
    const notes = final ? this.notes(runs, final.marks || []) : [];
    const notesKey = JSON.stringify(notes.map((a) => [a.x, a.y, a.text]));
    if (notesKey !== this.notesKey) {
      this.lay.annotations = notes;
      this.notesKey = notesKey;
    }
    this.final = !!final;
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
      hovertemplate: `${what === "converged" ? "converged" : "blew up"} at t = ${t}<extra></extra>`,
      showlegend: false,
      meta: { [what]: i },
    };
  }

  /** ◆ where each converged run converged (meta.converged = i). */
  diamonds(runs, converged) {
    return converged.map((mark) => this.marker(mark, runs, "converged", "diamond", "#ffffff", 13));
  }

  /** ▲ where each run that blew up (and went on) first broke the limit (meta.blewUp = i). */
  blowUps(runs, blown) {
    return blown.map((mark) => this.marker(mark, runs, "blewUp", "triangle-up", "#c0392b", 14));
  }

  /** "✕ diverged at t" beside each diverged run's last point. */
  notes(runs, marks) {
    const type = this.type;
    return marks.map(({ i, t, loss }) => ({
      x: this.xOf(i, t - 1),
      y: type === "log" ? Math.log10(Math.max(loss, 1e-300)) : loss,
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
    slices.forEach((slice, i) => {
      if (!slice.x.length) return;
      indices.push(i);
      const from = firstIndex[i];
      update.x.push(slice.x.map((_, k) => this.xOf(i, from + k)));
      update.y.push(slice.loss);
      update.customdata.push(slice.x.map((x, k) => [x, slice.y[k], from + k]));
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

  resize() {
    if (this.ready) return Plotly.Plots.resize(this.el);
  }
}
