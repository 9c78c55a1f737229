// The side panel and the legend: the problem's description and parameters, a
// card per run (with its status and, once diverged, "Find a working α"), the
// "+ Add run" button; which run is selected and which are hidden live in the
// page's Spotlight (spotlight.js), changed here, drawn by the stage.

import * as S from "./state.js";
import { fmtNumber, runColor } from "./plots.js";
import { h, problemControls, runCard } from "./controls.js";
import { differingParams, legendName, sharedSettings } from "./naming.js";

const $ = (sel) => document.querySelector(sel);

/** What carries over when switching optimiser: every setting both rules have (α, β, …), clamped to the new rule's range. */
function sharedParams(catalog, old, name) {
  const opt = catalog.optimizer(name);
  const out = {};
  for (const spec of opt.params) if (spec.name in old.params) out[spec.name] = old.params[spec.name];
  return out;
}

export class Panel {
  /**
   * page: {catalog, state(), feed (the run in flight), stage, lessons, sweeps(),
   *        spotlight (selected and hidden runs), changed(options) → the state changed, toast(text),
   *        formula (the editor of a typed formula: formula.js)}
   */
  constructor(page) {
    this.page = page;
    this.spot = page.spotlight;
    this.cards = [];
    this.legendKey = "";
    this.findingAlpha = null; // the run whose α "Find a working α" is searching
    $("#add-run").addEventListener("click", () => this.addRun());
  }

  get selected() {
    return this.spot.selected;
  }

  set selected(i) {
    this.spot.selected = i;
  }

  name(run) {
    return legendName(run, this.page.state(), this.page.catalog);
  }

  /**
   * The legend: an entry per run (`data-legend-run=i`). A click hides or shows the
   * run; alt-click, a double click or its ◎ shows it alone (once more: every run).
   * What every run shares is said once, after the entries.
   */
  renderLegend() {
    const { catalog } = this.page;
    const state = this.page.state();
    const box = $("#legend");
    const count = state.runs.length;
    const shared = sharedSettings(state, catalog);
    // Rebuilt only when a name, a badge, the selection or a hidden run changed (not on every redraw).
    const key = JSON.stringify([this.selected, [...this.spot.hidden], shared, state.runs.map((run, i) => [this.name(run), this.statusBadge(i)?.textContent ?? ""])]);
    if (key === this.legendKey && box.querySelectorAll(".legend-item").length === count) return;
    this.legendKey = key;
    const entries = state.runs.map((run, i) => {
      const hidden = this.spot.isHidden(i);
      const alone = this.spot.isAlone(i, count);
      const name = this.name(run);
      return h(
        "div",
        { class: `legend-item${i === this.selected ? " selected" : ""}${hidden ? " off" : ""}`, "data-legend-run": i, style: { "--run": runColor(i) } },
        h(
          "button",
          {
            type: "button",
            class: "toggle-run",
            "aria-pressed": String(!hidden),
            title: `${hidden ? "Show" : "Hide"} run ${i + 1} (alt-click or double-click: show it alone)`,
            onclick: (e) => (e.altKey ? this.solo(i) : this.toggleRun(i)),
            ondblclick: () => this.solo(i),
          },
          h("span", { class: "swatch", "aria-hidden": "true" }),
          name,
          this.statusBadge(i),
        ),
        count > 1
          ? h("button", { type: "button", class: "solo", "aria-pressed": String(alone), title: alone ? "Show every run" : "Show this run alone", "aria-label": alone ? "show every run" : `show run ${i + 1} alone`, onclick: () => this.solo(i) }, "◎")
          : null,
      );
    });
    box.replaceChildren(...entries, ...(shared ? [h("span", { class: "shared" }, shared)] : []));
  }

  /** The views follow the spotlight: order, emphasis, hidden runs. */
  spotlightChanged() {
    document.querySelectorAll(".run-card").forEach((card) => card.classList.toggle("selected", Number(card.dataset.run) === this.selected));
    this.renderLegend();
    this.page.sweeps()?.refresh();
    this.page.stage.invalidate();
    this.page.stage.schedule();
  }

  toggleRun(i) {
    this.spot.toggle(i);
    this.spotlightChanged();
  }

  solo(i) {
    this.spot.solo(i, this.page.state().runs.length);
    this.spotlightChanged();
  }

  statusBadge(i) {
    const buf = this.page.feed.run(i);
    if (!this.page.feed.current?.done || !buf || !this.page.stage.finished) return null;
    if (buf.diverged != null) return h("span", { class: "badge bad", title: `diverged at update ${buf.diverged}` }, `✕ t=${buf.diverged}`);
    if (buf.blewUp != null) return h("span", { class: "badge bad", title: `blew up at update ${buf.blewUp}: its loss ran a million times further from the minimum than at the start` }, `▲ t=${buf.blewUp}`);
    if (buf.converged != null) return h("span", { class: "badge good", title: `converged in ${buf.converged} updates and stayed` }, `✓ ${buf.converged}`);
    return null;
  }

