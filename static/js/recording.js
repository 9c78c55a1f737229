// The scene as an animation for slides: WebM recorded in the browser (a canvas
// and MediaRecorder; no encoder on the server). Each frame is drawn here rather
// than by Plotly (a Plotly image per frame is ~100 ms: the clip would stutter):
// the painted ground under the paths up to update t, the loss curves beside it,
// the title, t and a legend.

import { FLOOR_DECADES, fmtNumber } from "./plots.js";
import { nestedWidths } from "./overlap.js";

const W = 1280;
const H = 720;
const FPS = 30;
const MAX_FRAMES = 300; // 10 s at most: longer runs are sampled
const HOLD = 1200; // ms on the last frame
const INK = "#1f2733";
const MUTED = "#5b6577";
const FONT = "Inter, 'Segoe UI', system-ui, -apple-system, 'DejaVu Sans', sans-serif";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("could not load the ground"));
    image.src = src;
  });
}

/** Round tick values between lo and hi, about `count` of them. */
function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** A linear or log map from values to pixels. */
function axis(lo, hi, from, to, log) {
  const f = log ? Math.log10 : (v) => v;
  const a = f(lo);
  const b = f(hi);
  return (v) => from + ((f(v) - a) / (b - a || 1)) * (to - from);
}

function star(ctx, x, y, r) {
  ctx.beginPath();
  for (let k = 0; k < 10; k++) {
    const angle = -Math.PI / 2 + (k * Math.PI) / 5;
    const radius = k % 2 ? r * 0.45 : r;
    ctx.lineTo(x + radius * Math.cos(angle), y + radius * Math.sin(angle));
  }
  ctx.closePath();
  ctx.fillStyle = "#ffffff";
  ctx.fill();
  ctx.strokeStyle = INK;
  ctx.lineWidth = 2;
  ctx.stroke();
}

