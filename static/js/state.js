// The page's whole state: one plain object, declared as a table, mirrored in the URL.
//
// Scalars are described by FIELDS (name in the URL, kind, default, range; a range
// the server enforces names its entry in the catalog's `limits`). The problem's
// parameters and every run's hyper-parameters come from the catalog, so nothing
// here lists optimisers, schedules or problems by name except the default scene a
// first visit shows.
//
//   ?problem=steep_valley&noise=0&steps=120&seed=0
//   &run=sgd~alpha:0.45&run=adam~alpha:0.2~beta1:0.9~lr:step~lr.every:10~at:-4,1.5
//   (a regression run may carry its own batch size: run=sgd~alpha:0.05~bs:16)
//
// A formula of your own (the problem `custom`) adds its text and, when set, the
// start its window is fitted around:
//
//   ?problem=custom&expr=x%5E2%20%2B%2010*sin(y)&start=-3,2&noise=0&…
//
// The lesson, if any, is the path (/lessons/<slug>), not the query.

export const FIELDS = [
  { key: "steps", kind: "int", default: 120, min: 1, limit: "max_steps" },
  { key: "seed", kind: "int", default: 0, min: 0, limit: "max_seed" },
  { key: "speed", kind: "int", default: 60, min: 1, max: 2000 }, // updates per second on replay
  { key: "instant", kind: "bool", default: true },
  { key: "view", kind: "enum", values: ["2d", "3d"], default: "2d" },
  { key: "scale", kind: "enum", values: ["auto", "log", "linear"], default: "auto" },
  { key: "lossx", kind: "enum", values: ["updates", "epochs"], default: "updates" }, // loss chart's x-axis (regressions)
  { key: "xlog", kind: "bool", default: false }, // loss chart's x-axis logarithmic
  { key: "smooth", kind: "enum", values: ["auto", "on", "off"], default: "auto" }, // smoothed loss curves (auto: when noisy)
  // What the chart under (or beside) the surface shows: the loss, or the rules' state
  // (docs/API.md, Anatomy): effective rates per coordinate, the velocity's size, α_t.
  { key: "chart", kind: "enum", values: ["loss", "rate", "velocity", "alpha"], default: "loss" },
  { key: "anatomy", kind: "bool", default: false }, // the selected run's step drawn as arrows (and, on a regression, its minibatch cloud)
];

// What a first visit shows: a valley where plain gradient descent zig-zags,
// momentum swings from wall to wall as it gathers speed and Adam cuts the corner.
export const DEFAULT_SCENE = {
  problem: "steep_valley",
  runs: [
    { optimizer: "sgd", params: { alpha: 0.45 } },
    { optimizer: "momentum", params: { alpha: 0.1, beta: 0.8 } },
    { optimizer: "adam", params: { alpha: 0.2 } },
  ],
};

const RESERVED = new Set(["problem", "run", "expr", "start", ...FIELDS.map((f) => f.key)]);

/** A number as short as it can be written without losing what a slider shows. */
export function compact(value) {
  if (!Number.isFinite(value)) return "0";
  return String(Number(value.toPrecision(6)));
}

function clamp(value, lo, hi) {
  return Math.min(hi, Math.max(lo, value));
}

/** A value for a catalog parameter spec, parsed and clamped; the default when unusable. */
export function coerce(spec, raw) {
  let value = typeof raw === "string" ? Number(raw) : raw;
  if (spec.kind === "bool") {
    if (raw === "true") value = 1;
    if (raw === "false") value = 0;
    return value === true || value === 1 ? 1 : value === false || value === 0 ? 0 : +!!spec.default;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) return Number(spec.default);
  if (spec.kind === "int") value = Math.round(value);
  return clamp(value, spec.min, spec.max);
}

function paramsFrom(specs, given = {}) {
  const out = {};
  for (const spec of specs) out[spec.name] = coerce(spec, given[spec.name] ?? spec.default);
  return out;
}

