// The step anatomy on the surface (docs/PAGE.md, Step anatomy): for the selected run at
// the update shown, the arrows of that update — the gradient term −α_t g (from where
// the gradient was taken), the velocity term of a momentum rule, the step itself and
// Nesterov's look-ahead point — and, on a regression, the minibatch cloud: every
// minibatch's −α_t g_k of that epoch at the same point, around the full-batch one
// (POST /api/cloud). This module computes the geometry and fetches the clouds; the
// surface view draws the arrows (surfaceplot.js), `renderKey` explains them.

import { fetchCloud } from "./api.js";
import { fmtNumber } from "./plots.js";

// Arrows whose longest is under VISIBLE of the plot's diagonal (a few tens of pixels,
// under the run's markers) are magnified, every one alike about x_{t−1}, by a round
// factor (1, 2, 5, 10, 20, …) that brings the longest near SHOWN; by at most
// MAGNIFIED: a run at rest takes steps of 10⁻²⁰, which no arrow explains.
const VISIBLE = 0.08;
const SHOWN = 0.3;
const MAGNIFIED = 1000;

const plus = (p, v) => [p[0] + v[0], p[1] + v[1]];
const minus = (p, q) => [p[0] - q[0], p[1] - q[1]];
const length = (v) => Math.hypot(v[0], v[1]);

/**
 * The arrows of update t of run `buf` (t ≥ 1: it moved point t − 1 to point t), from
 * its anatomy; null when the run has no anatomy there. `rule` is the optimiser's
 * catalog entry (its anatomy says whether the step has a velocity term and a
 * weight-decay term), `params` the run's hyper-parameters as the server ran them.
 */
export function stepArrows(buf, t, rule, params = {}) {
  const a = buf.anatomy;
  if (!a || t < 1 || t > a.alpha.length || t >= buf.x.length) return null;
  const k = t - 1;
  const from = [buf.x[k], buf.y[k]];
  const to = [buf.x[t], buf.y[t]];
  const alpha = a.alpha[k];
  const gradientTerm = [-alpha * a.gx[k], -alpha * a.gy[k]];
  const at = a.lx ? [a.lx[k], a.ly[k]] : from; // where the rule took its gradient
  const arrows = { step: [from, to], gradient: [at, plus(at, gradientTerm)] };
  // A step with a weight-decay part of its own: −α_t λ x_{t−1}, λ the run's weight_decay
  // (docs/API.md, Update rules), a pull from x_{t−1} towards the origin.
  const lambda = rule.anatomy?.decay_term ? (params.weight_decay ?? 0) : 0;
  const decayTerm = [-alpha * lambda * from[0], -alpha * lambda * from[1]];
  if (lambda) arrows.decay = [from, plus(from, decayTerm)];
  // x_t − x_{t−1} = −α_t g + the decay term + the velocity term (which ends at
  // Nesterov's look-ahead point).
  if (rule.anatomy?.velocity_term) arrows.velocity = [from, minus(minus(to, gradientTerm), decayTerm)];
  return { t, from, alpha, at: a.lx ? at : null, arrows };
}

/**
 * The magnification that makes the longest of the step's arrows visible on a plot of
 * `bounds`, as long as every magnified arrow stays inside the plot.
 */
export function magnification(step, bounds) {
  const diagonal = Math.hypot(bounds.x[1] - bounds.x[0], bounds.y[1] - bounds.y[0]);
  const ends = Object.values(step.arrows).flat();
  const longest = Math.max(0, ...Object.values(step.arrows).map(([p, q]) => length(minus(q, p))));
  if (!(longest > 0) || longest >= VISIBLE * diagonal) return 1;
  let wanted = (SHOWN * diagonal) / longest;
  for (const point of ends) {
    [bounds.x, bounds.y].forEach(([low, high], axis) => {
      const away = point[axis] - step.from[axis];
      const room = away > 0 ? high - step.from[axis] : low - step.from[axis];
      if (away !== 0 && room / away > 0) wanted = Math.min(wanted, room / away);
    });
  }
  if (wanted <= 1) return 1;
  const decade = 10 ** Math.floor(Math.log10(wanted));
  const round = [5, 2, 1].map((m) => m * decade).find((f) => f <= wanted);
  return Math.min(MAGNIFIED, round);
}

/**
 * What the surface draws: every arrow and point magnified by `factor` about x_{t−1};
 * the cloud's arrows (−α_t g_k of every minibatch, and the full batch's) from x_{t−1}.
 */
