// #surface-plot: the 2-D view of the loss surface. Its colour is painted once per
// problem onto a canvas and laid under the plot as an image (the ground), so
// streaming a path redraws only lines.
/* global Plotly */

import { CONFIG, FONT, MODEBAR, OVERLAY_MAX, STYLE, fmtNumber, followSize, labelOffsets, lw, ms, replaceInPlace } from "./plots.js";
import { nestedWidths } from "./overlap.js";
import { ARROWS } from "./anatomy.js";

// ---------------------------------------------------------------- the ground

// Light, neutral ground so the coloured paths carry the eye: paper white in the
// valleys, slate on the heights.
const GROUND = [
  [0.0, [253, 252, 248]],
  [0.25, [236, 239, 242]],
  [0.5, [214, 222, 232]],
  [0.75, [182, 196, 214]],
  [1.0, [140, 158, 184]],
];
export const PLOTLY_SCALE = GROUND.map(([p, c]) => [p, `rgb(${c.join(",")})`]);

/**
 * How loss maps to colour: a log scale of f − f* when the problem asks for it
 * (heights spanning decades), else a square-root scale, which spaces the
 * contours of a quadratic evenly. Both are labelled with real loss values.
 */
export function groundScale(problem, grid, minLoss) {
  let zmin = Infinity;
  let zmax = -Infinity;
  for (const row of grid.z) {
    for (const v of row) {
      if (v < zmin) zmin = v;
      if (v > zmax) zmax = v;
    }
  }
  let base = Math.min(zmin, problem.min_value ?? Infinity, minLoss ?? Infinity);
  const range = Math.max(zmax - base, 1e-12);
  const log = !!problem.log_color;
  const delta = Math.max(range * 1e-7, 1e-12);
  const fwd = log ? (f) => Math.log10(Math.max(f - base, 0) + delta) : (f) => Math.sqrt(Math.max(f - base, 0));
  const inv = log ? (t) => base + 10 ** t - delta : (t) => base + t * t;
  const tmin = fwd(zmin);
  const tmax = fwd(zmax);
  const bands = log ? Math.max(8, Math.min(24, Math.round((tmax - tmin) * 2))) : 14;
  const relative = problem.min_value != null || minLoss != null;
  let tickvals = [];
  let ticktext = [];
  if (log) {
    for (let k = Math.ceil(tmin); k <= Math.floor(tmax); k++) {
      tickvals.push(k);
      ticktext.push(fmtNumber(10 ** k, 2));
    }
  } else {
    // Evenly spaced on the bar (in √, where 2, 4, 6, 8, 10 would crowd at the top):
    // values near tmin … tmax in four steps, to one significant digit.
    for (let k = 0; k <= 4; k++) {
      const v = inv(tmin + ((tmax - tmin) * k) / 4);
      const f = Math.abs(v) < range * 1e-3 ? 0 : Number(v.toPrecision(1));
      const at = fwd(f);
      if (at >= tmin - 1e-9 && at <= tmax + 1e-9 && !ticktext.includes(fmtNumber(f, 2))) {
        tickvals.push(at);
        ticktext.push(fmtNumber(f, 2));
      }
    }
  }
  const title = log
    ? relative
      ? "f − f*<br><span style='font-size:12px'>log scale</span>"
      : "f − min<br><span style='font-size:12px'>log scale</span>"
    : "loss f<br><span style='font-size:12px'>√ scale</span>";
  return { log, base, fwd, inv, tmin, tmax, bands, tickvals, ticktext, title, zmin, zmax };
}

function groundColor(s) {
  for (let k = 1; k < GROUND.length; k++) {
    const [p1, c1] = GROUND[k];
    if (s <= p1 || k === GROUND.length - 1) {
      const [p0, c0] = GROUND[k - 1];
      const u = Math.min(1, Math.max(0, (s - p0) / (p1 - p0)));
      return [c0[0] + u * (c1[0] - c0[0]), c0[1] + u * (c1[1] - c0[1]), c0[2] + u * (c1[2] - c0[2])];
    }
  }
  return GROUND[0][1];
}

/**
 * Paint filled contour bands with anti-aliased level lines onto a canvas and
 * return it as a PNG data URL. `width` × `height` pixels cover the grid's box.
 */
