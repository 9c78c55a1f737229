// Which runs are drawn, and which one leads. A run can be hidden (a click on its
// legend entry) or shown alone (alt-click, or its ◎); the selected run is drawn
// last — on top of the others — and thicker. Plain state, no DOM: the panel
// changes it, the views read it through the stage.

export class Spotlight {
  constructor() {
    this.selected = 0;
    this.hidden = new Set();
  }

  isHidden(i) {
    return this.hidden.has(i);
  }

  /** Hide run i, or show it again (shown, it is also selected: you asked to see it). */
  toggle(i) {
    if (this.hidden.delete(i)) this.selected = i;
    else this.hidden.add(i);
  }

  /** Run i is the only one shown. */
  isAlone(i, count) {
    return count > 1 && !this.hidden.has(i) && this.hidden.size === count - 1;
  }

  /** Show run i alone and select it; if it is alone already, show every run again. */
  solo(i, count) {
    const alone = this.isAlone(i, count);
    this.hidden = new Set();
    if (!alone) for (let k = 0; k < count; k++) if (k !== i) this.hidden.add(k);
    this.selected = i;
  }

  /** The drawing order of `count` runs: by index, the selected one last (on top). */
  order(count) {
    const order = [];
    for (let i = 0; i < count; i++) if (i !== this.selected) order.push(i);
    if (this.selected < count) order.push(this.selected);
    return order;
  }

  /** Run i was removed: later runs move down one index. */
  removed(i) {
    this.hidden = new Set([...this.hidden].filter((k) => k !== i).map((k) => (k > i ? k - 1 : k)));
  }

  /** A run was inserted at index i: runs from i on move up one index. */
  inserted(i) {
    this.hidden = new Set([...this.hidden].map((k) => (k >= i ? k + 1 : k)));
  }

  /** A new scene (a lesson, the history): every run shown, run `selected` leads. */
  reset(selected = 0) {
    this.hidden = new Set();
    this.selected = selected;
  }
}
