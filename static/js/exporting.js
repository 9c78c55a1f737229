// Export (#export-menu): a slide (PNG: the charts, legend, formula and every run's
// settings), an animation (WebM, recorded in the browser), the runs as CSV (every
// point, with each run's optimiser and settings) or JSON (every point received,
// not only the ones the playhead shows).

import { h } from "./controls.js";
import { slidePNG } from "./slides.js";
import { recordWebM } from "./recording.js";

const $ = (sel) => document.querySelector(sel);

/**
 * page: {run() → the run in flight, state(), catalog, lesson() → the open lesson or null,
 *        scene() → what a slide shows (slides.js), toast(text)}
 */
export function wireExport(page) {
  const menu = $("#export-menu");
  const exporters = { csv: exportCSV, json: exportJSON, png: exportPNG, webm: exportWebM };
  menu.querySelectorAll("[data-export]").forEach((btn) =>
    btn.addEventListener("click", async () => {
      menu.open = false;
      btn.disabled = true;
      try {
        await exporters[btn.dataset.export](page);
      } catch (error) {
        page.toast(`Export failed: ${error.message}`);
      } finally {
        btn.disabled = false;
      }
    }),
  );
  document.addEventListener("click", (e) => {
    if (menu.open && !menu.contains(e.target)) menu.open = false;
  });
}

function download(name, blob) {
  const url = URL.createObjectURL(blob);
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

/** A CSV field: quoted when it holds a comma, a quote or a line break. */
function field(value) {
  const text = value == null ? "" : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The runs on screen as rows: run (1-based, as on the cards), optimizer, t, x, y,
 * loss, then what tells runs apart — the legend's name, every hyper-parameter
 * (a column per name any run has, empty where a run's optimiser has none), the
 * schedule and its parameters (lr.<name>) and, on a regression, the batch size.
 */
function exportCSV(page) {
  const current = page.run();
  if (!current) return;
  const runs = current.request.runs;
  const union = (key) => [...new Set(runs.flatMap((run) => Object.keys(run[key] || {})))];
  const params = union("params");
  const schedule = union("schedule").filter((name) => name !== "name");
  const batch = runs.some((run) => run.batch_size != null);
  const names = page.scene().runs.map((run) => run.name);
  const head = ["run", "optimizer", "t", "x", "y", "loss", "label", ...params, "schedule", ...schedule.map((n) => `lr.${n}`), ...(batch ? ["batch_size"] : [])];
  const lines = [head.join(",")];
  current.buffers.forEach((buf, i) => {
    const run = runs[i];
    const settings = [
      names[i],
      ...params.map((name) => run.params[name]),
      run.schedule?.name,
      ...schedule.map((name) => run.schedule?.[name]),
      ...(batch ? [run.batch_size ?? current.request.problem.batch_size] : []),
    ]
      .map(field)
      .join(",");
    for (let t = 0; t < buf.x.length; t++) lines.push(`${i + 1},${run.optimizer},${t},${buf.x[t]},${buf.y[t]},${buf.loss[t]},${settings}`);
  });
  download(`${fileStem(page)}.csv`, new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
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
  download(`${fileStem(page)}.json`, new Blob([JSON.stringify(body, null, 1)], { type: "application/json" }));
}

async function exportPNG(page) {
  if (!window.Plotly || !page.run()) return;
  download(`${fileStem(page)}.png`, await slidePNG(page.scene()));
}

async function exportWebM(page) {
  const current = page.run();
  if (!current?.done) {
    page.toast("Wait for the runs to finish, then export the animation.");
    return;
  }
  page.toast("Recording the animation…");
  download(`${fileStem(page)}.webm`, await recordWebM(page.scene(), current));
  page.toast("Animation saved (WebM): it plays in browsers, PowerPoint, Keynote and Google Slides.");
}
