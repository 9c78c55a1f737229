// Inputs rendered from catalog specs: nothing here names an optimiser, schedule
// or problem. Every builder returns an element and reports changes through the
// handlers it is given: `input` while dragging, `commit` when a value is settled.

import { fmtNumber, runColor } from "./plots.js";
import { alphaChart } from "./alphachart.js";

const ICON_COPY = '<svg viewBox="0 0 20 20" aria-hidden="true"><rect x="7" y="7" width="10" height="10" rx="2" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M13 4.5V4a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v8a1 1 0 0 0 1 1h.5" fill="none" stroke="currentColor" stroke-width="1.8"/></svg>';
const ICON_SWEEP = '<svg viewBox="0 0 20 20" aria-hidden="true"><path d="M3 3h4v4H3zM8 3h4v4H8zM13 3h4v4h-4zM3 8h4v4H3zM8 8h4v4H8zM13 8h4v4h-4zM3 13h4v4H3zM8 13h4v4H8zM13 13h4v4h-4z" fill="currentColor" opacity="0.8"/></svg>';
const ICON_REMOVE = '<svg viewBox="0 0 20 20" aria-hidden="true"><path d="M5 5l10 10M15 5L5 15" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "html") el.innerHTML = value;
    else if (key === "style" && typeof value === "object") {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
    }
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Inline MathML for a parameter's symbol (server-rendered), or its name. */
export function symbolOf(spec) {
  return spec.symbol_mathml ? h("span", { class: "sym", html: spec.symbol_mathml }) : h("span", { class: "sym" }, spec.name);
}

/** What a slider shows for a value: 3 significant digits, ints as ints. */
export function showValue(spec, value) {
  if (spec.kind === "bool") return value ? "on" : "off";
  if (spec.kind === "int") return String(Math.round(value));
  return fmtNumber(value, 3);
}

