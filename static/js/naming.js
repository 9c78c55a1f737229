// Telling runs apart: a run's name in the legend and on hover, what every run
// shares (said once, beside the legend), and the settings its card marks. Pure
// functions of the state and the catalog; no DOM.

import * as S from "./state.js";
import { fmtNumber } from "./plots.js";
import { showValue } from "./controls.js";

/**
 * A run's name in the legend and on hover: the optimiser and its key settings —
 * α (unless every run has the same α: `sharedSettings` says it once), whatever
 * is off its default, and every setting on which it differs from another run of
 * the same optimiser (so two Momentum runs with β 0.5 and 0.9 both show β, even
 * when 0.9 is the default). A setting that is off (0 by default, as a warm-up of
 * 0 updates) is not named: the run that has it says so.
 */
export function legendName(run, state, catalog) {
  if (!run) return "";
  const parts = distinguishing(run, state, catalog);
  const label = catalog.optimizer(run.optimizer).label;
  return parts.length ? `${label} · ${parts.join(", ")}` : label;
}

/** What every run has in common and the legend names once ("α=0.45 in every run"), or "". */
export function sharedSettings(state, catalog) {
  const alpha = sharedAlpha(state, catalog);
  return alpha == null ? "" : `${symbolText(alpha.spec)}=${showValue(alpha.spec, alpha.value)} in every run`;
}

function sharedAlpha(state, catalog) {
  if (state.runs.length < 2) return null;
  const values = new Set();
  let spec = null;
  for (const run of state.runs) {
    spec = catalog.optimizer(run.optimizer).params.find((p) => p.name === "alpha");
    if (!spec) return null;
    values.add(String(run.params.alpha));
  }
  return values.size === 1 ? { spec, value: state.runs[0].params.alpha } : null;
}

/** The hyper-parameters on which run `i` differs from another run of its optimiser. */
export function differingParams(i, state) {
  const run = state.runs[i];
  const names = new Set();
  if (!run) return names;
  for (const other of state.runs) {
    if (other === run || other.optimizer !== run.optimizer) continue;
    for (const [name, v] of Object.entries(run.params)) if (String(Number(other.params[name])) !== String(Number(v))) names.add(name);
  }
  return names;
}

/** How a regression run's batch reads: "full batch (200)", "mini-batch 16", "stochastic (batch 1)". */
export function batchName(batch, samples) {
  if (samples && batch >= samples) return `full batch (${samples})`;
  return batch === 1 ? "stochastic (batch 1)" : `mini-batch ${batch}`;
}

/** "α=0.1", "β=0.9", "step", "T=20", "full batch (200)", "from (1, 2)": what tells this run apart. */
function distinguishing(run, state, catalog) {
  const opt = catalog.optimizer(run.optimizer);
  const twins = state.runs.filter((r) => r !== run && r.optimizer === run.optimizer);
  const differs = (get) => twins.some((r) => String(get(r)) !== String(get(run)));
  const value = (v) => (typeof v === "boolean" ? Number(v) : v);
  const shared = sharedAlpha(state, catalog);
  const named = (p) => {
    const mine = value(run.params[p.name]);
    if (p.name === "alpha") return !shared;
    if (mine === 0 && value(p.default) === 0) return false; // off, as by default
    return mine !== value(p.default) || differs((r) => value(r.params[p.name]));
  };
  const parts = opt.params.filter(named).map((p) => `${symbolText(p)}=${showValue(p, run.params[p.name])}`);
  const sched = catalog.schedule(run.schedule.name);
  if (run.schedule.name !== catalog.raw.schedules[0].name || differs((r) => r.schedule.name)) parts.push(sched.label.toLowerCase());
  for (const p of sched.params) {
    const mine = run.schedule[p.name];
    const alike = twins.filter((r) => r.schedule.name === run.schedule.name);
    if (alike.some((r) => String(r.schedule[p.name]) !== String(mine))) parts.push(`${symbolText(p)}=${showValue(p, mine)}`);
  }
  if (catalog.isRegression(state.problem) && state.runs.some((r) => S.batchOf(r, state) !== S.batchOf(run, state))) {
    parts.push(batchName(S.batchOf(run, state), state.problemParams.n_samples));
  }
  const at = S.startOf(run, state, catalog);
  if (differs((r) => S.startOf(r, state, catalog).join(","))) parts.push(`from (${fmtNumber(at[0])}, ${fmtNumber(at[1])})`);
  return parts;
}

/**
 * Every setting of a run, for a slide: "α=0.45, β=0.5, Nwarm=0, α(t): constant,
 * start (−4.5, 1.5)", and the batch on a regression.
 */
export function settingsText(run, state, catalog) {
  const opt = catalog.optimizer(run.optimizer);
  const sched = catalog.schedule(run.schedule.name);
  const parts = opt.params.map((p) => `${symbolText(p)}=${showValue(p, run.params[p.name])}`);
  const schedParams = sched.params.map((p) => `${symbolText(p)}=${showValue(p, run.schedule[p.name])}`);
  parts.push(`α(t): ${sched.label.toLowerCase()}${schedParams.length ? ` (${schedParams.join(", ")})` : ""}`);
  if (catalog.isRegression(state.problem)) parts.push(batchName(S.batchOf(run, state), state.problemParams.n_samples));
  const at = S.startOf(run, state, catalog);
  parts.push(`start (${fmtNumber(at[0])}, ${fmtNumber(at[1])})`);
  return parts.join(", ");
}

// Every lower-case Greek letter a parameter's LaTeX symbol may name, so a new symbol
// needs nothing here.
const GREEK_NAMES = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega".split(" ");
const GREEK = Object.fromEntries(GREEK_NAMES.map((name, k) => [name, String.fromCodePoint(0x3b1 + k + (k >= 17 ? 1 : 0))]));
Object.assign(GREEK, { varepsilon: "ε", varphi: "φ", vartheta: "θ" });
export function symbolText(spec) {
  let s = spec.symbol || spec.name;
  s = s.replace(/\\mathrm\{([^}]*)\}/g, "$1").replace(/\\([a-z]+)/g, (_, w) => GREEK[w] || w);
  s = s.replace(/_\{?([^}]*)\}?/g, (_, sub) => sub.replace(/[0-9]/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]));
  return s.replace(/[{}]/g, "");
}