export class Catalog {
  constructor(raw) {
    this.raw = raw;
    this.optimizers = new Map(raw.optimizers.map((o) => [o.name, o]));
    this.schedules = new Map(raw.schedules.map((s) => [s.name, s]));
    this.problems = new Map(raw.problems.map((p) => [p.name, p]));
    this.limits = raw.limits; // the server's: every bound the page enforces comes from here
  }
  optimizer(name) {
    return this.optimizers.get(name) || this.raw.optimizers[0];
  }
  schedule(name) {
    return this.schedules.get(name) || this.raw.schedules[0];
  }
  problem(name) {
    const entry = this.problems.get(name) || this.raw.problems[0];
    // A typed formula as the server last drew it: its window, start, formula and colouring.
    return entry.grammar && this.typed ? { ...entry, ...this.typed } : entry;
  }
  /** Whether a problem is a formula the user types (it has a grammar). */
  isTyped(name) {
    return !!this.problems.get(name)?.grammar;
  }
  /** A POST /api/surface answer for a typed formula: what the page draws from now on. */
  resolveTyped(answer) {
    const { problem } = answer;
    this.typed = {
      bounds: answer.bounds,
      start: problem.start,
      log_color: answer.log_color,
      formula: answer.formula,
      formula_mathml: answer.formula_mathml,
      expression: problem.expression,
    };
  }
  /** Problem parameters valid together (batch_size ≤ n_samples). */
  problemParams(name, given = {}) {
    const values = paramsFrom(this.problem(name).params, given);
    if ("batch_size" in values && "n_samples" in values) {
      values.batch_size = Math.min(values.batch_size, values.n_samples);
    }
    return values;
  }
  run(given = {}) {
    const opt = this.optimizer(given.optimizer);
    const sched = this.schedule(given.schedule?.name);
    const start = Array.isArray(given.start) && given.start.every(Number.isFinite) ? given.start : null;
    const bs = Number(given.batch_size);
    return {
      optimizer: opt.name,
      params: paramsFrom(opt.params, given.params),
      schedule: { name: sched.name, ...paramsFrom(sched.params, given.schedule) },
      start,
      // Regression only: this run's own batch size (null = the problem's).
      batch_size: given.batch_size != null && Number.isFinite(bs) ? Math.max(1, Math.round(bs)) : null,
    };
  }
  isRegression(name) {
    return this.problem(name).kind === "regression";
  }
  /** Per-run batch sizes valid for the problem: dropped on a surface, at most n_samples. */
  fitBatches(state) {
    const regression = this.isRegression(state.problem);
    const n = state.problemParams.n_samples;
    for (const run of state.runs) {
      if (!regression) run.batch_size = null;
      else if (run.batch_size != null && n) run.batch_size = Math.min(run.batch_size, n);
    }
    return state;
  }
  maxRuns() {
    return this.limits.max_runs;
  }
  maxSteps() {
    return this.limits.max_steps;
  }
  maxSeed() {
    return this.limits.max_seed;
  }
}

function fieldDefault(field) {
  return field.default;
}

/** A point "x,y" (or [x, y]) as two finite numbers, else null. */
function pointOf(raw) {
  const values = Array.isArray(raw) ? raw.map(Number) : String(raw ?? "").split(",").map(Number);
  return values.length === 2 && values.every(Number.isFinite) ? values : null;
}

/** The formula and its start: given, else the catalog's default formula (and no start). */
export function withFormula(state, catalog, expression, start) {
  const typed = catalog.isTyped(state.problem);
  state.expression = typed ? (typeof expression === "string" && expression ? expression : catalog.problems.get(state.problem).expression) : null;
  state.origin = typed ? pointOf(start) : null;
  return state;
}

export function defaultState(catalog) {
  const state = { problem: catalog.problem(DEFAULT_SCENE.problem).name };
  withFormula(state, catalog);
  for (const f of FIELDS) state[f.key] = fieldDefault(f);
  state.problemParams = catalog.problemParams(state.problem);
  state.runs = DEFAULT_SCENE.runs
    .filter((r) => catalog.optimizers.has(r.optimizer))
    .map((r) => catalog.run(r));
  if (!state.runs.length) state.runs = [catalog.run({})];
  return state;
}

function parseField(field, raw, catalog) {
  if (raw == null) return field.default;
  if (field.kind === "bool") return raw === "1" || raw === "true";
  if (field.kind === "enum") return field.values.includes(raw) ? raw : field.default;
  const n = Number(raw);
  if (!Number.isFinite(n)) return field.default;
  const max = field.limit ? catalog.limits[field.limit] : field.max;
  return clamp(Math.round(n), field.min, max);
}