function roundFor(spec, value) {
  if (spec.kind === "int") return Math.round(value);
  if (spec.scale === "log") return Number(value.toPrecision(3));
  // On log(1 − β), three significant digits of 1 − β: 0.968, 0.9968, 0.99968.
  if (spec.scale === "log1m" && value < 1) return Number((1 - Number((1 - value).toPrecision(3))).toFixed(12));
  const decimals = Math.max(0, -Math.floor(Math.log10(spec.step || 0.01)));
  return Number(value.toFixed(Math.min(decimals, 10)));
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * Where a value sits on a slider of the spec's scale, and back: log10 of the
 * value ("log"), −log10(1 − value) ("log1m": 0.9, 0.99, 0.999 at 1, 2, 3), or
 * the value itself.
 */
const SCALES = {
  log: { to: (v) => Math.log10(v), from: (s) => 10 ** s },
  log1m: { to: (v) => -Math.log10(1 - v), from: (s) => 1 - 10 ** -s },
  linear: { to: (v) => v, from: (s) => s },
};

/**
 * One parameter: label (symbol + name), a range slider `data-param=<name>`
 * (holding log10 of the value on a log scale, −log10(1 − value) on a log1m
 * scale, as its `data-scale` says) and a number field.
 * `limits` may narrow the range (batch_size ≤ n_samples).
 */
export function paramControl(spec, value, { input, commit }, limits = {}) {
  const id = nextId(spec.name);
  const lo = limits.max != null ? Math.min(spec.min, limits.max) : spec.min;
  const hi = limits.max != null ? Math.min(spec.max, limits.max) : spec.max;
  const scale = spec.scale === "log" && lo > 0 ? "log" : spec.scale === "log1m" && hi < 1 ? "log1m" : "linear";
  const row = h("div", { class: `param kind-${spec.kind}`, title: spec.description || "" });
  const label = h("label", { for: id, class: "param-label" }, symbolOf(spec), h("span", { class: "pname" }, spec.name.replace(/_/g, " ")));

  if (spec.kind === "bool") {
    // A checkbox for people, and a 0…1 range with data-param for scripts and tests.
    const box = h("input", { type: "checkbox", id, class: "switch", checked: !!value });
    const range = h("input", { type: "range", min: 0, max: 1, step: 1, value: value ? 1 : 0, "data-param": spec.name, class: "sr-only", tabindex: "-1", "aria-hidden": "true" });
    const state = h("span", { class: "switch-state" }, value ? "on" : "off");
    box.addEventListener("change", () => {
      range.value = box.checked ? 1 : 0;
      state.textContent = box.checked ? "on" : "off";
      commit(box.checked ? 1 : 0);
    });
    range.addEventListener("input", () => {
      box.checked = range.value === "1";
      state.textContent = box.checked ? "on" : "off";
      input(Number(range.value));
    });
    range.addEventListener("change", () => commit(Number(range.value)));
    row.append(label, h("span", { class: "switch-wrap" }, box, state), range);
    row.setValue = (v) => {
      box.checked = !!v;
      range.value = v ? 1 : 0;
      state.textContent = v ? "on" : "off";
    };
    return row;
  }

  const toSlider = SCALES[scale].to;
  const fromSlider = SCALES[scale].from;
  const sliderStep = scale !== "linear" ? 0.01 : spec.kind === "int" ? Math.max(1, spec.step || 1) : spec.step || "any";
  // A range input only reaches values on its step grid: put both ends on it (0.999 at 3, not 2.99).
  const onGrid = (v, up) => {
    if (scale === "linear") return v;
    const k = v / sliderStep;
    return Number(((up ? Math.ceil(k - 1e-9) : Math.floor(k + 1e-9)) * sliderStep).toFixed(6));
  };
  const range = h("input", {
    type: "range",
    id,
    min: onGrid(toSlider(lo), false),
    max: onGrid(toSlider(hi), true),
    step: sliderStep,
    value: toSlider(value),
    "data-param": spec.name,
    "data-scale": scale,
    "aria-valuetext": showValue(spec, value),
  });
  const number = h("input", {
    type: "number",
    class: "num",
    min: lo,
    max: hi,
    step: spec.kind === "int" ? 1 : "any",
    value: roundFor(spec, value),
    "aria-label": `${spec.name} value`,
    "data-number": spec.name,
  });
  const fill = () => {
    const p = (Number(range.value) - Number(range.min)) / (Number(range.max) - Number(range.min) || 1);
    range.style.setProperty("--fill", `${(clamp(p, 0, 1) * 100).toFixed(1)}%`);
  };
  range.addEventListener("input", () => {
    const v = roundFor(spec, clamp(fromSlider(Number(range.value)), lo, hi));
    number.value = v;
    range.setAttribute("aria-valuetext", showValue(spec, v));
    fill();
    input(v);
  });
  range.addEventListener("change", () => commit(roundFor(spec, clamp(fromSlider(Number(range.value)), lo, hi))));
  number.addEventListener("change", () => {
    let v = Number(number.value);
    if (!Number.isFinite(v)) v = spec.default;
    v = roundFor(spec, clamp(v, lo, hi));
    number.value = v;
    range.value = toSlider(v);
    fill();
    commit(v);
  });
  fill();
  row.append(label, range, number);
  row.setValue = (v) => {
    range.value = toSlider(v);
    number.value = roundFor(spec, v);
    fill();
  };
  return row;
}

/** A select over catalog entries. */
export function pick(entries, value, attrs, onChange) {
  const select = h("select", attrs, entries.map((e) => h("option", { value: e.name, selected: e.name === value }, e.label)));
  select.addEventListener("change", () => onChange(select.value));
  return select;
}

// ---------------------------------------------------------------- a run's card

/**
 * Current hyper-parameter values beside the equations, as "α = 0.1  β = 0.9";
 * the ones in `differs` (where another run of this optimiser has another value)
 * are marked, so two runs of one optimiser read apart at a glance.
 */
export function valuesLine(opt, params, differs = new Set()) {
  return h(
    "p",
    { class: "values" },
    opt.params.map((spec) =>
      h(
        "span",
        { class: `value${differs.has(spec.name) ? " differs" : ""}`, "data-value": spec.name, title: differs.has(spec.name) ? `another ${opt.label} run has a different ${spec.name.replace(/_/g, " ")}` : null },
        symbolOf(spec),
        " = ",
        h("b", {}, showValue(spec, params[spec.name])),
      ),
    ),
  );
}

/**
 * The card for run `i`: `data-run=i`, coloured like its traces.
 * handlers: param(i, name, v, final), optimizer(i, name), schedule(i, name),
 * scheduleParam(i, name, v, final), start(i, point|null), duplicate(i), remove(i), select(i),
 * batch(i, v, final) (regressions: ctx.batch = {spec, value, max}), sweep(i).
 */
export function runCard(run, i, ctx, on) {
  const { catalog, state, selected, canRemove, canAdd, perEpoch, defaultStart, status } = ctx;
  const opt = catalog.optimizer(run.optimizer);
  const sched = catalog.schedule(run.schedule.name);
  const color = runColor(i);
  const card = h("section", {
    class: `run-card${selected ? " selected" : ""}`,
    "data-run": i,
    style: { "--run": color },
    "aria-label": `Run ${i + 1}: ${opt.label}`,
  });
  card.addEventListener("focusin", () => on.select(i));
  card.addEventListener("pointerdown", () => on.select(i));

  const optSelect = pick(catalog.raw.optimizers, run.optimizer, { "data-control": "optimizer", "aria-label": `optimizer of run ${i + 1}`, class: "opt-select" }, (name) => on.optimizer(i, name));
  const head = h(
    "header",
    { class: "run-head" },
    h("span", { class: "swatch", "aria-hidden": "true" }),
    h("span", { class: "run-index" }, `${i + 1}`),
    optSelect,
    on.sweep ? h("button", { type: "button", class: "icon", title: "Sweep this run: its settings over a grid", "aria-label": `sweep run ${i + 1}`, "data-action": "sweep", onclick: () => on.sweep(i), html: ICON_SWEEP }) : null,
    h("button", { type: "button", class: "icon", title: "Duplicate this run", "aria-label": `duplicate run ${i + 1}`, "data-action": "duplicate", disabled: !canAdd, onclick: () => on.duplicate(i), html: ICON_COPY }),
    h("button", { type: "button", class: "icon", title: "Remove this run", "aria-label": `remove run ${i + 1}`, "data-action": "remove", disabled: !canRemove, onclick: () => on.remove(i), html: ICON_REMOVE }),
  );

  const equations = h("div", { class: "equations", title: opt.description }, (opt.equations_mathml || []).map((m) => h("div", { class: "eq", html: m })));
  let values = valuesLine(opt, run.params, ctx.differs?.());

  const params = h("div", { class: "params" });
  const rows = {};
  for (const spec of opt.params) {
    rows[spec.name] = paramControl(spec, run.params[spec.name], {
      input: (v) => on.param(i, spec.name, v, false),
      commit: (v) => on.param(i, spec.name, v, true),
    });
    params.append(rows[spec.name]);
  }

  const schedBox = h("div", { class: "schedule" });
  const schedSelect = pick(catalog.raw.schedules, sched.name, { "data-control": "schedule", id: nextId("sched"), class: "sched-select" }, (name) => on.schedule(i, name));
  schedBox.append(
    h("div", { class: "param sched-row" }, h("label", { for: schedSelect.id, class: "param-label" }, h("span", { class: "sym" }, "α(t)"), h("span", { class: "pname" }, "schedule")), schedSelect),
  );
  if (sched.equation_mathml && sched.params.length) schedBox.append(h("div", { class: "eq small", html: sched.equation_mathml }));
  for (const spec of sched.params) {
    schedBox.append(
      paramControl(spec, run.schedule[spec.name], {
        input: (v) => on.scheduleParam(i, spec.name, v, false),
        commit: (v) => on.scheduleParam(i, spec.name, v, true),
      }),
    );
  }
  const chart = alphaChart(run.schedule, sched.counts, run.params.alpha ?? 1, state.steps, perEpoch, color);
  if (chart) schedBox.append(chart);

  let batchRow = null;
  if (ctx.batch) {
    // Batch sizes from 1 to n read best on a log slider (1, 16, 200 evenly apart).
    const spec = { ...ctx.batch.spec, scale: "log", description: "samples per gradient of this run: 1 = stochastic, n = full batch" };
    batchRow = paramControl(spec, ctx.batch.value, {
      input: (v) => on.batch(i, v, false),
      commit: (v) => on.batch(i, v, true),
    }, { max: ctx.batch.max });
    batchRow.classList.add("batch-row");
    if (ctx.batch.inherited) batchRow.classList.add("inherited");
  }

  const start = run.start || defaultStart;
  const sx = h("input", { type: "number", class: "num", step: "any", value: Number(start[0].toPrecision(4)), "aria-label": `start ${catalog.problem(state.problem).axes[0]} of run ${i + 1}`, "data-start": 0 });
  const sy = h("input", { type: "number", class: "num", step: "any", value: Number(start[1].toPrecision(4)), "aria-label": `start ${catalog.problem(state.problem).axes[1]} of run ${i + 1}`, "data-start": 1 });
  const setStart = () => {
    const p = [Number(sx.value), Number(sy.value)];
    if (p.every(Number.isFinite)) on.start(i, p);
  };
  sx.addEventListener("change", setStart);
  sy.addEventListener("change", setStart);
  const startRow = h(
    "div",
    { class: "param start-row", title: "Where this run starts. Click the surface to move every run; shift-click to move only the selected run." },
    h("span", { class: "param-label" }, h("span", { class: "sym" }, "x₀"), h("span", { class: "pname" }, "start")),
    h("span", { class: "start-fields" }, sx, sy),
    run.start ? h("button", { type: "button", class: "icon small", title: "Back to the problem's default start", "aria-label": `reset start of run ${i + 1}`, onclick: () => on.start(i, null) }, "↺") : null,
  );

  const foot = h("p", { class: "run-status", "aria-live": "polite" }, status || "");
  card.append(head, h("div", { class: "run-body" }, equations, values, params, batchRow, schedBox, startRow), foot);
  card.rows = rows;
  card.refresh = (r) => {
    const next = valuesLine(opt, r.params, ctx.differs?.());
    values.replaceWith(next);
    values = next;
    if (ctx.name) card.setAttribute("aria-label", `Run ${i + 1}: ${ctx.name()}`);
  };
  if (ctx.name) card.setAttribute("aria-label", `Run ${i + 1}: ${ctx.name()}`);
  return card;
}

/**
 * The problem's own parameters (noise; n_samples, batch_size for regression).
 * `overridden` maps a parameter every run sets for itself to why: its row is
 * shown disabled, with the reason, and no lesson highlights it.
 */
export function problemControls(problem, values, on, overridden = {}) {
  const box = h("div", { class: "params problem-params" });
  for (const spec of problem.params) {
    const limits = spec.name === "batch_size" && values.n_samples != null ? { max: values.n_samples } : {};
    const row = paramControl(
      spec,
      values[spec.name],
      {
        input: (v) => on(spec.name, v, false),
        commit: (v) => on(spec.name, v, true),
      },
      limits,
    );
    if (overridden[spec.name]) {
      row.classList.add("overridden");
      row.title = overridden[spec.name];
      row.querySelectorAll("input").forEach((el) => (el.disabled = true));
    }
    box.append(row);
  }
  return box;
}
