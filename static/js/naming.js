// Telling runs apart: a run's name in the legend and on hover, and the settings
// its card marks. Pure functions of the state and the catalog; no DOM.

import * as S from "./state.js";
import { fmtNumber } from "./plots.js";
import { showValue } from "./controls.js";

/**
 * A run's name in the legend and on hover: the optimiser and its key settings —
 * α, whatever is off its default, and every setting on which it differs from
 * another run of the same optimiser (so two Momentum runs with β 0.5 and 0.9 both
 * show β, even when 0.9 is the default).
 */
export function legendName(run, state, catalog) {
  if (!run) return "";
  return `${catalog.optimizer(run.optimizer).label} · ${distinguishing(run, state, catalog).join(", ")}`;
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

/** "α=0.1", "β=0.9", "step", "T=20", "batch 16", "from (1, 2)": what tells this run apart. */
function distinguishing(run, state, catalog) {
  const opt = catalog.optimizer(run.optimizer);
  const twins = state.runs.filter((r) => r !== run && r.optimizer === run.optimizer);
  const differs = (get) => twins.some((r) => String(get(r)) !== String(get(run)));
  const value = (v) => (typeof v === "boolean" ? Number(v) : v);
  const parts = opt.params
    .filter((p) => p.name === "alpha" || value(run.params[p.name]) !== value(p.default) || differs((r) => value(r.params[p.name])))
    .map((p) => `${symbolText(p)}=${showValue(p, run.params[p.name])}`);
  const sched = catalog.schedule(run.schedule.name);
  if (run.schedule.name !== catalog.raw.schedules[0].name || differs((r) => r.schedule.name)) parts.push(sched.label.toLowerCase());
  for (const p of sched.params) {
    const mine = run.schedule[p.name];
    const alike = twins.filter((r) => r.schedule.name === run.schedule.name);
    if (alike.some((r) => String(r.schedule[p.name]) !== String(mine))) parts.push(`${symbolText(p)}=${showValue(p, mine)}`);
  }
  if (catalog.isRegression(state.problem) && state.runs.some((r) => S.batchOf(r, state) !== S.batchOf(run, state))) parts.push(`batch ${S.batchOf(run, state)}`);
  const at = S.startOf(run, state, catalog);
  if (differs((r) => S.startOf(r, state, catalog).join(","))) parts.push(`from (${fmtNumber(at[0])}, ${fmtNumber(at[1])})`);
  return parts;
}

const GREEK = { alpha: "α", beta: "β", gamma: "γ", rho: "ρ", varepsilon: "ε", epsilon: "ε", sigma: "σ", kappa: "κ" };
function symbolText(spec) {
  let s = spec.symbol || spec.name;
  s = s.replace(/\\mathrm\{([^}]*)\}/g, "$1").replace(/\\([a-z]+)/g, (_, w) => GREEK[w] || w);
  s = s.replace(/_\{?([^}]*)\}?/g, (_, sub) => sub.replace(/[0-9]/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]));
  return s.replace(/[{}]/g, "");
}