/** Everything that stays the same from frame to frame: boxes, maps, ticks. */
function frameLayout(scene, current) {
  const { bounds } = scene;
  const top = 70;
  const bottom = H - 70;
  const sx = bounds.x[1] - bounds.x[0];
  const sy = bounds.y[1] - bounds.y[0];
  // The surface keeps its aspect (a circle stays round): a wide one above the loss
  // panel, any other in the left 58 % beside it.
  const stacked = sx / sy > 1.6;
  const box = stacked ? { x: 70, y: top + 10, w: W - 110, h: (bottom - top) * 0.56 - 40 } : { x: 70, y: top + 10, w: W * 0.58 - 100, h: bottom - top - 50 };
  const scale = Math.min(box.w / sx, box.h / sy);
  const plot = { w: sx * scale, h: sy * scale };
  plot.x = box.x + (box.w - plot.w) / 2;
  plot.y = box.y + (box.h - plot.h) / 2;
  const px = axis(bounds.x[0], bounds.x[1], plot.x, plot.x + plot.w, false);
  const py = axis(bounds.y[0], bounds.y[1], plot.y + plot.h, plot.y, false);
  // The loss panel: log when the loss chart is, from the highest start down to the lowest loss (or the floor).
  const losses = current.buffers.filter((_, i) => !scene.runs[i].hidden).flatMap((buf) => buf.loss.filter(Number.isFinite));
  const log = scene.lossType === "log";
  let lo = Math.min(...losses);
  let hi = Math.max(...losses);
  if (log) {
    const start = Math.max(...current.buffers.map((buf) => buf.loss[0]).filter((v) => v > 0));
    lo = Math.max(lo, start * 10 ** -FLOOR_DECADES);
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
  } else {
    const pad = (hi - lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  const steps = current.request.steps;
  const loss = stacked
    ? { x: 110, y: box.y + box.h + 62, w: W - 150, h: bottom - (box.y + box.h + 62) - 44 }
    : { x: W * 0.58 + 60, y: top + 10, w: W * 0.42 - 90, h: bottom - top - 50 };
  const xlog = scene.xlog;
  const lx = axis(xlog ? 1 : 0, steps, loss.x, loss.x + loss.w, xlog);
  const ly = axis(lo, hi, loss.y + loss.h, loss.y, log);
  // Coinciding paths nested as on the page: a covered run drawn wider, around the one over it.
  const own = scene.runs.map((run) => (run.selected ? 5 : 3.5));
  const paths = current.buffers.map((buf, i) => (scene.runs[i].hidden ? null : buf));
  const widths = nestedWidths(paths, scene.order, bounds, own, 1.6, scene.runs.map((run) => !run.noisy));
  return { plot, px, py, loss, lx, ly, lo, hi, log, xlog, steps, widths };
}

function drawAxes(ctx, L, scene) {
  const { plot, px, py, loss, lx, ly } = L;
  ctx.strokeStyle = "#8a94a6";
  ctx.lineWidth = 1.5;
  ctx.strokeRect(plot.x, plot.y, plot.w, plot.h);
  ctx.strokeRect(loss.x, loss.y, loss.w, loss.h);
  ctx.fillStyle = INK;
  ctx.font = `400 18px ${FONT}`;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of niceTicks(scene.bounds.x[0], scene.bounds.x[1], 5)) ctx.fillText(fmtNumber(v), px(v), plot.y + plot.h + 8);
  ctx.fillText(scene.axes[0], plot.x + plot.w / 2, plot.y + plot.h + 32);
  const xTicks = L.xlog ? [1, 10, 100, 1000, 10000].filter((v) => v <= L.steps) : niceTicks(0, L.steps, 5);
  for (const v of xTicks) ctx.fillText(fmtNumber(v), lx(v), loss.y + loss.h + 8);
  ctx.fillText(scene.epochs ? "epoch" : "update t", loss.x + loss.w / 2, loss.y + loss.h + 32);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of niceTicks(scene.bounds.y[0], scene.bounds.y[1], 5)) ctx.fillText(fmtNumber(v), plot.x - 8, py(v));
  const yTicks = L.log ? decades(L.lo, L.hi) : niceTicks(L.lo, L.hi, 5);
  for (const v of yTicks) ctx.fillText(fmtNumber(v), loss.x - 8, ly(v));
  ctx.save();
  ctx.translate(plot.x - 52, plot.y + plot.h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(scene.axes[1], 0, 0);
  ctx.restore();
}

function decades(lo, hi) {
  const first = Math.ceil(Math.log10(lo));
  const last = Math.floor(Math.log10(hi));
  const every = Math.max(1, Math.ceil((last - first) / 6));
  const out = [];
  for (let k = first; k <= last; k += every) out.push(10 ** k);
  return out;
}

/** One frame: everything up to update t. */
function drawFrame(ctx, scene, current, L, ground, t) {
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = INK;
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  ctx.font = `700 30px ${FONT}`;
  ctx.fillText(scene.title, 40, 48);
  ctx.textAlign = "right";
  ctx.font = `600 30px ${FONT}`;
  ctx.fillText(`t = ${t}`, W - 40, 48);
  const { plot, px, py, loss, lx, ly } = L;
  if (ground) ctx.drawImage(ground, plot.x, plot.y, plot.w, plot.h);
  drawAxes(ctx, L, scene);
  for (const m of scene.minima || []) if (m[0] >= scene.bounds.x[0] && m[0] <= scene.bounds.x[1] && m[1] >= scene.bounds.y[0] && m[1] <= scene.bounds.y[1]) star(ctx, px(m[0]), py(m[1]), 11);
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  const heads = [];
  for (const i of scene.order) {
    const run = scene.runs[i];
    const buf = current.buffers[i];
    if (run.hidden || !buf) continue;
    const n = Math.min(t + 1, buf.x.length);
    const width = L.widths[i];
    // The path on the surface, clipped to the plot.
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x, plot.y, plot.w, plot.h);
    ctx.clip();
    ctx.strokeStyle = run.color;
    ctx.lineWidth = width;
    ctx.beginPath();
    for (let k = 0; k < n; k++) ctx.lineTo(px(buf.x[k]), py(buf.y[k]));
    ctx.stroke();
    ctx.restore();
    if (n) heads.push([px(buf.x[n - 1]), py(buf.y[n - 1]), run]);
    // Its loss, clipped to the loss panel; long runs drawn every few points.
    ctx.save();
    ctx.beginPath();
    ctx.rect(loss.x, loss.y, loss.w, loss.h);
    ctx.clip();
    ctx.strokeStyle = run.color;
    ctx.lineWidth = run.selected ? 4 : 2.8;
    ctx.beginPath();
    const every = Math.max(1, Math.ceil(n / 1500));
    for (let k = L.xlog ? 1 : 0; k < n; k += every) {
      const v = buf.loss[k];
      if (Number.isFinite(v) && (!L.log || v > 0)) ctx.lineTo(lx(k), ly(Math.max(v, L.lo)));
    }
    ctx.stroke();
    ctx.restore();
  }
  // Every run's current point over every path, as on the page.
  ctx.save();
  ctx.beginPath();
  ctx.rect(plot.x, plot.y, plot.w, plot.h);
  ctx.clip();
  for (const [x, y, run] of heads) {
    ctx.beginPath();
    ctx.arc(x, y, run.selected ? 10 : 8, 0, 2 * Math.PI);
    ctx.fillStyle = run.color;
    ctx.fill();
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2.5;
    ctx.stroke();
  }
  ctx.restore();
  // The legend along the bottom.
  ctx.font = `600 20px ${FONT}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  let x = 40;
  for (const i of scene.order.slice().sort((a, b) => a - b)) {
    const run = scene.runs[i];
    if (run.hidden) continue;
    const width = ctx.measureText(run.name).width;
    if (x + width + 60 > W - 40) break;
    ctx.fillStyle = run.color;
    ctx.fillRect(x, H - 36, 30, 7);
    ctx.fillStyle = INK;
    ctx.fillText(run.name, x + 40, H - 32);
    x += width + 80;
  }
}

function mimeType() {
  for (const type of ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"]) if (MediaRecorder.isTypeSupported(type)) return type;
  return "";
}

/**
 * scene: as for a slide, plus {ground (the painted ground's image URL), bounds,
 * axes, minima, lossType, xlog, epochs, order}; current: the finished run (feed.js).
 * Plays it from t = 0 into a WebM Blob: one frame per update, or evenly sampled
 * ones for long runs, at 30 frames per second, holding the end for a moment.
 */
export async function recordWebM(scene, current) {
  if (typeof MediaRecorder === "undefined") throw new Error("this browser cannot record video");
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext("2d");
  const ground = scene.ground ? await loadImage(scene.ground) : null;
  const layout = frameLayout(scene, current);
  const steps = current.request.steps;
  const frames = Math.min(steps + 1, MAX_FRAMES);
  drawFrame(ctx, scene, current, layout, ground, 0);
  const recorder = new MediaRecorder(canvas.captureStream(FPS), { mimeType: mimeType(), videoBitsPerSecond: 5e6 });
  const chunks = [];
  recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  recorder.start(250);
  const began = performance.now();
  for (let k = 0; k < frames; k++) {
    drawFrame(ctx, scene, current, layout, ground, Math.round((k / Math.max(1, frames - 1)) * steps));
    const next = began + ((k + 1) * 1000) / FPS;
    await sleep(Math.max(0, next - performance.now()));
  }
  await sleep(HOLD);
  recorder.stop();
  await stopped;
  return new Blob(chunks, { type: "video/webm" });
}
