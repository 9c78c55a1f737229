// #data-plot: a regression's dataset and each run's current model.
/* global Plotly */

import { CONFIG, FONT, MODEBAR, followSize, lw, ms } from "./plots.js";

/** The dataset of a regression problem and each run's current model. */
export class DataView {
  constructor(el) {
    this.el = el;
    this.ready = false;
    followSize(this);
  }

  model(w, b) {
    return this.logistic ? this.xs.map((x) => 1 / (1 + Math.exp(-(w * x + b)))) : this.xs.map((x) => w * x + b);
  }

  /** runs as the surface gets them; order: the drawing order (the selected run last). */
  reset(problem, data, runs, order = runs.map((_, i) => i)) {
    this.logistic = problem.name.includes("logistic");
    this.runs = runs;
    this.slot = [];
    order.forEach((i, k) => (this.slot[i] = k));
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of data.x) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    const pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
    this.xs = Array.from({ length: 80 }, (_, k) => lo + ((hi - lo) * k) / 79);
    // A few thousand SVG points are slow to redraw; a sample shows the cloud as well.
    const stride = Math.max(1, Math.ceil(data.x.length / 1500));
    const sx = data.x.filter((_, k) => k % stride === 0);
    let sy = data.y.filter((_, k) => k % stride === 0);
    if (this.logistic) sy = sy.map((y, k) => y + ((((k * 7919) % 101) / 101) - 0.5) * 0.06);
    const traces = [
      {
        type: "scatter",
        mode: "markers",
        x: sx,
        y: sy,
        marker: { size: ms(6), color: "rgba(60,72,96,0.38)" },
        hovertemplate: "(%{x:.3g}, %{y:.3g})<extra>sample</extra>",
        meta: { role: "data" },
      },
    ];
    if (data.minimum) {
      traces.push({
        type: "scatter",
        mode: "lines",
        x: this.xs,
        y: this.model(data.minimum[0], data.minimum[1]),
        line: { color: "#1f2733", width: 2, dash: "dot" },
        name: "best fit",
        hovertemplate: "best fit<extra></extra>",
        meta: { role: "best" },
      });
    }
    this.offset = traces.length;
    for (const i of order) {
      const run = runs[i];
      const n = run.path.x.length;
      traces.push({
        type: "scatter",
        mode: "lines",
        x: this.xs,
        y: n ? this.model(run.path.x[n - 1], run.path.y[n - 1]) : [],
        line: { color: run.color, width: lw(run.selected ? 5 : 3.5), dash: run.dash },
        name: run.name,
        hovertemplate: `${run.name}<extra></extra>`,
        visible: run.hidden ? "legendonly" : true,
        meta: { model: i },
      });
    }
    const layout = {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: 52, r: 12, t: 10, b: Math.round(FONT.size * 3) },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      xaxis: { title: { text: "x", standoff: 4 }, range: [lo, hi], showline: true, linecolor: "#8a94a6", gridcolor: "#eef0f4", zeroline: false },
      yaxis: { title: { text: this.logistic ? "label / p" : "y", standoff: 4 }, showline: true, linecolor: "#8a94a6", gridcolor: "#eef0f4", zeroline: false, range: this.logistic ? [-0.12, 1.12] : undefined, autorange: !this.logistic },
      showlegend: false,
      hovermode: "closest",
      uirevision: problem.name,
    };
    const draw = this.ready ? Plotly.react : Plotly.newPlot;
    this.ready = true;
    return draw(this.el, traces, layout, { ...CONFIG, modeBarButtons: [["toImage", "resetScale2d"]] });
  }

  /** Move each run's model to its current point. */
  update(points) {
    const ys = [];
    const indices = [];
    points.forEach((p, i) => {
      if (!p) return;
      indices.push(this.offset + this.slot[i]);
      ys.push(this.model(p[0], p[1]));
    });
    if (!indices.length) return Promise.resolve();
    return Plotly.restyle(this.el, { y: ys }, indices);
  }

  resize() {
    if (this.ready) return Plotly.Plots.resize(this.el);
  }
}
