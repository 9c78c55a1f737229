// Export (#export-menu): the runs as CSV or JSON (every point received, not only
// the ones the playhead shows) and the surface as a PNG.

import { h } from "./controls.js";

const $ = (sel) => document.querySelector(sel);

/** page: {run() → the run in flight, state(), lesson() → the open lesson or null} */
export function wireExport(page) {
  const menu = $("#export-menu");
  const exporters = { csv: exportCSV, json: exportJSON, png: exportPNG };
  menu.querySelectorAll("[data-export]").forEach((btn) =>
    btn.addEventListener("click", () => {
      menu.open = false;
      exporters[btn.dataset.export](page);
    }),
  );
  document.addEventListener("click", (e) => {
    if (menu.open && !menu.contains(e.target)) menu.open = false;
  });
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}

function fileStem(page) {
  const lesson = page.lesson();
  return `descentlab-${lesson ? lesson.slug : page.state().problem}`;
}

/** The runs on screen as rows: run (1-based, as on the cards), optimizer, t, x, y, loss. */
function exportCSV(page) {
  const current = page.run();
  if (!current) return;
  const lines = ["run,optimizer,t,x,y,loss"];
  current.buffers.forEach((buf, i) => {
    const name = current.request.runs[i].optimizer;
    for (let t = 0; t < buf.x.length; t++) lines.push(`${i + 1},${name},${t},${buf.x[t]},${buf.y[t]},${buf.loss[t]}`);
  });
  download(`${fileStem(page)}.csv`, "text/csv", lines.join("\n") + "\n");
}

/** The runs in the shape POST /api/runs answers. */
function exportJSON(page) {
  const current = page.run();
  if (!current) return;
  const head = current.started || {};
  const body = {
    problem: head.problem || current.request.problem,
    steps: head.steps ?? current.request.steps,
    seed: head.seed ?? current.request.seed,
    runs: current.buffers.map((buf, i) => ({
      ...(head.runs?.[i] || current.request.runs[i]),
      path: buf.x.map((x, t) => [x, buf.y[t]]),
      loss: buf.loss.slice(),
      diverged_at: buf.diverged,
      converged_at: buf.converged,
      blew_up_at: buf.blewUp,
    })),
  };
  if (head.data) body.data = head.data;
  download(`${fileStem(page)}.json`, "application/json", JSON.stringify(body, null, 1));
}

function exportPNG(page) {
  const el = page.state().view === "3d" ? $("#surface-3d") : $("#surface-plot");
  if (window.Plotly && el.data) window.Plotly.downloadImage(el, { format: "png", scale: 2, filename: fileStem(page) });
}
