// #sweep-plot: a sweep's grid as a heatmap, or compare fairly's final loss against α.
/* global Plotly */

import { CONFIG, FONT, MODEBAR, fmtNumber, followSize, lw, ms } from "./plots.js";

// Cells that have no value in the chosen colouring: diverged (vermillion, the
// one warm colour next to viridis) or never converged / at no known minimum (grey).
export const SWEEP_DIVERGED = "#D55E00";
export const SWEEP_NONE = "#cfd5de";
const VIRIDIS_R = [
  [0, "#fde725"], [0.125, "#a8db34"], [0.25, "#5ec962"], [0.375, "#28ae80"], [0.5, "#21918c"],
  [0.625, "#2c728e"], [0.75, "#3b528b"], [0.875, "#472d7b"], [1, "#440154"],
];
// Basins: one colour per known minimum (Okabe & Ito, without vermillion).
const BASIN_COLORS = ["#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#0072B2", "#F0E442", "#000000"];
const LOSS_FLOOR = 1e-10; // gaps below this read as "at the minimum"

function decadeTicks(lo, hi, fmt = (k) => fmtNumber(10 ** k, 2)) {
  const tickvals = [];
  const ticktext = [];
  const step = Math.max(1, Math.ceil((hi - lo) / 8));
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k += step) {
    tickvals.push(k);
    ticktext.push(fmt(k));
  }
  return { tickvals, ticktext };
}

/**
 * #sweep-plot: a sweep's grid as a heatmap (meta.role = "sweep", z[j][i] for
 * x_axis.values[i], y_axis.values[j]), coloured by final loss (log), by when
 * each cell converged, or by which minimum it reached; a second heatmap under it
 * paints the cells without a value (diverged, never converged); a ring marks the
 * selected run's own setting.
 */
export class SweepView {
  constructor(el, { onPick } = {}) {
    this.el = el;
    this.onPick = onPick;
    this.ready = false;
    followSize(this);
  }

  /** Axis coordinates: log10 of the values on a log axis (ticks say the real values). */
  coords(axis) {
    return axis.scale === "log" ? axis.values.map((v) => Math.log10(v)) : axis.values.slice();
  }

  axisLayout(axis, label) {
    const c = this.coords(axis);
    const pad = c.length > 1 ? (c[1] - c[0]) / 2 : 0.5;
    const out = {
      title: { text: label, standoff: 6 },
      automargin: true,
      range: [c[0] - pad, c[c.length - 1] + pad],
      showgrid: false,
      zeroline: false,
      ticks: "outside",
      showline: true,
      linecolor: "#8a94a6",
      mirror: true,
    };
    if (axis.scale === "log") Object.assign(out, decadeTicks(c[0] - pad, c[c.length - 1] + pad));
    return out;
  }

