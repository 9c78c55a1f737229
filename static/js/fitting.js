// Keeping the page's furniture inside the screen. The top bar folds what it can
// spare as the window narrows — its fold-* classes, one at a time, until nothing
// sticks out — and the run-settings button opens what it folded away (steps,
// seed, speed, instant). A formula too long for its card (on a line of its own,
// the card's buttons wrapped under it) shrinks to fit.

const $ = (sel) => document.querySelector(sel);

// In the order they are given up: the brand's name, the settings, narrower parts, a shorter problem name.
const FOLDS = ["fold-brand", "fold-sim", "fold-more", "fold-problem"];

function overflows(el) {
  return el.scrollWidth > el.clientWidth;
}

function fitTopbar(bar) {
  bar.classList.remove(...FOLDS);
  let level = 0;
  // A phone's bar wraps onto two rows (app.css decides when): it starts with the brand's name and the settings folded.
  if (getComputedStyle(bar).flexWrap === "wrap") {
    bar.classList.add(FOLDS[0], FOLDS[1]);
    level = 2;
  }
  while (level < FOLDS.length && overflows(bar)) bar.classList.add(FOLDS[level++]);
}

/** The settings popover: under its button, inside the window. */
function placeSettings(bar) {
  const sim = $("#sim");
  const toggle = $("#sim-toggle");
  sim.style.left = `${Math.max(8, Math.min(toggle.offsetLeft - 12, bar.clientWidth - sim.offsetWidth - 8))}px`;
}

function setSettingsOpen(bar, open) {
  bar.classList.toggle("sim-open", open);
  $("#sim-toggle").setAttribute("aria-expanded", String(open));
  if (open) placeSettings(bar);
}

/** A formula wider than its card (the buttons have wrapped under it already) shrinks to fit, to half size at most. */
function fitFormula(el) {
  el.style.fontSize = "";
  if (!overflows(el)) return;
  const base = parseFloat(getComputedStyle(el).fontSize);
  el.style.fontSize = `${base * Math.max(0.5, (0.98 * el.clientWidth) / el.scrollWidth)}px`;
}

/** Watch the bar and the formula; returns refit() for changes no size reveals (presentation type). */
export function wireFitting() {
  const bar = $(".topbar");
  const formula = $("#formula");
  let pending = false;
  const refit = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fitTopbar(bar);
      fitFormula(formula);
      if (bar.classList.contains("sim-open")) placeSettings(bar);
    });
  };
  const observer = new ResizeObserver(refit);
  observer.observe(bar);
  for (const child of bar.children) observer.observe(child);
  observer.observe(formula.parentElement);
  new MutationObserver(refit).observe(formula, { childList: true });

  $("#sim-toggle").addEventListener("click", () => setSettingsOpen(bar, !bar.classList.contains("sim-open")));
  document.addEventListener("click", (e) => {
    if (bar.classList.contains("sim-open") && !e.target.closest("#sim, #sim-toggle")) setSettingsOpen(bar, false);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && bar.classList.contains("sim-open")) {
      e.preventDefault(); // Esc closes the popover, not presentation mode as well
      setSettingsOpen(bar, false);
      $("#sim-toggle").focus();
    }
  });
  fitTopbar(bar);
  return refit;
}
