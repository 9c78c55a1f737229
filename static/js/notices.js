// What the page tells the user outside the plots: a passing toast and the
// connection badge (with the "connection lost" banner after a moment offline).

const $ = (sel) => document.querySelector(sel);

let toastTimer = null;

/** A short message at the bottom of the page, for six seconds. */
export function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 6000);
}

let lostTimer = null;

/** The socket's status ("open" or not) in the top bar; the banner if it stays lost. */
export function connection(status) {
  const conn = $("#conn");
  conn.dataset.status = status;
  conn.title = status === "open" ? "connected to the server" : "connection lost: reconnecting";
  conn.textContent = status === "open" ? "live" : "offline";
  clearTimeout(lostTimer);
  if (status === "open") $("#banner").hidden = true;
  else lostTimer = setTimeout(() => ($("#banner").hidden = false), 600);
}