function encodeRun(run, catalog) {
  const opt = catalog.optimizer(run.optimizer);
  const parts = [run.optimizer];
  for (const p of opt.params) parts.push(`${p.name}:${compact(run.params[p.name])}`);
  if (run.schedule.name !== catalog.raw.schedules[0].name) {
    parts.push(`lr:${run.schedule.name}`);
    for (const p of catalog.schedule(run.schedule.name).params) {
      parts.push(`lr.${p.name}:${compact(run.schedule[p.name])}`);
    }
  }
  if (run.start) parts.push(`at:${compact(run.start[0])},${compact(run.start[1])}`);
  if (run.batch_size != null) parts.push(`bs:${run.batch_size}`);
  return parts.join("~");
}

function decodeRun(text, catalog) {
  const [name, ...parts] = text.split("~");
  if (!catalog.optimizers.has(name)) return null;
  const given = { optimizer: name, params: {}, schedule: {} };
  for (const part of parts) {
    const colon = part.indexOf(":");
    if (colon < 0) continue;
    const key = part.slice(0, colon);
    const value = part.slice(colon + 1);
    if (key === "lr") given.schedule.name = value;
    else if (key.startsWith("lr.")) given.schedule[key.slice(3)] = value;
    else if (key === "at") given.start = value.split(",").map(Number);
    else if (key === "bs") given.batch_size = value;
    else given.params[key] = value;
  }
  return catalog.run(given);
}

/** The state a URL query describes; anything missing or invalid falls back to defaults. */
export function fromURL(search, catalog) {
  const query = new URLSearchParams(search);
  if (![...query.keys()].length) return defaultState(catalog);
  const state = { problem: catalog.problem(query.get("problem")).name };
  withFormula(state, catalog, query.get("expr"), query.get("start"));
  for (const f of FIELDS) state[f.key] = parseField(f, query.get(f.key), catalog);
  const given = {};
  for (const spec of catalog.problem(state.problem).params) {
    if (query.has(spec.name) && !RESERVED.has(spec.name)) given[spec.name] = query.get(spec.name);
  }
  state.problemParams = catalog.problemParams(state.problem, given);
  state.runs = query
    .getAll("run")
    .map((text) => decodeRun(text, catalog))
    .filter(Boolean)
    .slice(0, catalog.maxRuns());
  if (!state.runs.length) state.runs = defaultState(catalog).runs;
  return catalog.fitBatches(state);
}

/**
 * The state a lesson's scene describes (a body of POST /api/runs plus its speed);
 * the lesson's `view` (e.g. a log x-axis) over `base`'s view, scale and instant mode.
 */
export function fromScene(lesson, catalog, base = {}) {
  const scene = lesson.scene;
  const { name, expression, start, ...given } = scene.problem || {};
  const state = { problem: catalog.problem(name).name };
  withFormula(state, catalog, expression, start);
  for (const f of FIELDS) state[f.key] = base[f.key] ?? f.default;
  state.steps = Math.max(1, Math.min(catalog.maxSteps(), scene.steps ?? 200));
  state.seed = scene.seed ?? 0;
  state.speed = Math.max(1, Math.min(2000, Math.round(lesson.speed || 60)));
  state.problemParams = catalog.problemParams(state.problem, given);
  state.runs = (scene.runs || []).filter((r) => catalog.optimizers.has(r.optimizer)).map((r) => catalog.run(r));
  if (!state.runs.length) state.runs = [catalog.run({})];
  // Batch sizes are compared at equal work: one pass over the data.
  const batches = new Set(state.runs.map((r) => r.batch_size));
  state.lossx = catalog.isRegression(state.problem) && batches.size > 1 ? "epochs" : "updates";
  for (const f of FIELDS) if (lesson.view && f.key in lesson.view) state[f.key] = parseField(f, String(lesson.view[f.key]), catalog);
  return catalog.fitBatches(state);
}

/**
 * A class's scene (docs/API.md, Classes, Scenes) for a state: the runs' request,
 * every other setting as `view` (and whether the playhead is playing), the
 * lesson's slug and the playback position `t`.
 */
export function toClassScene(state, catalog, { lesson = null, t = state.steps, playing = false } = {}) {
  const view = { playing };
  for (const f of FIELDS) if (f.key !== "steps" && f.key !== "seed") view[f.key] = state[f.key];
  return { request: toRequest(state, catalog), view, lesson, t };
}

