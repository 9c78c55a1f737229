// Renderers: small objects with reset / add, drawing with Plotly (a global loaded
// by main.js). The surface's colour is painted once per problem onto a canvas and
// laid under the plot as an image, so streaming a path redraws only lines.

/* global Plotly */

// Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
// Yellow comes last: it vanishes on a projector.
export const PALETTE = ["#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"];
const DASHES = ["solid", "dash", "dot", "dashdot"];

export function runColor(i) {
  return PALETTE[i % PALETTE.length];
}
export function runDash(i) {
  return DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
}

// Light, neutral ground so the coloured paths carry the eye: paper white in the
// valleys, slate on the heights.
const GROUND = [
  [0.0, [253, 252, 248]],
  [0.25, [236, 239, 242]],
  [0.5, [214, 222, 232]],
  [0.75, [182, 196, 214]],
  [1.0, [140, 158, 184]],
];
const PLOTLY_SCALE = GROUND.map(([p, c]) => [p, `rgb(${c.join(",")})`]);

// Type grows with the screen, so a projector at 1920 px is as readable as a laptop.
const FONT = {
  family: "Inter, 'Segoe UI', system-ui, -apple-system, sans-serif",
  size: typeof window !== "undefined" && window.innerWidth >= 1800 ? 17 : 15,
  color: "#1f2733",
};
// Presentation mode scales lines, markers and type for a projector.
export const STYLE = { line: 1, marker: 1 };
const BASE_FONT = FONT.size;

/** Presentation mode on or off: the next reset of every view uses the new sizes. */
export function setPresentation(on) {
  STYLE.line = on ? 1.7 : 1;
  STYLE.marker = on ? 1.5 : 1;
  FONT.size = on ? BASE_FONT + 5 : BASE_FONT;
}
const MODEBAR = { bgcolor: "rgba(255,255,255,0.85)", color: "#8a94a6", activecolor: "#1f2733" };
const lw = (w) => w * STYLE.line;
const ms = (m) => m * STYLE.marker;

const CONFIG = {
  displaylogo: false,
  displayModeBar: true, // always visible: its camera button downloads the chart as a PNG
  modeBarButtons: [["toImage", "zoom2d", "pan2d", "resetScale2d"]],
  responsive: false, // followSize() resizes on any change of the box, not just the window
  scrollZoom: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  toImageButtonOptions: { scale: 2, filename: "descentlab" },
};

const LOSS_CONFIG = { ...CONFIG, modeBarButtons: [["toImage", "resetScale2d"]] };

/** Keep a Plotly graph the size of its box (layout changes, window resizes). */
function followSize(view) {
  let pending = false;
  let last = "";
  const observer = new ResizeObserver((entries) => {
    const box = entries[0].contentRect;
    const key = `${Math.round(box.width)}x${Math.round(box.height)}`;
    if (key === last || pending) return;
    last = key;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fit(3);
    });
  });
  // A redraw racing the resize (a problem switch reshapes the stage while runs
  // arrive) could leave the graph at its old size: check, and resize again.
  const fit = (tries) => {
    if (!view.ready || view.el.offsetParent === null) return;
    Promise.resolve(view.resize())
      .then(() => {
        const full = view.el._fullLayout;
        const off = full && (Math.abs(full.width - view.el.clientWidth) > 2 || Math.abs(full.height - view.el.clientHeight) > 2);
        if (off && tries > 1) requestAnimationFrame(() => fit(tries - 1));
      })
      .catch(() => {});
  };
  observer.observe(view.el);
}

/**
 * Replace the data of some traces in place and redraw only them: a Plotly.animate
 * frame without a transition (axes, images and the other traces are not touched).
 * gd.data[k] holds the new arrays afterwards, as after a restyle.
 *
 * Plotly applies such a frame at once (in this task), but settles animate()'s own
 * promise only a frame or two later; the promise returned here resolves as soon
 * as the traces are redrawn, so the caller can wait for the paint itself.
 */
