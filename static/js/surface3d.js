// The 3-D view (#surface-3d): the ground as a surface, the paths lifted onto it.
/* global Plotly */

import { CONFIG, FONT, MODEBAR, followSize, lw, ms } from "./plots.js";
import { PLOTLY_SCALE } from "./surfaceplot.js";

/** The loss as a 3-D surface with the paths lifted onto it (z = loss on the colour scale). */
export class Surface3DView {
  constructor(el) {
    this.el = el;
    this.ready = false;
    followSize(this);
  }

  setProblem(problem, grid, minima, scale) {
    this.problem = problem;
    this.grid = grid;
    this.minima = minima;
    this.scale = scale;
  }

  /** Points on the surface, a little above it; outside the box they become gaps. */
  lift(path) {
    const sc = this.scale;
    const raise = (sc.tmax - sc.tmin) * 0.012;
    const [x0, x1] = this.problem.bounds.x;
    const [y0, y1] = this.problem.bounds.y;
    const x = [];
    const y = [];
    const z = [];
    for (let k = 0; k < path.x.length; k++) {
      const inside = path.x[k] >= x0 && path.x[k] <= x1 && path.y[k] >= y0 && path.y[k] <= y1;
      x.push(inside ? path.x[k] : null);
      y.push(inside ? path.y[k] : null);
      z.push(inside ? Math.min(sc.tmax, sc.fwd(path.loss[k])) + raise : null);
    }
    return { x, y, z };
  }

  /** runs as the 2-D view gets them; order: the drawing order (the selected run last). */
  reset(runs, order = runs.map((_, i) => i)) {
    this.runs = runs;
    this.slot = [];
    order.forEach((i, k) => (this.slot[i] = k));
    const sc = this.scale;
    const z = this.grid.z.map((row) => row.map((v) => sc.fwd(v)));
    const traces = [
      {
        type: "surface",
        x: this.grid.x,
        y: this.grid.y,
        z,
        colorscale: PLOTLY_SCALE,
        cmin: sc.tmin,
        cmax: sc.tmax,
        showscale: false,
        opacity: 0.92,
        contours: { z: { show: true, usecolormap: false, color: "rgba(60,72,96,0.35)", width: 1, start: sc.tmin, end: sc.tmax, size: (sc.tmax - sc.tmin) / sc.bands } },
        hoverinfo: "skip",
        lighting: { ambient: 0.75, diffuse: 0.5, specular: 0.08 },
      },
    ];
    for (const i of order) {
      const run = runs[i];
      traces.push({
        type: "scatter3d",
        mode: "lines",
        name: run.name,
        ...this.lift(run.path),
        line: { color: run.color, width: lw(run.selected ? 9 : 7) },
        hovertemplate: `<b>${run.name}</b><br>t = %{pointNumber}<extra></extra>`,
        visible: run.hidden ? "legendonly" : true,
        meta: { run3d: i },
      });
    }
    for (const i of order) {
      const run = runs[i];
      const n = run.path.x.length;
      const last = this.lift({ x: run.path.x.slice(n - 1), y: run.path.y.slice(n - 1), loss: run.path.loss.slice(n - 1) });
      traces.push({
        type: "scatter3d",
        mode: "markers",
        ...last,
        marker: { size: ms(run.selected ? 7 : 6), color: run.color, line: { color: "#fff", width: 2 } },
        hoverinfo: "skip",
        visible: run.hidden ? "legendonly" : true,
        meta: { head3d: i },
      });
    }
    // Few ticks, small: the axes are turned, and crowded labels run into each other.
    const axis = (title, range) => ({
      title: { text: title, font: { size: FONT.size - 1 } },
      range,
      autorange: false,
      nticks: 5,
      tickfont: { size: FONT.size - 3 },
      backgroundcolor: "#fdfcf8",
      gridcolor: "#d8dde5",
      showspikes: false,
    });
    const pad = (sc.tmax - sc.tmin) * 0.05;
    const height = sc.log ? "log₁₀(f − f*)" : "√(f − f*)";
    const layout = {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: 0, r: 0, t: 0, b: 0 },
      paper_bgcolor: "rgba(0,0,0,0)",
      showlegend: false,
      scene: {
        xaxis: axis(this.problem.axes[0], this.problem.bounds.x),
        yaxis: axis(this.problem.axes[1], this.problem.bounds.y),
        zaxis: { ...axis(height, [sc.tmin - pad, sc.tmax + pad]), showticklabels: false },
        aspectmode: "manual",
        aspectratio: { x: 1.4, y: 1.4 * Math.min(1, (this.problem.bounds.y[1] - this.problem.bounds.y[0]) / (this.problem.bounds.x[1] - this.problem.bounds.x[0]) * 1.5), z: 0.7 },
        // Far enough back that the whole box and its labels stay in the frame.
        camera: { eye: { x: -1.55, y: -1.85, z: 1.25 }, center: { x: 0, y: 0, z: -0.08 } },
      },
      // The height is not the loss itself: say what it is.
      annotations: [
        {
          xref: "paper",
          yref: "paper",
          x: 0.01,
          y: 0.99,
          xanchor: "left",
          yanchor: "top",
          showarrow: false,
          text: `height: ${height}${sc.log ? "" : ", so a quadratic bowl looks like a cone"} · drag to turn`,
          font: { size: FONT.size - 2, color: "#5b6577" },
          bgcolor: "rgba(255,255,255,0.8)",
        },
      ],
      uirevision: this.problem.name,
    };
    const draw = this.ready ? Plotly.react : Plotly.newPlot;
    this.ready = true;
    return draw(this.el, traces, layout, { ...CONFIG, modeBarButtons: [["toImage", "resetCameraDefault3d"]] });
  }

  add(slices) {
    const n = this.runs.length;
    const update = { x: [], y: [], z: [] };
    const indices = [];
    const maxPoints = { x: [], y: [], z: [] };
    slices.forEach((slice, i) => {
      if (!slice.x.length) return;
      const p = this.lift(slice);
      const last = slice.x.length - 1;
      indices.push(1 + this.slot[i], 1 + n + this.slot[i]);
      update.x.push(p.x, [p.x[last]]);
      update.y.push(p.y, [p.y[last]]);
      update.z.push(p.z, [p.z[last]]);
      for (const key of ["x", "y", "z"]) maxPoints[key].push(1e7, 1);
    });
    if (!indices.length) return Promise.resolve();
    return Plotly.extendTraces(this.el, update, indices, maxPoints);
  }

  resize() {
    if (this.ready) return Plotly.Plots.resize(this.el);
  }
}