export function paintGround(grid, scale, width, height) {
  const nx = grid.x.length;
  const ny = grid.y.length;
  const span = scale.tmax - scale.tmin || 1;
  const norm = new Float32Array(nx * ny);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) norm[j * nx + i] = (scale.fwd(grid.z[j][i]) - scale.tmin) / span;
  }
  const s = new Float32Array(width * height);
  for (let py = 0; py < height; py++) {
    const v = (1 - py / (height - 1)) * (ny - 1);
    const j0 = Math.min(ny - 2, Math.floor(v));
    const fv = v - j0;
    for (let px = 0; px < width; px++) {
      const u = (px / (width - 1)) * (nx - 1);
      const i0 = Math.min(nx - 2, Math.floor(u));
      const fu = u - i0;
      const a = norm[j0 * nx + i0];
      const b = norm[j0 * nx + i0 + 1];
      const c = norm[(j0 + 1) * nx + i0];
      const d = norm[(j0 + 1) * nx + i0 + 1];
      s[py * width + px] = (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv;
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(width, height);
  const px = image.data;
  const bands = scale.bands;
  const palette = [];
  for (let k = 0; k < bands; k++) palette.push(groundColor((k + 0.5) / bands));
  const lineWidth = Math.max(1, Math.round(width / 900));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * width + x;
      const q = s[at] * bands;
      const band = Math.min(bands - 1, Math.max(0, Math.floor(q)));
      const [r, g, b] = palette[band];
      // Distance to the nearest level in pixels, from the local slope of q.
      const gx = (x + 1 < width ? s[at + 1] : s[at]) - (x > 0 ? s[at - 1] : s[at]);
      const gy = (y + 1 < height ? s[at + width] : s[at]) - (y > 0 ? s[at - width] : s[at]);
      const slope = (Math.hypot(gx, gy) * bands) / 2 + 1e-9;
      const dist = Math.abs(q - Math.round(q)) / slope;
      const ink = Math.max(0, Math.min(1, lineWidth - dist)) * 0.32;
      const o = at * 4;
      px[o] = r * (1 - ink) + 60 * ink;
      px[o + 1] = g * (1 - ink) + 72 * ink;
      px[o + 2] = b * (1 - ink) + 96 * ink;
      px[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas.toDataURL("image/png");
}

/** Bilinear loss at (x, y) from the grid, or null outside it. */
export function lossAt(grid, x, y) {
  const nx = grid.x.length;
  const ny = grid.y.length;
  const u = ((x - grid.x[0]) / (grid.x[nx - 1] - grid.x[0])) * (nx - 1);
  const v = ((y - grid.y[0]) / (grid.y[ny - 1] - grid.y[0])) * (ny - 1);
  if (!(u >= 0 && u <= nx - 1 && v >= 0 && v <= ny - 1)) return null;
  const i0 = Math.min(nx - 2, Math.floor(u));
  const j0 = Math.min(ny - 2, Math.floor(v));
  const fu = u - i0;
  const fv = v - j0;
  const z = grid.z;
  return (
    (z[j0][i0] * (1 - fu) + z[j0][i0 + 1] * fu) * (1 - fv) + (z[j0 + 1][i0] * (1 - fu) + z[j0 + 1][i0 + 1] * fu) * fv
  );
}

// ---------------------------------------------------------------- the surface (2-D)

const NARROW = 560; // px: under this the colour bar goes under the axes
// The step anatomy's traces (anatomy.js), last on the graph and in this order: the
// cloud under the rest, the step over the terms it is the sum of.
const ANATOMY_LAYER = ["cloud", "full", "velocity", "decay", "gradient", "step", "lookahead"];
// Students' runs over a class's scene: ink, told apart by their dash and the rank at their end.
const OVERLAY_DASHES = ["solid", "dash", "dot", "dashdot", "longdash"];
const OVERLAY_SLOTS = [...Array(OVERLAY_MAX).keys()];

/**
 * #surface-plot: the ground as an image, then per run a trajectory (meta.run = i,
 * x/y = the path), a marker at its current point and, if it diverged, a ✕.
 */
export class SurfaceView {
  constructor(el, { onPick, onHover }) {
    this.el = el;
    this.onPick = onPick;
    this.onHover = onHover;
    this.runs = [];
    this.ready = false;
    this.groundKey = null;
    followSize(this);
    el.addEventListener("click", (event) => this.click(event));
    el.addEventListener("mousemove", (event) => this.hover(event));
    el.addEventListener("mouseleave", () => this.onHover?.(null));
  }

  /** Data coordinates under a mouse event, or null outside the plot area. */
  toData(event) {
    const full = this.el._fullLayout;
    if (!full?.xaxis) return null;
    const box = this.el.getBoundingClientRect();
    const px = event.clientX - box.left - full.xaxis._offset;
    const py = event.clientY - box.top - full.yaxis._offset;
    if (px < 0 || py < 0 || px > full.xaxis._length || py > full.yaxis._length) return null;
    return [full.xaxis.p2d(px), full.yaxis.p2d(py)];
  }

  click(event) {
    if (event.target.closest?.(".modebar, .legend")) return;
    const point = this.toData(event);
    if (point) this.onPick?.(point, event.shiftKey);
  }

  hover(event) {
    if (!this.grid) return;
    const point = this.toData(event);
    this.onHover?.(point && { point, loss: lossAt(this.grid, point[0], point[1]) });
  }

  /** A new problem or dataset: repaint the ground and lay out the axes. */
  setProblem(problem, grid, minima, minLoss) {
    this.problem = problem;
    this.grid = grid;
    this.minima = minima;
    this.scale = groundScale(problem, grid, minLoss);
    this.groundKey = null;
    this.layout = this.baseLayout();
  }

  baseLayout() {
    const p = this.problem;
    const [x0, x1] = p.bounds.x;
    const [y0, y1] = p.bounds.y;
    const axis = (title, range) => ({
      title: { text: title, standoff: 6, font: { size: FONT.size + 2 } },
      range,
      showgrid: false,
      zeroline: false,
      ticks: "outside",
      ticklen: 5,
      showline: true,
      linecolor: "#8a94a6",
      mirror: true,
      constrain: "domain",
    });
    // A narrow plot (a phone) lays its colour bar under the axes, so the map keeps the width.
    this.narrow = this.el.clientWidth > 0 && this.el.clientWidth < NARROW;
    return {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: this.narrow ? 44 : 56, r: 10, t: 8, b: Math.round(FONT.size * 3.1) + (this.narrow ? 46 : 0) },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#fdfcf8",
      xaxis: axis(p.axes[0], [x0, x1]),
      yaxis: { ...axis(p.axes[1], [y0, y1]), scaleanchor: "x", scaleratio: 1 },
      showlegend: false,
      hovermode: "closest",
      hoverlabel: { font: { size: FONT.size, family: FONT.family } },
      dragmode: "zoom",
      images: [],
      uirevision: p.name,
    };
  }

  groundImage() {
    const p = this.problem;
    const size = this.el._fullLayout?._size;
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    const w = Math.max(200, Math.round((size?.w || 800) * ratio));
    const h = Math.max(150, Math.round((size?.h || 500) * ratio));
    const key = `${p.name}|${w}|${h}|${this.grid.z.length}`;
    if (key !== this.groundKey || !this.groundSource) {
      this.groundSource = paintGround(this.grid, this.scale, w, h);
      this.groundKey = key;
    }
    return {
      source: this.groundSource,
      xref: "x",
      yref: "y",
      x: p.bounds.x[0],
      y: p.bounds.y[1],
      sizex: p.bounds.x[1] - p.bounds.x[0],
      sizey: p.bounds.y[1] - p.bounds.y[0],
      xanchor: "left",
      yanchor: "top",
      sizing: "stretch",
      layer: "below",
    };
  }

  staticTraces() {
    const sc = this.scale;
    // Under the map the bar is short: every other decade at most, so labels do not run together.
    const every = this.narrow ? Math.ceil(sc.tickvals.length / 5) : 1;
    const tickvals = sc.tickvals.filter((_, k) => k % every === 0);
    const ticktext = sc.ticktext.filter((_, k) => k % every === 0);
    const colorbar = {
      type: "scatter",
      mode: "markers",
      x: [null],
      y: [null],
      hoverinfo: "skip",
      showlegend: false,
      marker: {
        color: [sc.tmin],
        cmin: sc.tmin,
        cmax: sc.tmax,
        colorscale: PLOTLY_SCALE,
        showscale: true,
        colorbar: {
          title: { text: this.narrow ? sc.title.replace("<br>", " ") : sc.title, side: this.narrow ? "right" : "top", font: { size: FONT.size - 1 } },
          tickvals,
          ticktext,
          thickness: this.narrow ? 10 : 14,
          outlinewidth: 0,
          tickfont: { size: FONT.size - 2 },
          tickangle: 0,
          ...(this.narrow
            ? { orientation: "h", len: 0.55, x: 0, xanchor: "left", yref: "container", y: 0, yanchor: "bottom", ypad: 6 }
            : { len: 0.8, y: 0.4, yanchor: "middle" }),
        },
      },
      meta: { role: "colorbar" },
    };
    const minima = {
      type: "scatter",
      mode: "markers",
      x: this.minima.map((m) => m[0]),
      y: this.minima.map((m) => m[1]),
      marker: { symbol: "star", size: ms(17), color: "#ffffff", line: { color: "#1f2733", width: 2 } },
      hovertemplate: "minimum<br>(%{x:.3f}, %{y:.3f})<extra></extra>",
      showlegend: false,
      meta: { role: "minima" },
    };
    return [colorbar, minima];
  }

  /**
   * Show these runs: [{name, color, dash, start, hidden, selected, path: {x, y, loss}}];
   * `marks` are the diverged runs' ✕ ({i, t, point}) once a run is complete, `order`
   * the drawing order (the selected run last, on top), `whole` says every point of
   * a finished run is here (coinciding paths are then nested: overlap.js), `notes`
   * the open lesson's marks ({run, t, text}).
   *
   * When only the numbers changed (a slider moved: same runs, steps, style, order
   * and marks), the paths and heads of the runs in `changed` (every run, unless
   * given), and the start markers if they moved, are replaced in place by one
   * Plotly.animate without a transition: Plotly recomputes those traces and
   * redraws only them; the axes (fixed ranges), the ground image, the colour bar and
   * the other runs are left alone. Anything else is one Plotly.react of the whole graph.
   */
  reset(runs, steps, options = {}) {
    const { draft = false, marks = [], order = runs.map((_, i) => i), whole = false, notes = [], changed } = options;
    this.options = options;
    this.runs = runs;
    this.offset = 2;
    this.steps = steps;
    this.order = order;
    this.slot = [];
    order.forEach((i, k) => (this.slot[i] = k));
    this.notes = notes;
    this.pendingNest = whole && draft; // done when the slider rests (undraft)
    // A dot per iterate shows the step sizes (not on long runs, where they merge into
    // the line). They stay while a slider is dragged: taking them off and putting them
    // back would redraw every path twice a move, where the drag redraws only its run's.
    const dots = steps <= 400;
    const shape = JSON.stringify([runs.map((r) => [r.color, r.dash, r.hidden, r.selected]), order, steps, dots, STYLE.line, STYLE.marker]);
    const marked = JSON.stringify([marks.map(({ i, t, point }) => [i, t, point]), this.noteKey(runs, notes)]);
    if (this.ready && this.drawn && this.drawn.layout === this.layout && this.drawn.shape === shape && this.drawn.marks === marked) {
      // Nesting costs a few ms on long runs: while a slider is dragged it waits for the rest.
      return this.update(runs, changed).then(() => whole && !draft && this.nest(runs));
    }
    this.dots = dots;
    this.widths = this.widthsOf(runs, whole && !draft);
    const diverged = new Map(marks.map((m) => [m.i, m]));
    const traces = this.staticTraces();
    for (const i of order) {
      const run = runs[i];
      traces.push({
        type: "scatter",
        mode: dots ? "lines+markers" : "lines",
        name: run.name,
        x: run.path.x,
        y: run.path.y,
        customdata: run.path.loss,
        line: { color: run.color, width: this.widths[i], dash: run.dash },
        marker: { size: ms(run.selected ? 6 : 5), color: run.color },
        hovertemplate: this.hoverTemplate(run),
        visible: run.hidden ? "legendonly" : true,
        meta: { run: i },
      });
    }
    for (const i of order) {
      const run = runs[i];
      const cross = diverged.has(i);
      traces.push({
        type: "scatter",
        mode: "markers",
        ...this.head(run),
        marker: cross
          ? { symbol: "x-thin-open", size: 20, color: run.color, line: { color: run.color, width: 4 } }
          : { size: ms(run.selected ? 18 : 15), color: run.color, line: { color: "#ffffff", width: 2.5 } },
        hoverinfo: "skip",
        showlegend: false,
        visible: run.hidden ? "legendonly" : true,
        meta: { head: i },
      });
    }
    traces.push({
      type: "scatter",
      mode: "markers",
      ...this.starts(runs),
      marker: { symbol: "circle-open", size: ms(13), color: "#1f2733", line: { width: lw(2.5) } },
      hovertemplate: "start (%{x:.3g}, %{y:.3g})<br>click to move, shift-click: selected run only<extra></extra>",
      showlegend: false,
      meta: { role: "start" },
    });
    traces.push(this.noteTrace(runs, notes));
    this.anatomyAt = traces.length;
    traces.push(...ANATOMY_LAYER.map((role) => this.anatomyTrace(role, this.anatomy)));
    // What this draw shows of the anatomy: showAnatomy leaves it alone until it changes
    // (an in-place update of the layer right after a whole redraw lost the paths).
    this.anatomyKey = JSON.stringify(this.anatomy ?? null);
    this.overlayAt = traces.length;
    traces.push(...OVERLAY_SLOTS.map((k) => this.overlayTrace(k, this.overlay?.[k])));
    this.layout.images = this.grid ? [this.groundImage()] : [];
    this.layout.annotations = this.annotations(runs, marks, notes);
    // A new problem (or presentation mode) gets a fresh plot: Plotly.react kept the
    // old x range under scaleanchor when the bounds changed (Rosenbrock drawn at x ∈ [−5, 5]).
    const draw = this.ready && this.drawn?.layout === this.layout ? Plotly.react : Plotly.newPlot;
    this.ready = true;
    this.drawn = { layout: this.layout, shape, marks: marked, starts: JSON.stringify(this.starts(runs)) };
    return draw(this.el, traces, this.layout, CONFIG).then(() => this.fitGround());
  }

  /** Each run's line width: the selected one thicker; coinciding ones nested once a run is whole. */
  widthsOf(runs, whole) {
    const own = runs.map((run) => lw(run.selected ? 5 : 3.5));
    if (!whole) return own;
    const paths = runs.map((run) => (run.hidden ? null : run.path));
    return nestedWidths(paths, this.order, this.problem.bounds, own, lw(1.3), runs.map((run) => !run.noisy));
  }

  /** A run is whole: widen the paths other paths cover (one restyle, only when a width changed). */
  nest(runs) {
    if (!this.ready || !this.order || runs.length !== this.order.length) return Promise.resolve();
    const widths = this.widthsOf(runs, true);
    if (this.widths && widths.every((w, i) => w === this.widths[i])) return Promise.resolve();
    this.widths = widths;
    return Plotly.restyle(this.el, { "line.width": this.order.map((i) => widths[i]) }, this.order.map((i) => this.offset + this.slot[i]));
  }

  /** The lesson's marks that fall within the points shown: where on each path. */
  notePoints(runs, notes) {
    return notes
      .filter((n) => runs[n.run] && !runs[n.run].hidden && n.t < runs[n.run].path.x.length)
      .map((n) => ({ ...n, x: runs[n.run].path.x[n.t], y: runs[n.run].path.y[n.t], color: runs[n.run].color }));
  }

  noteKey(runs, notes) {
    return this.notePoints(runs, notes).map((n) => [n.run, n.t]);
  }

  /** The lesson's marks as dots on the paths (meta.role = "lesson-mark"). */
  noteTrace(runs, notes) {
    const points = this.notePoints(runs, notes);
    return {
      type: "scatter",
      mode: "markers",
      x: points.map((p) => p.x),
      y: points.map((p) => p.y),
      customdata: points.map((p) => p.text),
      marker: { symbol: "diamond", size: ms(13), color: points.map((p) => p.color), line: { color: "#1f2733", width: 1.5 } },
      hovertemplate: "%{customdata}<extra></extra>",
      showlegend: false,
      meta: { role: "lesson-mark" },
    };
  }

  /**
   * One trace of the step anatomy (meta: anatomy = its role, t the update, of the run,
   * factor the magnification):
   * arrows as line segments with an arrowhead at their end, or Nesterov's look-ahead
   * point; empty when `shown` (anatomy.js's layer, or null) has none.
   */
  anatomyTrace(role, shown) {
    const color = ARROWS[role].color ?? shown?.color ?? "#1f2733";
    const meta = { anatomy: role, t: shown?.t ?? null, of: shown?.run ?? null, factor: shown?.factor ?? null };
    if (role === "lookahead") {
      const p = shown?.lookahead;
      return {
        type: "scatter",
        mode: "markers",
        x: p ? [p[0]] : [],
        y: p ? [p[1]] : [],
        marker: { symbol: "diamond-open", size: ms(15), color, line: { color, width: lw(2.5) } },
        hovertemplate: "look-ahead point<br>(%{x:.4g}, %{y:.4g})<extra></extra>",
        showlegend: false,
        meta,
      };
    }
    const arrows = !shown ? [] : role === "cloud" ? shown.cloud : shown[role] ? [shown[role]] : [];
    const thin = role === "cloud";
    const x = [];
    const y = [];
    const size = [];
    for (const [p, q] of arrows) {
      x.push(p[0], q[0], null);
      y.push(p[1], q[1], null);
      size.push(0, ms(thin ? 8 : 13), 0);
    }
    return {
      type: "scatter",
      mode: "lines+markers",
      x,
      y,
      line: { color, width: lw(thin ? 1.2 : role === "step" ? 3.5 : 2.5), dash: role === "full" ? "dash" : "solid" },
      marker: { symbol: "arrow", angleref: "previous", size, color, line: { width: 0 } },
      hoverinfo: "skip",
      showlegend: false,
      meta,
    };
  }

  /** Draw the step anatomy `shown` (anatomy.js's layer, or null for none): those traces only. */
  showAnatomy(shown) {
    const key = JSON.stringify(shown ?? null);
    if (key === this.anatomyKey) return Promise.resolve();
    this.anatomyKey = key;
    this.anatomy = shown;
    if (!this.ready || this.anatomyAt == null) return Promise.resolve();
    const traces = ANATOMY_LAYER.map((role) => this.anatomyTrace(role, shown));
    return replaceInPlace(this.el, traces, traces.map((_, k) => this.anatomyAt + k));
  }

  /**
   * Slot k of the students' runs drawn over a class's scene (meta: overlay = k, rank,
   * student): the path in ink with its rank in a disc at its end; empty without one.
   * The names are in the page's key (HTML text), never in the graph.
   */
  overlayTrace(k, run) {
    const n = run?.x.length ?? 0;
    return {
      type: "scatter",
      mode: "lines+markers+text",
      x: run?.x ?? [],
      y: run?.y ?? [],
      line: { color: "#1f2733", width: lw(2.5), dash: OVERLAY_DASHES[k] },
      marker: { size: Array.from({ length: n }, (_, j) => (j === n - 1 ? ms(20) : 0)), color: "#1f2733", line: { color: "#ffffff", width: 1.5 } },
      text: Array.from({ length: n }, (_, j) => (j === n - 1 ? String(run.rank) : "")),
      textfont: { color: "#ffffff", size: FONT.size, family: FONT.family },
      textposition: "middle center",
      hoverinfo: "skip",
      showlegend: false,
      meta: { overlay: k, rank: run?.rank ?? null, student: run?.student ?? null },
    };
  }

  /** The students' runs `runs` ([{x, y, rank, student}], at most OVERLAY_MAX) to draw over the scene. */
  setOverlay(runs) {
    this.overlay = runs;
    // Drawn by the next reset, as a whole redraw: an in-place update queued now could
    // land after a redraw with fewer traces and address traces that are gone.
    if (this.drawn) this.drawn = { ...this.drawn, shape: null };
  }


  /** "✕ diverged at t" beside each diverged run's last point; the lesson's marks labelled. */
  annotations(runs, marks, notes) {
    const diverged = marks.map(({ i, t, point }) => ({
      x: point[0],
      y: point[1],
      text: `✕ diverged at t=${t}`,
      showarrow: false,
      yshift: 16,
      font: { color: runs[i]?.color || "#b00", size: FONT.size },
      bgcolor: "rgba(255,255,255,0.85)",
    }));
    const points = this.notePoints(runs, notes);
    const ay = labelOffsets(points);
    const lesson = points.map((n, k) => ({
      x: n.x,
      y: n.y,
      text: n.text,
      showarrow: true,
      arrowhead: 0,
      arrowcolor: n.color,
      ax: 0,
      ay: ay[k],
      font: { color: "#1f2733", size: FONT.size - 1 },
      bgcolor: "rgba(255,255,255,0.9)",
      bordercolor: n.color,
      borderwidth: 1.5,
      borderpad: 2,
    }));
    return [...diverged, ...lesson];
  }

  hoverTemplate(run) {
    return `<b>${run.name}</b><br>t = %{pointNumber}<br>(%{x:.4g}, %{y:.4g})<br>loss %{customdata:.4g}<extra></extra>`;
  }

  /** The current point of a run, as trace data. */
  head(run) {
    const n = run.path.x.length;
    return { x: n ? [run.path.x[n - 1]] : [], y: n ? [run.path.y[n - 1]] : [], customdata: n ? [0] : [] };
  }

  /** The start markers (one per distinct start). */
  starts(runs) {
    const starts = new Map();
    runs.forEach((run) => starts.set(run.start.join(","), run.start));
    return { x: [...starts.values()].map((s) => s[0]), y: [...starts.values()].map((s) => s[1]) };
  }

  /** New numbers for the same traces: the runs in `changed` replaced in place, only they redrawn. */
  update(runs, changed = runs.map((_, i) => i)) {
    const n = runs.length;
    const traces = [];
    const data = [];
    for (const i of changed) {
      const run = runs[i];
      traces.push(this.offset + this.slot[i], this.offset + n + this.slot[i]);
      data.push({ x: run.path.x, y: run.path.y, customdata: run.path.loss, name: run.name, hovertemplate: this.hoverTemplate(run) }, this.head(run));
    }
    const starts = this.starts(runs);
    const key = JSON.stringify(starts);
    if (key !== this.drawn.starts) {
      this.drawn.starts = key;
      traces.push(this.offset + 2 * n);
      data.push(starts);
    }
    return traces.length ? replaceInPlace(this.el, data, traces) : Promise.resolve();
  }

  /** A drag ended: nest the paths again. */
  undraft() {
    if (!this.ready || !this.pendingNest) return Promise.resolve();
    this.pendingNest = false;
    return this.nest(this.runs);
  }

  /** The ground image was painted for another size: repaint it crisp. */
  fitGround() {
    if (!this.grid) return;
    const image = this.groundImage();
    if (this.el.layout.images?.[0]?.source !== image.source) {
      return Plotly.relayout(this.el, { images: [image] });
    }
  }

  /** Append points: slices[i] = {x, y, loss} (may be empty). */
  add(slices) {
    const n = this.runs.length;
    const update = { x: [], y: [], customdata: [] };
    const indices = [];
    const maxPoints = { x: [], y: [], customdata: [] };
    slices.forEach((slice, i) => {
      if (!slice.x.length) return;
      indices.push(this.offset + this.slot[i], this.offset + n + this.slot[i]);
      update.x.push(slice.x, [slice.x[slice.x.length - 1]]);
      update.y.push(slice.y, [slice.y[slice.y.length - 1]]);
      update.customdata.push(slice.loss, [0]);
      for (const key of ["x", "y", "customdata"]) maxPoints[key].push(1e7, 1);
    });
    if (!indices.length) return Promise.resolve();
    return Plotly.extendTraces(this.el, update, indices, maxPoints);
  }

  /** Mark the runs that diverged (a ✕ at the last finite point and a note) and the lesson's marks, if not marked yet. */
  markDiverged(marks, runs = this.runs) {
    const notes = this.notes || [];
    const marked = JSON.stringify([marks.map(({ i, t, point }) => [i, t, point]), this.noteKey(runs, notes)]);
    if (!this.ready || this.drawn?.marks === marked) return Promise.resolve();
    if (this.drawn) this.drawn.marks = marked;
    const heads = marks.map(({ i }) => this.offset + this.runs.length + this.slot[i]);
    const noteIndex = this.offset + 2 * this.runs.length + 1;
    const note = this.noteTrace(runs, notes);
    const ops = [
      Plotly.relayout(this.el, { annotations: this.annotations(runs, marks, notes) }),
      Plotly.restyle(this.el, { x: [note.x], y: [note.y], customdata: [note.customdata], "marker.color": [note.marker.color] }, [noteIndex]),
    ];
    if (heads.length) ops.push(Plotly.restyle(this.el, { "marker.symbol": "x-thin-open", "marker.size": 20, "marker.line.width": 4, "marker.line.color": heads.map((h) => this.el.data[h].marker.color) }, heads));
    return Promise.all(ops);
  }

  resize() {
    if (!this.ready) return;
    const narrow = this.el.clientWidth < NARROW;
    if (narrow !== this.narrow && this.problem && this.runs) {
      // Across the narrow threshold the colour bar moves: lay the graph out again.
      this.layout = this.baseLayout();
      return this.reset(this.runs, this.steps, this.options);
    }
    return Plotly.Plots.resize(this.el).then(() => this.fitGround());
  }
}