const NOW = { mode: "immediate", transition: { duration: 0 }, frame: { duration: 0, redraw: false } };
export function replaceInPlace(el, data, traces, layout) {
  const frame = { data, traces };
  if (layout) frame.layout = layout;
  return new Promise((resolve) => {
    const drawn = () => {
      el.removeListener?.("plotly_transitioning", drawn);
      queueMicrotask(resolve); // the traces are redrawn right after this event, synchronously
    };
    el.on("plotly_transitioning", drawn);
    const settled = () => {
      el.removeListener?.("plotly_transitioning", drawn);
      resolve();
    };
    Plotly.animate(el, frame, NOW).then(settled, settled); // rejected when a newer frame replaces it
  });
}

// ---------------------------------------------------------------- numbers

const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

/** A number for people: 0.45, 1e-8 → 10⁻⁸, 3.2×10⁻⁹. */
export function fmtNumber(v, digits = 3) {
  if (v === 0) return "0";
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(digits)));
  const exp = Math.floor(Math.log10(a));
  const mant = Number((v / 10 ** exp).toPrecision(digits));
  const power = "10" + String(exp).replace(/./g, (c) => SUPERSCRIPT[c]);
  return mant === 1 ? power : mant === -1 ? "−" + power : `${mant}×${power}`;
}