  statusText(i) {
    const buf = this.page.feed.run(i);
    if (!buf || !buf.x.length) return "";
    const n = buf.x.length;
    if (buf.diverged != null) {
      // Where a typed formula is not defined, the server says what and where: that is the news.
      const why = buf.why?.startsWith("f is not defined") ? `: ${buf.why}` : ` (last finite loss ${fmtNumber(buf.loss[n - 1])})`;
      return `✕ diverged at t=${buf.diverged}${why}`;
    }
    const end = `after ${n - 1} updates: loss ${fmtNumber(buf.loss[n - 1])} at (${fmtNumber(buf.x[n - 1])}, ${fmtNumber(buf.y[n - 1])})`;
    if (buf.blewUp != null) return `▲ blew up at t=${buf.blewUp} · ${end}`;
    if (buf.converged != null) return `✓ converged in ${buf.converged} update${buf.converged === 1 ? "" : "s"} and stayed · ${end}`;
    return end;
  }

  renderStatuses() {
    const { catalog } = this.page;
    const state = this.page.state();
    const { feed, stage } = this.page;
    document.querySelectorAll(".run-card").forEach((card) => {
      const i = Number(card.dataset.run);
      const el = card.querySelector(".run-status");
      el.textContent = this.statusText(i);
      // A diverged run offers a way out: sweep its α alone and take the best.
      const run = state.runs[i];
      const hasAlpha = run && catalog.optimizer(run.optimizer).params.some((p) => p.name === "alpha");
      const buf = feed.run(i);
      if (buf?.diverged != null && stage.finished && hasAlpha) {
        el.append(
          h(
            "button",
            {
              type: "button",
              class: "btn soft find-alpha",
              "data-action": "find-alpha",
              disabled: this.findingAlpha != null,
              title: "Sweep α for this run alone (as Compare fairly does) and give it the α with the lowest final loss",
              onclick: () => this.findAlpha(i),
            },
            this.findingAlpha === i ? "Looking for a working α…" : "Find a working α",
          ),
        );
      }
      el.classList.toggle("bad", buf?.diverged != null || buf?.blewUp != null);
      el.classList.toggle("good", buf?.diverged == null && buf?.blewUp == null && buf?.converged != null);
    });
  }

  renderRuns() {
    const { catalog, changed } = this.page;
    const state = this.page.state();
    const problem = catalog.problem(state.problem);
    const handlers = {
      select: (i) => this.select(i),
      optimizer: (i, name) => {
        const old = state.runs[i];
        state.runs[i] = catalog.run({ optimizer: name, params: sharedParams(catalog, old, name), schedule: old.schedule, start: old.start });
        changed({ push: true, panel: true });
      },
      param: (i, name, value, final) => {
        state.runs[i].params[name] = value;
        // Its card and the cards of its twins mark the values that tell them apart.
        this.cards.forEach((card, k) => (k === i || state.runs[k]?.optimizer === state.runs[i].optimizer) && card.refresh(state.runs[k]));
        changed({ push: final, rerun: final || state.instant });
      },
      schedule: (i, name) => {
        state.runs[i].schedule = catalog.run({ optimizer: "x", schedule: { name } }).schedule;
        changed({ push: true, panel: true });
      },
      scheduleParam: (i, name, value, final) => {
        state.runs[i].schedule[name] = value;
        changed({ push: final, panel: final, rerun: final || state.instant });
      },
      start: (i, point) => {
        state.runs[i].start = point;
        changed({ push: true, panel: true });
      },
      batch: (i, value, final) => {
        const followed = state.runs[i].batch_size == null;
        state.runs[i].batch_size = value;
        if (final && followed) this.renderProblem(); // the problem's batch size may now be every run's own
        if (final && state.lossx === "epochs") this.page.stage.invalidate();
        changed({ push: final, panel: final, rerun: final || state.instant });
      },
      sweep: (i) => {
        this.select(i);
        this.page.sweeps().show(i);
      },
      duplicate: (i) => {
        if (state.runs.length >= catalog.maxRuns()) return;
        state.runs.splice(i + 1, 0, S.clone(state.runs[i]));
        this.spot.inserted(i + 1);
        this.selected = i + 1;
        changed({ push: true, panel: true });
      },
      remove: (i) => {
        if (state.runs.length <= 1) return;
        state.runs.splice(i, 1);
        this.spot.removed(i);
        this.selected = Math.min(this.selected, state.runs.length - 1);
        changed({ push: true, panel: true });
      },
    };
    const focused = document.activeElement;
    const focusKey = focused?.closest?.(".run-card") ? [focused.closest(".run-card").dataset.run, focused.dataset.param || focused.dataset.control || focused.dataset.action || focused.dataset.start] : null;
    this.cards = state.runs.map((run, i) =>
      runCard(
        run,
        i,
        {
          catalog,
          state,
          selected: i === this.selected,
          canRemove: state.runs.length > 1,
          canAdd: state.runs.length < catalog.maxRuns(),
          perEpoch: S.batchesPerEpoch(run, state),
          defaultStart: problem.start,
          status: this.page.feed.current && this.page.stage.finished ? this.statusText(i) : "",
          differs: () => differingParams(i, state),
          name: () => this.name(state.runs[i]),
          batch: this.batchControl(run, problem),
        },
        handlers,
      ),
    );
    $("#runs").replaceChildren(...this.cards);
    this.renderStatuses();
    this.page.lessons.highlight();
    $("#add-run").disabled = state.runs.length >= catalog.maxRuns();
    if (focusKey) {
      const card = $(`.run-card[data-run="${focusKey[0]}"]`);
      const el = card?.querySelector(`[data-param="${focusKey[1]}"]:not(.sr-only), [data-control="${focusKey[1]}"], [data-action="${focusKey[1]}"], [data-start="${focusKey[1]}"]`);
      el?.focus();
    }
    this.renderLegend();
  }