  /** The value grid and colour bar for a colouring; null where a cell has no value. */
  colouring(result, mode, problem) {
    const { final_loss: loss, diverged_at: div, converged_at: conv, minimum_index: basin } = result;
    const ny = loss.length;
    const nx = loss[0]?.length || 0;
    const z = [];
    const other = [];
    const text = [];
    const min = result.min_loss ?? problem?.min_value ?? null;
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < ny; j++) {
      const row = [];
      const orow = [];
      const trow = [];
      for (let i = 0; i < nx; i++) {
        let v = null;
        if (div[j][i] != null) {
          orow.push(0);
          trow.push(`diverged at t = ${div[j][i]}`);
          row.push(null);
          continue;
        }
        if (mode === "converged") v = conv[j][i];
        else if (mode === "basin") v = basin[j][i];
        else if (loss[j][i] != null) {
          const gap = min != null ? loss[j][i] - min : loss[j][i];
          v = Math.log10(Math.max(gap, LOSS_FLOOR));
        }
        const describe = `final loss ${fmtNumber(loss[j][i] ?? NaN, 4)}<br>${conv[j][i] != null ? `converged at t = ${conv[j][i]}` : "did not converge"}`;
        trow.push(describe);
        orow.push(v == null ? 1 : null);
        row.push(v);
        if (v != null) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
      z.push(row);
      other.push(orow);
      text.push(trow);
    }
    if (!Number.isFinite(lo)) {
      lo = 0;
      hi = 1;
    }
    if (hi - lo < 1e-9) hi = lo + 1;
    const bar = { thickness: 14, len: 0.92, outlinewidth: 0, tickfont: { size: FONT.size - 2 }, title: { side: "top", font: { size: FONT.size - 2 } } };
    if (mode === "basin") {
      const minima = result.minima || [];
      const n = Math.max(1, minima.length);
      const scale = [];
      for (let k = 0; k < n; k++) {
        const c = BASIN_COLORS[k % BASIN_COLORS.length];
        scale.push([k / n, c], [(k + 1) / n, c]);
      }
      return {
        z, other, text, zmin: -0.5, zmax: n - 0.5, colorscale: scale,
        colorbar: { ...bar, title: { ...bar.title, text: "minimum<br>reached" }, tickvals: minima.map((_, k) => k), ticktext: minima.map((m) => `(${fmtNumber(m[0], 2)}, ${fmtNumber(m[1], 2)})`) },
      };
    }
    if (mode === "converged") {
      return { z, other, text, zmin: lo, zmax: hi, colorscale: VIRIDIS_R, colorbar: { ...bar, title: { ...bar.title, text: "converged<br>at update" } } };
    }
    const ticks = decadeTicks(lo, hi, (k) => (k <= Math.log10(LOSS_FLOOR) ? "≤" : "") + fmtNumber(10 ** k, 2));
    return {
      z, other, text, zmin: lo, zmax: hi, colorscale: VIRIDIS_R,
      colorbar: { ...bar, title: { ...bar.title, text: min != null ? "final<br>f − f*" : "final<br>loss" }, ...ticks },
    };
  }

  /**
   * Draw a result. opts: {mode, labels: [x, y], mark: [x, y] | null, problem, minima: [[x, y]] (start grids)}.
   */
  show(result, { mode = "loss", labels = ["", ""], mark = null, problem = null } = {}) {
    this.result = result;
    const xs = this.coords(result.x_axis);
    const ys = this.coords(result.y_axis);
    const c = this.colouring(result, mode, problem);
    const traces = [
      {
        type: "heatmap",
        x: xs,
        y: ys,
        z: c.other,
        zmin: 0,
        zmax: 1,
        colorscale: [[0, SWEEP_DIVERGED], [0.5, SWEEP_DIVERGED], [0.5, SWEEP_NONE], [1, SWEEP_NONE]],
        showscale: false,
        text: c.text,
        hovertemplate: "%{text}<extra></extra>",
        hoverongaps: false,
        meta: { role: "sweep-other" },
      },
      {
        type: "heatmap",
        x: xs,
        y: ys,
        z: c.z,
        zmin: c.zmin,
        zmax: c.zmax,
        colorscale: c.colorscale,
        colorbar: c.colorbar,
        text: c.text,
        hovertemplate: "%{text}<extra></extra>",
        hoverongaps: false,
        meta: { role: "sweep", mode },
      },
    ];
    const starts = result.x_axis.param === "start_x" && result.y_axis.param === "start_y";
    if (starts && result.minima?.length) {
      traces.push({
        type: "scatter",
        mode: "markers",
        x: result.minima.map((m) => m[0]),
        y: result.minima.map((m) => m[1]),
        marker: { symbol: "star", size: ms(15), color: "#ffffff", line: { color: "#1f2733", width: 1.5 } },
        hovertemplate: "minimum (%{x:.3g}, %{y:.3g})<extra></extra>",
        meta: { role: "minima" },
      });
    }
    if (mark) {
      const at = [result.x_axis.scale === "log" ? Math.log10(mark[0]) : mark[0], result.y_axis.scale === "log" ? Math.log10(mark[1]) : mark[1]];
      traces.push(
        { type: "scatter", mode: "markers", x: [at[0]], y: [at[1]], marker: { symbol: "circle-open", size: ms(22), color: "#1f2733", line: { width: 2 } }, hoverinfo: "skip", meta: { role: "current" } },
        { type: "scatter", mode: "markers", x: [at[0]], y: [at[1]], marker: { symbol: "circle-open", size: ms(17), color: "#ffffff", line: { width: 3 } }, hovertemplate: "this run<extra></extra>", meta: { role: "current" } },
      );
    }
    const layout = {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: 60, r: 8, t: 6, b: 46 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      xaxis: this.axisLayout(result.x_axis, labels[0]),
      yaxis: this.axisLayout(result.y_axis, labels[1]),
      showlegend: false,
      hovermode: "closest",
      hoverlabel: { font: { size: FONT.size - 1, family: FONT.family } },
      dragmode: false,
      uirevision: JSON.stringify([result.x_axis.param, result.y_axis.param]),
    };
    const draw = this.ready ? Plotly.react : Plotly.newPlot;
    const first = !this.ready;
    this.ready = true;
    return draw(this.el, traces, layout, { ...CONFIG, modeBarButtons: [["toImage"]] }).then(() => {
      if (first) this.el.on("plotly_click", (event) => this.click(event));
    });
  }