function niceStep(range, count) {
  const raw = range / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

// ---------------------------------------------------------------- the ground

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
    const step = niceStep(zmax - zmin, 5);
    for (let f = Math.ceil(zmin / step) * step; f <= zmax + 1e-12; f += step) {
      tickvals.push(fwd(f));
      ticktext.push(fmtNumber(f, 3));
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
    return {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: 56, r: 10, t: 8, b: Math.round(FONT.size * 3.1) },
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
          title: { text: sc.title, side: "top", font: { size: FONT.size - 1 } },
          tickvals: sc.tickvals,
          ticktext: sc.ticktext,
          thickness: 14,
          len: 0.8,
          y: 0.4,
          yanchor: "middle",
          outlinewidth: 0,
          tickfont: { size: FONT.size - 2 },
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
   * Show these runs: [{name, color, dash, start, path: {x, y, loss}}]; `marks` are
   * the diverged runs' ✕ ({i, t, point}) once a run is complete.
   *
   * When only the numbers changed (a slider moved: same runs, steps, style and
   * marks), the paths, heads and start markers are replaced in place by one
   * Plotly.animate without a transition: Plotly recomputes those traces and
   * redraws only them; the axes (fixed ranges), the ground image and the colour
   * bar are left alone. Anything else is one Plotly.react of the whole graph.
   */
  reset(runs, steps, { draft = false, marks = [] } = {}) {
    this.runs = runs;
    this.offset = 2;
    this.steps = steps;
    // A dot per iterate shows the step sizes; while a slider is dragged the
    // paths are drawn as bare lines (half the cost), dots follow when it rests.
    const dots = steps <= 400 && !draft;
    const shape = JSON.stringify([runs.map((r) => [r.color, r.dash]), steps, dots, STYLE.line, STYLE.marker]);
    const marked = JSON.stringify(marks.map(({ i, t, point }) => [i, t, point]));
    if (this.ready && this.drawn && this.drawn.layout === this.layout && this.drawn.shape === shape && this.drawn.marks === marked) {
      return this.update(runs);
    }
    this.dots = dots;
    const diverged = new Map(marks.map((m) => [m.i, m]));
    const traces = this.staticTraces();
    runs.forEach((run, i) => {
      traces.push({
        type: "scatter",
        mode: dots ? "lines+markers" : "lines",
        name: run.name,
        x: run.path.x,
        y: run.path.y,
        customdata: run.path.loss,
        line: { color: run.color, width: lw(3.5), dash: run.dash },
        marker: { size: ms(5), color: run.color },
        hovertemplate: this.hoverTemplate(run),
        meta: { run: i },
      });
    });
    runs.forEach((run, i) => {
      const head = this.head(run);
      const cross = diverged.has(i);
      traces.push({
        type: "scatter",
        mode: "markers",
        ...head,
        marker: cross
          ? { symbol: "x-thin-open", size: 20, color: run.color, line: { color: run.color, width: 4 } }
          : { size: ms(15), color: run.color, line: { color: "#ffffff", width: 2.5 } },
        hoverinfo: "skip",
        showlegend: false,
        meta: { head: i },
      });
    });
    traces.push({
      type: "scatter",
      mode: "markers",
      ...this.starts(runs),
      marker: { symbol: "circle-open", size: ms(13), color: "#1f2733", line: { width: lw(2.5) } },
      hovertemplate: "start (%{x:.3g}, %{y:.3g})<br>click to move, shift-click: selected run only<extra></extra>",
      showlegend: false,
      meta: { role: "start" },
    });
    this.layout.images = this.grid ? [this.groundImage()] : [];
    this.layout.annotations = marks.map(({ i, t, point }) => ({
      x: point[0],
      y: point[1],
      text: `✕ diverged at t=${t}`,
      showarrow: false,
      yshift: 16,
      font: { color: runs[i]?.color || "#b00", size: FONT.size },
      bgcolor: "rgba(255,255,255,0.85)",
    }));
    // A new problem (or presentation mode) gets a fresh plot: Plotly.react kept the
    // old x range under scaleanchor when the bounds changed (Rosenbrock drawn at x ∈ [−5, 5]).
    const draw = this.ready && this.drawn?.layout === this.layout ? Plotly.react : Plotly.newPlot;
    this.ready = true;
    this.drawn = { layout: this.layout, shape, marks: marked };
    return draw(this.el, traces, this.layout, CONFIG).then(() => this.fitGround());
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

  /** New numbers for the same traces: replaced in place, only these traces redrawn. */
  update(runs) {
    const n = runs.length;
    const traces = [];
    const data = [];
    runs.forEach((run, i) => {
      traces.push(this.offset + i);
      data.push({ x: run.path.x, y: run.path.y, customdata: run.path.loss, name: run.name, hovertemplate: this.hoverTemplate(run) });
    });
    runs.forEach((run, i) => {
      traces.push(this.offset + n + i);
      data.push(this.head(run));
    });
    traces.push(this.offset + 2 * n);
    data.push(this.starts(runs));
    return replaceInPlace(this.el, data, traces);
  }

  /** Put the dots back after a drag. */
  undraft() {
    if (!this.ready || this.dots || this.steps > 400) return Promise.resolve();
    this.dots = true;
    if (this.drawn) this.drawn.shape = null; // the next reset lays the graph out again
    const indices = this.runs.map((_, i) => this.offset + i);
    return Plotly.restyle(this.el, { mode: "lines+markers" }, indices);
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
      indices.push(this.offset + i, this.offset + n + i);
      update.x.push(slice.x, [slice.x[slice.x.length - 1]]);
      update.y.push(slice.y, [slice.y[slice.y.length - 1]]);
      update.customdata.push(slice.loss, [0]);
      for (const key of ["x", "y", "customdata"]) maxPoints[key].push(1e7, 1);
    });
    if (!indices.length) return Promise.resolve();
    return Plotly.extendTraces(this.el, update, indices, maxPoints);
  }

  /** Mark the runs that diverged (a ✕ at the last finite point and a note), if not marked yet. */
  markDiverged(marks) {
    const marked = JSON.stringify(marks.map(({ i, t, point }) => [i, t, point]));
    if (!this.ready || this.drawn?.marks === marked) return Promise.resolve();
    if (this.drawn) this.drawn.marks = marked;
    const annotations = marks.map(({ i, t, point }) => ({
      x: point[0],
      y: point[1],
      text: `✕ diverged at t=${t}`,
      showarrow: false,
      yshift: 16,
      font: { color: this.runs[i]?.color || "#b00", size: FONT.size },
      bgcolor: "rgba(255,255,255,0.85)",
    }));
    const heads = marks.map(({ i }) => this.offset + this.runs.length + i);
    const ops = [Plotly.relayout(this.el, { annotations })];
    if (heads.length) ops.push(Plotly.restyle(this.el, { "marker.symbol": "x-thin-open", "marker.size": 20, "marker.line.width": 4, "marker.line.color": heads.map((h) => this.el.data[h].marker.color) }, heads));
    return Promise.all(ops);
  }

  resize() {
    if (!this.ready) return;
    return Plotly.Plots.resize(this.el).then(() => this.fitGround());
  }
}

