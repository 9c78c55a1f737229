// The α(t) mini chart on a run card: the learning rate its schedule gives each update.

import { fmtNumber } from "./plots.js";

const clip01 = (v) => Math.min(1, Math.max(0, v));
// From `start` at pct 0 to `end` at pct 1 along half a cosine (one-cycle's phases).
const anneal = (start, end, pct) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);

// The schedules' decays d(u) (app/optim/schedules.py), u counted in the unit the
// catalog's `counts` names; a schedule without an entry here simply shows no chart.
// A browser test evaluates both on the same inputs (tests/browser/test_page_sources.py).
export const DECAY = {
  constant: () => 1,
  step: (u, p) => p.factor ** Math.floor(u / p.every),
  exponential: (u, p) => Math.exp(-p.k * u),
  inverse_time: (u, p) => 1 / (1 + p.k * u),
  cosine: (u, p) => 0.5 * (1 + Math.cos((Math.PI * (p.restarts > 0 ? u % p.T : Math.min(u, p.T))) / p.T)),
  one_cycle: (u, p) => {
    const riseEnd = p.pct_start * p.T - 1;
    const fallEnd = p.T - 1;
    const low = 1 / p.div_factor;
    if (riseEnd > 0 && u <= riseEnd) return anneal(low, 1, clip01(u / riseEnd));
    const falling = fallEnd > riseEnd ? clip01((u - riseEnd) / (fallEnd - riseEnd)) : 1;
    return anneal(1, low / p.final_div_factor, falling);
  },
  wsd: (u, p) => {
    const length = p.decay_fraction * p.T;
    return length > 0 ? clip01((p.T - u) / length) : Number(u < p.T);
  },
};

/**
 * α_t of update t (1-based) for a run with rate `alpha` following `schedule`
 * (its name and parameters), whose decay counts `counts` ("epochs" or "updates"),
 * `perEpoch` updates making an epoch: α_t = w_t (α_min + (α − α_min) d(u)) with the
 * linear warm-up w_t = min(1, t / warmup_steps) (docs/API.md, Learning-rate schedules).
 */
export function scheduledRate(schedule, counts, alpha, t, perEpoch) {
  const decay = DECAY[schedule.name];
  if (!decay) return null;
  const u = counts === "updates" ? t - 1 : Math.floor((t - 1) / perEpoch);
  const d = decay(u, schedule);
  const warm = schedule.warmup_steps ?? 0;
  const ramp = warm > 0 ? Math.min(1, t / warm) : 1;
  const floor = schedule.alpha_min ?? 0;
  return alpha * (ramp * d) + ramp * floor * (1 - d);
}

/**
 * The little α(t) chart of a run card: α against the update (an SVG), or null
 * when the schedule keeps α constant (or is unknown to this page).
 */
export function alphaChart(schedule, counts, alpha, steps, perEpoch, color) {
  if (!DECAY[schedule.name]) return null;
  const W = 240;
  const H = 46;
  const n = Math.min(steps, 240);
  const points = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k <= n; k++) {
    const t = 1 + Math.round((k / n) * (steps - 1));
    const v = scheduledRate(schedule, counts, alpha, t, perEpoch);
    points.push([t, v]);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi === lo) return null;
  const top = hi || 1;
  const d = points.map(([t, v], k) => `${k ? "L" : "M"}${((t - 1) / Math.max(1, steps - 1)) * (W - 2) + 1},${H - 12 - (v / top) * (H - 18)}`).join(" ");
  const first = points[0][1];
  const last = points[points.length - 1][1];
  // A warm-up or a one-cycle rises first: name its peak too.
  const span = `α from ${fmtNumber(first)} to ${fmtNumber(last)}${hi > first ? `, peak ${fmtNumber(hi)}` : ""}`;
  const svg = `<svg viewBox="0 0 ${W} ${H}" width="100%" height="${H}" role="img" aria-label="learning rate over updates: ${span}">
    <line x1="1" y1="${H - 12}" x2="${W - 1}" y2="${H - 12}" stroke="#c9d0da" />
    <path d="${d}" fill="none" stroke="${color}" stroke-width="2.5" />
    <text x="2" y="${H - 1}" font-size="10" fill="#5b6577">t = 1</text>
    <text x="${W - 2}" y="${H - 1}" font-size="10" fill="#5b6577" text-anchor="end">${steps}</text>
    <text x="${W - 2}" y="9" font-size="10" fill="#5b6577" text-anchor="end">${span}</text>
  </svg>`;
  const chart = document.createElement("div");
  chart.className = "alpha-chart";
  chart.innerHTML = svg;
  return chart;
}
