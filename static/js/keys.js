// Keyboard shortcuts (ignored while typing in a field, but for Esc) and the help overlay
// (dialog#help: ?, the help button; Esc or a click outside closes it).

const $ = (sel) => document.querySelector(sel);

function openHelp() {
  const dialog = $("#help");
  if (!dialog.open) dialog.showModal();
}

/** actions: {play, next, previous, present, exitPresent, panel, anatomy}: what space, n/→, b/←, p, Esc, h and a do. */
export function wireKeys(actions) {
  $("#help-open").addEventListener("click", openHelp);
  $("#help-close").addEventListener("click", () => $("#help").close());
  $("#help").addEventListener("click", (e) => {
    if (e.target === e.currentTarget) e.currentTarget.close(); // a click on the backdrop
  });
  document.addEventListener("keydown", (e) => keys(e, actions));
}

/** Keyboard: space play/pause, n/→ b/← lessons, p present (Esc leaves), h side panel, a step anatomy, ? help. */
function keys(e, { play, next, previous, present, exitPresent, panel, anatomy }) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  if (e.key !== "Escape" && e.target.closest?.("input, select, textarea, [contenteditable]")) return;
  if (document.querySelector("dialog[open]")) return; // a dialog handles its own keys (Esc closes it)
  const onButton = !!e.target.closest?.("button, summary");
  const map = {
    " ": onButton ? null : play,
    n: next,
    ArrowRight: next,
    b: previous,
    ArrowLeft: previous,
    p: present,
    Escape: exitPresent,
    h: panel,
    a: anatomy,
    "?": openHelp,
  };
  const action = map[e.key.length === 1 ? e.key.toLowerCase() : e.key];
  if (!action) return;
  e.preventDefault();
  action();
}