/** The state a class's scene describes (its `view` over the defaults; t and the lesson are the caller's). */
export function fromClassScene(scene, catalog) {
  const view = scene.view || {};
  return fromScene({ scene: scene.request, speed: view.speed, view }, catalog);
}

/** Whether two states draw the same runs the same way (a class scene's t and lesson aside). */
export function sameScene(a, b, catalog) {
  return JSON.stringify(toClassScene(a, catalog)) === JSON.stringify(toClassScene(b, catalog));
}

/** A run's gradients are noisy: gradient noise on a surface, a mini-batch on a regression. */
export function runIsNoisy(run, state, catalog) {
  if (!catalog.isRegression(state.problem)) return (state.problemParams.noise ?? 0) > 0;
  return batchOf(run, state) < state.problemParams.n_samples;
}

export function isNoisy(state, catalog) {
  return state.runs.some((run) => runIsNoisy(run, state, catalog));
}

/** Whether the loss chart smooths: as asked, or (auto) when the gradients are noisy. */
export function smoothing(state, catalog) {
  return state.smooth === "on" || (state.smooth === "auto" && isNoisy(state, catalog));
}

/** The URL query for a state: every control, in a stable order. */
export function toURL(state, catalog) {
  // Built by hand: URLSearchParams would escape the readable ~ : , separators.
  const enc = (s) => encodeURIComponent(s).replace(/%3A/g, ":").replace(/%2C/g, ",");
  const parts = [`problem=${enc(state.problem)}`];
  if (state.expression != null) parts.push(`expr=${encodeURIComponent(state.expression)}`);
  if (state.origin) parts.push(`start=${compact(state.origin[0])},${compact(state.origin[1])}`);
  for (const spec of catalog.problem(state.problem).params) {
    parts.push(`${spec.name}=${compact(state.problemParams[spec.name])}`);
  }
  for (const f of FIELDS) {
    const v = state[f.key];
    parts.push(`${f.key}=${f.kind === "bool" ? (v ? 1 : 0) : enc(String(v))}`);
  }
  for (const run of state.runs) parts.push(`run=${enc(encodeRun(run, catalog))}`);
  return "?" + parts.join("&");
}

/** Whether a view on screen reads the runs' anatomy (the state chart, the arrows): only then is it asked for. */
export function wantsAnatomy(state) {
  return state.anatomy || state.chart !== "loss";
}

/** The body of POST /api/runs (and of a stream's run message) for a state. */
export function toRequest(state, catalog) {
  const problem = catalog.problem(state.problem);
  const formula = state.expression != null ? { expression: state.expression, ...(state.origin ? { start: state.origin } : {}) } : {};
  return {
    problem: { name: problem.name, ...formula, ...exportParams(problem.params, state.problemParams) },
    steps: state.steps,
    seed: state.seed,
    runs: state.runs.map((run) => {
      const opt = catalog.optimizer(run.optimizer);
      const sched = catalog.schedule(run.schedule.name);
      const body = {
        optimizer: run.optimizer,
        params: exportParams(opt.params, run.params),
        schedule: { name: sched.name, ...exportParams(sched.params, run.schedule) },
      };
      if (run.start) body.start = run.start;
      if (run.batch_size != null && problem.kind === "regression") body.batch_size = run.batch_size;
      return body;
    }),
  };
}

function exportParams(specs, values) {
  const out = {};
  for (const spec of specs) {
    const v = values[spec.name];
    out[spec.name] = spec.kind === "bool" ? !!v : spec.kind === "int" ? Math.round(v) : v;
  }
  return out;
}

/** A run's batch size on a regression: its own, or the problem's. */
export function batchOf(run, state) {
  return run.batch_size ?? state.problemParams.batch_size ?? null;
}

/** Updates per pass over the data for a run (1 on a surface). */
export function batchesPerEpoch(run, state) {
  const n = state.problemParams.n_samples;
  const b = batchOf(run, state);
  return n && b ? Math.ceil(n / Math.min(b, n)) : 1;
}

/** Where a run starts: its own point, or the problem's default start. */
export function startOf(run, state, catalog) {
  return run.start || catalog.problem(state.problem).start;
}

export function clone(state) {
  return structuredClone(state);
}
