// Presentation mode (#present, key p: larger type, thicker lines, no side panel;
// Esc or the button's "Exit" leaves it) and the side panel's own toggle
// (#panel-toggle, key h).

import { setPresentation } from "./plots.js";

const $ = (sel) => document.querySelector(sel);

const presenting = () => document.body.classList.contains("present");

export function setPanel(hidden) {
  document.body.classList.toggle("panel-hidden", hidden);
  $("#panel-toggle").setAttribute("aria-pressed", String(hidden));
  $("#panel-toggle .label").textContent = hidden ? "Show panel" : "Panel";
}

/** relayout(): type and line widths are read when a view is laid out, so lay them all out again. */
export function setPresent(on, relayout) {
  document.body.classList.toggle("present", on);
  const button = $("#present");
  button.setAttribute("aria-pressed", String(on));
  button.setAttribute("aria-label", on ? "Exit presentation mode" : "Presentation mode");
  button.title = on ? "Leave presentation mode (Esc or p)" : "Presentation mode: big type and thick lines for a projector (p)";
  setPresentation(on);
  setPanel(on);
  relayout();
}

/** Wire both buttons; the toggles are returned for the keys. */
export function wirePresenting({ relayout }) {
  const togglePresent = () => setPresent(!presenting(), relayout);
  const exitPresent = () => presenting() && setPresent(false, relayout);
  const togglePanel = () => setPanel(!document.body.classList.contains("panel-hidden"));
  $("#present").addEventListener("click", togglePresent);
  $("#panel-toggle").addEventListener("click", togglePanel);
  return { togglePresent, exitPresent, togglePanel };
}
