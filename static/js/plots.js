// What every Plotly view shares: the run colours, type and line sizes (and
// presentation mode, which scales them), the mode bar, keeping a graph the size
// of its box, an in-place redraw, and numbers for people. The views themselves
// are small objects with reset / add, one a module: surfaceplot.js (#surface-plot
// and the ground painter), surface3d.js, lossplot.js, dataplot.js, sweepplot.js.
// Plotly is a global, loaded by stage.js after the first paint.

/* global Plotly */

// Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
// Yellow comes last: it vanishes on a projector.
export const PALETTE = ["#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"];
const DASHES = ["solid", "dash", "dot", "dashdot"];

// A class's students' runs drawn over its scene at once (the top five, docs/PAGE.md, Class mode).
export const OVERLAY_MAX = 5;

export function runColor(i) {
  return PALETTE[i % PALETTE.length];
}
export function runDash(i) {
  return DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
}

// Type grows with the screen, so a projector at 1920 px is as readable as a laptop.
export const FONT = {
  family: "Inter, 'Segoe UI', system-ui, -apple-system, sans-serif",
  size: typeof window !== "undefined" && window.innerWidth >= 1800 ? 17 : 15,
  color: "#1f2733",
};
// Presentation mode scales lines, markers and type for a projector.
export const STYLE = { line: 1, marker: 1, present: false };
const BASE_FONT = FONT.size;

/** Presentation mode on or off: the next reset of every view uses the new sizes. */
export function setPresentation(on) {
  STYLE.line = on ? 1.7 : 1;
  STYLE.marker = on ? 1.5 : 1;
  STYLE.present = on;
  FONT.size = on ? BASE_FONT + 5 : BASE_FONT;
}
// A log loss axis stops this many decades under the highest starting loss: below,
// f − f* is rounding noise (a quadratic's 10⁻⁴⁵ says nothing a picture can use).
export const FLOOR_DECADES = 12;
export const MODEBAR = { bgcolor: "rgba(255,255,255,0.85)", color: "#8a94a6", activecolor: "#1f2733" };
export const lw = (w) => w * STYLE.line;
export const ms = (m) => m * STYLE.marker;

export const CONFIG = {
  displaylogo: false,
  displayModeBar: true, // always visible: its camera button downloads the chart as a PNG
  modeBarButtons: [["toImage", "zoom2d", "pan2d", "resetScale2d"]],
  responsive: false, // followSize() resizes on any change of the box, not just the window
  scrollZoom: false,
  showTips: false, // Plotly's "double-click to zoom back out" note sits over the page's own buttons
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  toImageButtonOptions: { scale: 2, filename: "descentlab" },
};

/** Keep a Plotly graph the size of its box (layout changes, window resizes). */
export function followSize(view) {
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


/**
 * Where a label goes above or below its point: alternately, in the order of x,
 * so marks close together (escapes at t=4 and t=11) do not cover each other.
 */
export function labelOffsets(points) {
  const order = points.map((p, k) => k).sort((a, b) => points[a].x - points[b].x);
  const ay = new Array(points.length);
  order.forEach((k, rank) => (ay[k] = rank % 2 ? 34 : -34));
  return ay;
}

// ---------------------------------------------------------------- numbers

const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

// Below this a double has lost its precision (a subnormal): what is left is rounding.
const TINY = 2.2250738585072014e-308;

/**
 * A number for people: 0.45, 1e-8 → 10⁻⁸, 3.2×10⁻⁹, −0.5 → −0.5; ∞ and −∞ as
 * such, NaN as "—". `zero` (optional) is the size below which a value is shown
 * as 0: a coordinate of 10⁻³⁰⁰ on a plot spanning 10 is a 0 that rounding left.
 */
export function fmtNumber(v, digits = 3, zero = TINY) {
  if (Number.isNaN(v)) return "—";
  if (v === Infinity) return "∞";
  if (v === -Infinity) return "−∞";
  const a = Math.abs(v);
  if (a < Math.max(zero, TINY)) return "0";
  const sign = v < 0 ? "−" : "";
  if (a >= 1e-3 && a < 1e5) return sign + String(Number(a.toPrecision(digits)));
  // toExponential, not v / 10^exp: 10^-324 is 0 in doubles, and 5e-324 / 0 is Infinity.
  const [mantissa, exponent] = a.toExponential(digits - 1).split("e");
  const mant = Number(mantissa);
  const power = "10" + String(Number(exponent)).replace(/./g, (c) => SUPERSCRIPT[c]);
  return sign + (mant === 1 ? power : `${mant}×${power}`);
}
