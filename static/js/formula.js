// A surface of your own (the problem `custom`): the field its formula is typed in,
// formulas to start from, a preview of the formula as the server parsed it, and
// its errors with the place marked.
//
// Nothing here parses the formula: the server does. A pause in the typing sends
// the formula as a POST /api/surface, whose answer is the grid, the parsed
// formula as MathML (the preview) and the fitted window, or a 422 whose `ctx`
// marks the place (docs/API.md, Problems, custom). Only a formula the server
// drew becomes the state (and the URL): a run never goes out with a formula
// that does not parse, and the page and the API cannot disagree on the grammar.
// The answer is cached (api.js), so the ground the stage then asks for is this
// very answer.

import * as S from "./state.js";
import { fetchSurface } from "./api.js";
import { h } from "./controls.js";

const PAUSE_MS = 300; // typing stops this long before the formula is checked

/** The error item of a formula, if the answer holds one: the expression's, else the start's. */
function formulaItem(error) {
  const items = error.items || [];
  return items.find((item) => item.loc?.at(-1) === "expression") || items.find((item) => item.loc?.includes("start")) || null;
}

export class FormulaEditor {
  /**
   * page: {catalog, state(), resolution(), apply(expression, origin) → the state takes
   *        a formula the server drew (and, given, the start its window is fitted around)}
   */
  constructor(page) {
    this.page = page;
    this.timer = null;
    this.checking = 0; // the latest check: older answers are dropped
    this.box = null;
  }

  /** The editor for the state's formula (rebuilt with the problem card). */
  element() {
    const { catalog } = this.page;
    const state = this.page.state();
    const entry = catalog.problems.get(state.problem);
    const problem = catalog.problem(state.problem);
    const input = h("input", {
      type: "text",
      id: "expression",
      class: "expression",
      "data-control": "expression",
      value: state.expression,
      maxlength: entry.grammar.max_length,
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      "aria-describedby": "expression-error",
      title: `Numbers, x, y, + - * / ^, ${entry.grammar.functions.join(" ")}, ${entry.grammar.constants.join(", ")}`,
    });
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.check(input.value), PAUSE_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      clearTimeout(this.timer);
      this.check(input.value);
    });
    const examples = entry.examples.map((example) =>
      h("button", { type: "button", class: "chip", "data-example": example.name, title: example.description, onclick: () => this.pick(example) }, example.label),
    );
    this.input = input;
    this.preview = h("div", { class: "expression-preview", id: "expression-preview", "aria-live": "polite", html: problem.formula_mathml || "" });
    this.error = h("div", { class: "expression-error", id: "expression-error", role: "alert", hidden: true });
    this.box = h(
      "div",
      { class: "param formula-editor" },
      h("label", { class: "expression-label", for: "expression" }, h("span", { class: "fx" }, "f(x, y) ="), input),
      this.preview,
      this.error,
      h("div", { class: "examples", role: "group", "aria-label": "Formulas to start from" }, h("span", { class: "muted" }, "Try"), ...examples),
    );
    return this.box;
  }

  /** A formula to start from: its text and its start. */
  pick(example) {
    this.input.value = example.expression;
    clearTimeout(this.timer);
    this.check(example.expression, example.start);
  }

  /** Ask the server to draw `text` (from `origin`, or the state's start); take it if it does. */
  async check(text, origin) {
    const { catalog } = this.page;
    const state = this.page.state();
    const token = ++this.checking;
    const candidate = S.clone(state);
    candidate.expression = text;
    if (origin !== undefined) candidate.origin = origin;
    const body = { name: state.problem, ...S.toRequest(candidate, catalog).problem };
    this.box?.classList.add("checking");
    try {
      const answer = await fetchSurface(body, state.seed, this.page.resolution());
      if (token !== this.checking) return;
      this.showError(null);
      this.preview.innerHTML = answer.formula_mathml || "";
      if (text !== state.expression || origin !== undefined) this.page.apply(text, candidate.origin);
    } catch (error) {
      if (token !== this.checking) return;
      this.showError(error, text);
    } finally {
      if (token === this.checking) this.box?.classList.remove("checking");
    }
  }

  /** The server's answer to the state's own formula (a link, a lesson): preview it. */
  shown() {
    const problem = this.page.catalog.problem(this.page.state().problem);
    if (this.preview && this.input?.value === problem.expression) {
      this.preview.innerHTML = problem.formula_mathml || "";
      this.showError(null);
    }
  }

  /** An error under the field: the rule, and the formula with the offending part marked. */
  showError(error, text = "") {
    if (!this.error) return;
    this.input?.setAttribute("aria-invalid", String(!!error));
    if (!error) {
      this.error.hidden = true;
      this.error.replaceChildren();
      return true;
    }
    const item = formulaItem(error);
    const rule = item ? item.ctx?.rule || item.msg.split("\n")[0] : error.message;
    const parts = [h("p", { class: "rule" }, rule)];
    if (item?.ctx?.column) {
      const from = item.ctx.column - 1;
      const to = Math.max(from + 1, item.ctx.end - 1);
      parts.push(h("code", { class: "marked" }, text.slice(0, from), h("mark", {}, text.slice(from, to) || " "), text.slice(to)));
    }
    this.error.replaceChildren(...parts);
    this.error.hidden = false;
    return true;
  }
}