// ---------------------------------------------------------------- the surface (3-D)

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

  reset(runs) {
    this.runs = runs;
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
    runs.forEach((run, i) => {
      const lifted = this.lift(run.path);
      traces.push({
        type: "scatter3d",
        mode: "lines",
        name: run.name,
        ...lifted,
        line: { color: run.color, width: lw(7) },
        hovertemplate: `<b>${run.name}</b><br>t = %{pointNumber}<extra></extra>`,
        meta: { run3d: i },
      });
    });
    runs.forEach((run, i) => {
      const n = run.path.x.length;
      const last = this.lift({ x: run.path.x.slice(n - 1), y: run.path.y.slice(n - 1), loss: run.path.loss.slice(n - 1) });
      traces.push({
        type: "scatter3d",
        mode: "markers",
        ...last,
        marker: { size: ms(6), color: run.color, line: { color: "#fff", width: 2 } },
        hoverinfo: "skip",
        meta: { head3d: i },
      });
    });
    const axis = (title, range) => ({ title: { text: title }, range, autorange: false, backgroundcolor: "#fdfcf8", gridcolor: "#d8dde5", showspikes: false });
    const pad = (sc.tmax - sc.tmin) * 0.05;
    const layout = {
      font: FONT,
      modebar: MODEBAR,
      margin: { l: 0, r: 0, t: 0, b: 0 },
      paper_bgcolor: "rgba(0,0,0,0)",
      showlegend: false,
      scene: {
        xaxis: axis(this.problem.axes[0], this.problem.bounds.x),
        yaxis: axis(this.problem.axes[1], this.problem.bounds.y),
        zaxis: { ...axis(sc.log ? "log₁₀(f − f*)" : "√(f − f*)", [sc.tmin - pad, sc.tmax + pad]), showticklabels: false },
        aspectmode: "manual",
        aspectratio: { x: 1.4, y: 1.4 * Math.min(1, (this.problem.bounds.y[1] - this.problem.bounds.y[0]) / (this.problem.bounds.x[1] - this.problem.bounds.x[0]) * 1.5), z: 0.7 },
        camera: { eye: { x: -1.3, y: -1.5, z: 1.1 } },
      },
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
      indices.push(1 + i, 1 + n + i);
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

// ---------------------------------------------------------------- loss against update

/**
 * #loss-plot: one trace per run (meta.run = i), log y when the losses span decades.
 * On a regression the x-axis may count epochs (run.per = updates per epoch) so
 * batch sizes compare at equal work; ◆ marks where a run converged.
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
    if (final) traces.push(...this.diamonds(runs, final.converged || []));
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

  /** ◆ where each converged run converged (meta.converged = i). */
  diamonds(runs, converged) {
    return converged.map(({ i, t, loss }) => ({
      type: "scatter",
      mode: "markers",
      x: [this.xOf(i, t)],
      y: [loss],
      marker: { symbol: "diamond", size: ms(13), color: runs[i].color, line: { color: "#ffffff", width: 2 } },
      hovertemplate: `converged at t = ${t}<extra></extra>`,
      showlegend: false,
      meta: { converged: i },
    }));
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
   * Every point is in: re-check the axis type, mark diverged runs (✕ note) and
   * converged ones (◆ at the update they converged, meta.converged = i), in one
   * Plotly.react. Nothing to do when reset() already drew them.
   */
  finish(runs, marks, converged = []) {
    return this.reset(runs, this.steps, { marks, converged });
  }

  resize() {
    if (this.ready) return Plotly.Plots.resize(this.el);
  }
}

// ---------------------------------------------------------------- regression data

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

  reset(problem, data, runs) {
    this.logistic = problem.name.includes("logistic");
    this.runs = runs;
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
    runs.forEach((run, i) => {
      const n = run.path.x.length;
      traces.push({
        type: "scatter",
        mode: "lines",
        x: this.xs,
        y: n ? this.model(run.path.x[n - 1], run.path.y[n - 1]) : [],
        line: { color: run.color, width: lw(3.5), dash: run.dash },
        name: run.short,
        hovertemplate: `${run.short}<extra></extra>`,
        meta: { model: i },
      });
    });
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
      indices.push(this.offset + i);
      ys.push(this.model(p[0], p[1]));
    });
    if (!indices.length) return Promise.resolve();
    return Plotly.restyle(this.el, { y: ys }, indices);
  }

  resize() {
    if (this.ready) return Plotly.Plots.resize(this.el);
  }
}

// ---------------------------------------------------------------- sweeps

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