export function layer(step, factor, cloud) {
  const scale = (p) => plus(step.from, minus(p, step.from).map((v) => v * factor));
  const longest = Math.max(...Object.values(step.arrows).map(([p, q]) => length(minus(q, p))));
  const out = { t: step.t, factor, longest, lookahead: step.at ? scale(step.at) : null, cloud: [], full: null };
  for (const [role, [p, q]] of Object.entries(step.arrows)) out[role] = [scale(p), scale(q)];
  if (cloud) {
    const tip = (g) => scale(plus(step.from, [-step.alpha * g[0], -step.alpha * g[1]]));
    out.cloud = cloud.gradients.map((g) => [step.from, tip(g)]);
    out.full = [step.from, tip(cloud.full)];
  }
  return out;
}

/**
 * The cloud of the selected run at the update shown, fetched once per (data, batch
 * size, update, point); one request in flight, the latest wanted next (a playing
 * animation asks for a new one every frame). `loaded()` is called when one arrives.
 */
export class CloudFeed {
  constructor(loaded) {
    this.loaded = loaded;
    this.cache = new Map();
    this.wanted = null;
    this.busy = false;
  }

  /** The cloud for `body` (a POST /api/cloud body) if it is here; else it is fetched. */
  get(body) {
    const key = JSON.stringify(body);
    if (this.cache.has(key)) return this.cache.get(key);
    this.wanted = { key, body };
    if (!this.busy) this.next();
    return null;
  }

  async next() {
    const wanted = this.wanted;
    this.wanted = null;
    if (!wanted || this.cache.has(wanted.key)) return;
    this.busy = true;
    try {
      this.cache.set(wanted.key, await fetchCloud(wanted.body));
      if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value);
      this.loaded();
    } catch {
      // A refused or lost request draws no cloud; the next update asks again.
    } finally {
      this.busy = false;
    }
    if (this.wanted) this.next();
  }
}

// The arrows the key names, in its order: role, colour, the term of the rule it is
// (MathML from the catalog: the page's arrow terms, or the rule's velocity term), words.
export const ARROWS = {
  step: { color: null, words: "the step" },
  gradient: { color: "#c81d25", words: "gradient term" },
  velocity: { color: "#6a3d9a", words: "velocity term" },
  decay: { color: "#1b7837", words: "weight-decay term" },
  lookahead: { color: "#1f2733", words: "look-ahead point: where g is taken" },
  cloud: { color: "#7d8799", words: "each minibatch of the epoch" },
  full: { color: "#1f2733", words: "the full batch" },
};

function swatch(color, role) {
  if (role === "lookahead") {
    return `<svg viewBox="0 0 26 14" aria-hidden="true"><path d="M13 2 L19 7 L13 12 L7 7 Z" fill="#fff" stroke="${color}" stroke-width="2"/></svg>`;
  }
  const dash = role === "full" ? ' stroke-dasharray="4 3"' : "";
  return `<svg viewBox="0 0 26 14" aria-hidden="true"><path d="M2 7 H19" stroke="${color}" stroke-width="${role === "cloud" ? 1.5 : 2.5}"${dash}/><path d="M17 2.5 L24 7 L17 11.5 Z" fill="${color}"/></svg>`;
}

/**
 * The key (#anatomy-key): what each arrow on the surface is, by the term of the update
 * rule it draws; hidden when nothing is drawn. `shown`: the layer drawn (or null),
 * `rule`: the selected run's catalog entry, `color`: its colour, `terms`: the page's
 * MathML of the generic terms (catalog.arrow_terms).
 */
export function renderKey(el, shown, { rule, color, name, terms }) {
  el.hidden = !shown;
  if (!shown) return;
  const mathml = {
    step: terms.step,
    gradient: terms.gradient,
    velocity: rule.anatomy?.velocity_term_mathml,
    decay: rule.anatomy?.decay_term_mathml,
    lookahead: "",
    cloud: terms.cloud,
    full: terms.full,
  };
  const rows = Object.entries(ARROWS)
    .filter(([role]) => (role === "lookahead" ? shown.lookahead : role === "cloud" ? shown.cloud.length : shown[role]))
    .map(([role, spec]) => {
      const ink = spec.color ?? color;
      return `<li data-arrow="${role}">${swatch(ink, role)}<span class="term">${mathml[role] || ""}</span><span class="words">${spec.words}</span></li>`;
    });
  const parts = [
    ["key-t", `Update t = ${shown.t}`],
    ["key-of", ` of ${name}`],
    ["key-scale", shown.factor > 1 ? ` · drawn ×${fmtNumber(shown.factor)}` : ""],
    ["key-tiny", shown.factor >= MAGNIFIED ? ` (too small to see: ${fmtNumber(shown.longest)} long)` : ""],
  ];
  el.innerHTML = `<p class="key-title">${parts.map(([part]) => `<span class="${part}"></span>`).join("")}</p><ul>${rows.join("")}</ul>`;
  for (const [part, text] of parts) el.querySelector(`.${part}`).textContent = text;
}