  /** "+ Add run": the selected run's optimiser with the catalog's defaults. */
  addRun() {
    const { catalog } = this.page;
    const state = this.page.state();
    if (state.runs.length >= catalog.maxRuns()) return;
    const base = state.runs[this.selected] || state.runs[0];
    state.runs.push(catalog.run({ optimizer: base.optimizer, start: base.start }));
    this.selected = state.runs.length - 1;
    this.page.changed({ push: true, panel: true });
    requestAnimationFrame(() => this.cards[this.selected]?.scrollIntoView({ block: "nearest", behavior: "smooth" }));
  }

  /** "Find a working α": compare fairly's α sweep for run i alone; the best α goes into the run. */
  async findAlpha(i) {
    const sweeps = this.page.sweeps();
    if (this.findingAlpha != null) return;
    if (sweeps.busy) {
      this.page.toast("A sweep is running: wait for it, or cancel it in the sweep panel.");
      return;
    }
    this.select(i);
    sweeps.show(i); // the panel shows the progress, then final loss against α
    this.findingAlpha = i;
    this.renderStatuses();
    let choices = null;
    try {
      choices = await sweeps.compareFairly(i);
    } finally {
      this.findingAlpha = null;
      this.renderStatuses();
    }
    if (choices && choices[0]?.alpha == null) this.page.toast(`Run ${i + 1} diverges for every α in the catalog's range: try another start or optimiser.`);
  }

  /** The problem's settings every run overrides (a regression's batch size, when each run has its own). */
  overriddenParams() {
    const state = this.page.state();
    const own = this.page.catalog.isRegression(state.problem) && state.runs.every((run) => run.batch_size != null);
    return own ? { batch_size: "Every run sets its own batch size, on its card" } : {};
  }

  /** A regression run's own batch size: a log slider from 1 to n_samples. */
  batchControl(run, problem) {
    const state = this.page.state();
    if (problem.kind !== "regression") return null;
    const spec = problem.params.find((p) => p.name === "batch_size");
    if (!spec) return null;
    return { spec, value: S.batchOf(run, state), max: state.problemParams.n_samples ?? spec.max, inherited: run.batch_size == null };
  }

  /** Select run i: its card is marked, its paths drawn on top and thicker. */
  select(i) {
    if (i === this.selected) return;
    this.selected = i;
    this.spotlightChanged();
  }

  /** The formula over the surface (a typed one as the server last parsed it). */
  renderFormula() {
    const state = this.page.state();
    const problem = this.page.catalog.problem(state.problem);
    $("#formula").innerHTML = problem.formula_mathml || "";
    $("#formula").title = problem.label;
  }

  renderProblem() {
    const { catalog, changed } = this.page;
    const state = this.page.state();
    const problem = catalog.problem(state.problem);
    $("#problem").value = problem.name;
    $("#problem-desc").textContent = problem.description;
    this.renderFormula();
    // A formula of your own: the field it is typed in, its preview and its errors.
    $("#problem-formula").replaceChildren(...(catalog.isTyped(problem.name) ? [this.page.formula.element()] : []));
    const regression = problem.kind === "regression";
    $("#lossx-wrap").hidden = !regression;
    $("#loss-against").textContent = regression && state.lossx === "epochs" ? "against epoch" : "against update";
    this.page.stage.setEpochs(regression && state.lossx === "epochs");
    $("#problem-params").replaceChildren(
      problemControls(problem, state.problemParams, (name, value, final) => {
        state.problemParams[name] = value;
        state.problemParams = catalog.problemParams(state.problem, state.problemParams);
        catalog.fitBatches(state);
        if (name === "n_samples" || (name === "batch_size" && final)) this.renderRuns(); // α(t) depends on epochs
        if (name === "n_samples" && final) this.renderProblem();
        changed({ push: final, ground: final || state.instant, rerun: final || state.instant });
      }, this.overriddenParams()),
    );
  }
}