  /**
   * Compare fairly's answer: final loss against α, one line per run (gaps where
   * it diverged), the chosen α ringed. curves: [{run, alpha, loss, best, color, label}].
   */
  showCurves(curves, problem) {
    this.result = null;
    const min = problem?.min_value ?? null;
    const gap = (v) => (v == null ? null : Math.max(min != null ? v - min : v, LOSS_FLOOR));
    const traces = [];
    for (const c of curves) {
      traces.push({
        type: "scatter",
        mode: "lines",
        x: c.alpha,
        y: c.loss.map(gap),
        line: { color: c.color, width: lw(3) },
        name: c.label,
        hovertemplate: `${c.label}: α = %{x:.3g}, final loss %{y:.3g}<extra></extra>`,
        meta: { fair: c.run },
      });
      if (c.best >= 0) {
        traces.push({
          type: "scatter",
          mode: "markers",
          x: [c.alpha[c.best]],
          y: [gap(c.loss[c.best])],
          marker: { size: ms(15), color: c.color, line: { color: "#1f2733", width: 2 } },
          hovertemplate: `${c.label}: chosen α = %{x:.3g}<extra></extra>`,
          meta: { chosen: c.run },
        });
      }
    }
    const layout = {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: 64, r: 12, t: 6, b: 46 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      xaxis: { type: "log", title: { text: "α (learning rate)", standoff: 4 }, exponentformat: "power", showline: true, linecolor: "#8a94a6", gridcolor: "#eef0f4", ticks: "outside" },
      yaxis: { type: "log", automargin: true, title: { text: min != null ? "final f − f*" : "final loss", standoff: 6 }, exponentformat: "power", showline: true, linecolor: "#8a94a6", gridcolor: "#eef0f4", ticks: "outside" },
      showlegend: false,
      hovermode: "closest",
      uirevision: "fair",
    };
    const draw = this.ready ? Plotly.react : Plotly.newPlot;
    const first = !this.ready;
    this.ready = true;
    return draw(this.el, traces, layout, { ...CONFIG, modeBarButtons: [["toImage", "resetScale2d"]] }).then(() => {
      if (first) this.el.on("plotly_click", (event) => this.click(event));
    });
  }

  /** The cell under a click: nearest grid value on each axis. */
  click(event) {
    const point = event?.points?.[0];
    if (!point || !this.result) return;
    const nearest = (axis, v) => {
      const c = this.coords(axis);
      let best = 0;
      for (let k = 1; k < c.length; k++) if (Math.abs(c[k] - v) < Math.abs(c[best] - v)) best = k;
      return best;
    };
    const i = nearest(this.result.x_axis, point.x);
    const j = nearest(this.result.y_axis, point.y);
    this.onPick?.(i, j, this.result);
  }

  clear() {
    if (this.ready) Plotly.purge(this.el);
    this.ready = false;
    this.result = null;
  }

  resize() {
    if (this.ready) return Plotly.Plots.resize(this.el);
  }
}
