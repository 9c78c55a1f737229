// The α(t) mini chart on a run card: the learning rate its schedule gives each update.

import { fmtNumber } from "./plots.js";

// The schedules' d(e) (app/optim/schedules.py), for the little α(t) chart; a
// schedule without an entry here simply shows no chart. A browser test evaluates
// both on the same inputs (tests/browser/test_page_sources.py).
export const DECAY = {
  constant: () => 1,
  step: (e, p) => p.factor ** Math.floor(e / p.every),
  exponential: (e, p) => Math.exp(-p.k * e),
  inverse_time: (e, p) => 1 / (1 + p.k * e),
};

/**
 * The little α(t) chart of a run card: α against the update for a decaying
 * schedule (an SVG), or null for a constant one.
 */
export function alphaChart(schedule, alpha, steps, perEpoch, color) {
  const decay = DECAY[schedule.name];
  if (!decay || schedule.name === "constant") return null;
  const W = 240;
  const H = 46;
  const n = Math.min(steps, 240);
  const points = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k <= n; k++) {
    const t = 1 + Math.round((k / n) * (steps - 1));
    const v = alpha * decay(Math.floor((t - 1) / perEpoch), schedule);
    points.push([t, v]);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const top = hi || 1;
  const d = points.map(([t, v], k) => `${k ? "L" : "M"}${((t - 1) / Math.max(1, steps - 1)) * (W - 2) + 1},${H - 12 - (v / top) * (H - 18)}`).join(" ");
  const svg = `<svg viewBox="0 0 ${W} ${H}" width="100%" height="${H}" role="img" aria-label="learning rate over updates: from ${fmtNumber(hi)} to ${fmtNumber(lo)}">
    <line x1="1" y1="${H - 12}" x2="${W - 1}" y2="${H - 12}" stroke="#c9d0da" />
    <path d="${d}" fill="none" stroke="${color}" stroke-width="2.5" />
    <text x="2" y="${H - 1}" font-size="10" fill="#5b6577">t = 1</text>
    <text x="${W - 2}" y="${H - 1}" font-size="10" fill="#5b6577" text-anchor="end">${steps}</text>
    <text x="${W - 2}" y="9" font-size="10" fill="#5b6577" text-anchor="end">α from ${fmtNumber(hi)} to ${fmtNumber(lo)}</text>
  </svg>`;
  const chart = document.createElement("div");
  chart.className = "alpha-chart";
  chart.innerHTML = svg;
  return chart;
}
