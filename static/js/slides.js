// A slide of the scene as a PNG (1920 × 1080): the title and the problem's
// formula above, the surface and loss charts as Plotly draws them (type scaled
// up for a slide), and a legend with every run's settings below, so the picture
// explains itself on a slide without the page around it.
/* global Plotly */

export const SLIDE = { width: 1920, height: 1080 };
const INK = "#1f2733";
const MUTED = "#5b6577";
const FONT = "Inter, 'Segoe UI', system-ui, -apple-system, 'DejaVu Sans', sans-serif";

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("could not draw an image"));
    image.src = src;
  });
}

/** A chart as Plotly draws it at w × h, its type `zoom` times larger than on screen. */
async function chartImage(el, w, h, zoom) {
  const url = await Plotly.toImage(el, { format: "png", width: Math.round(w / zoom), height: Math.round(h / zoom), scale: zoom });
  return loadImage(url);
}

/** The formula's MathML as an image (an SVG with the MathML inside), or null where a browser cannot. */
async function formulaImage(formula, height) {
  const math = formula?.querySelector("math");
  if (!math) return null;
  const box = formula.getBoundingClientRect();
  const scale = height / Math.max(1, box.height);
  const width = Math.ceil(math.getBoundingClientRect().width * scale) + 16;
  const xml = new XMLSerializer().serializeToString(math);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><foreignObject width="100%" height="100%"><div xmlns="http://www.w3.org/1999/xhtml" style="font: ${Math.round(parseFloat(getComputedStyle(formula).fontSize) * scale)}px 'STIX Two Math', 'Latin Modern Math', math, serif; color: ${INK}; white-space: nowrap; line-height: ${height}px">${xml}</div></foreignObject></svg>`;
  try {
    return await loadImage(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
  } catch {
    return null;
  }
}

function fitText(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > maxWidth) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Rows of the legend: a colour swatch, the name and its mark (✓ / ✕), every setting under it. */
function drawLegend(ctx, runs, x, y, width, bottom) {
  const visible = runs.filter((run) => !run.hidden);
  const columns = visible.length > 4 ? 2 : 1;
  const columnWidth = (width - (columns - 1) * 40) / columns;
  const rowHeight = Math.min(64, Math.floor((bottom - y) / Math.ceil(visible.length / columns)));
  visible.forEach((run, k) => {
    const cx = x + (k % columns) * (columnWidth + 40);
    const cy = y + Math.floor(k / columns) * rowHeight;
    ctx.fillStyle = run.color;
    ctx.fillRect(cx, cy + 10, 44, 8);
    ctx.fillStyle = INK;
    ctx.font = `${run.selected ? 700 : 600} 26px ${FONT}`;
    ctx.textBaseline = "middle";
    const name = run.badge ? `${run.name}   ${run.badge}` : run.name;
    ctx.fillText(fitText(ctx, name, columnWidth - 60), cx + 58, cy + 14);
    ctx.fillStyle = MUTED;
    ctx.font = `400 20px ${FONT}`;
    ctx.fillText(fitText(ctx, run.settings, columnWidth - 60), cx + 58, cy + 42);
  });
}

/**
 * scene: {title, subtitle, formula (the #formula element), surface, loss (graph
 * elements), runs: [{name, color, hidden, selected, badge, settings}]} → a PNG Blob.
 */
export async function slidePNG(scene) {
  const canvas = document.createElement("canvas");
  canvas.width = SLIDE.width;
  canvas.height = SLIDE.height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, SLIDE.width, SLIDE.height);
  const pad = 48;
  const legendRows = Math.min(4, Math.ceil(scene.runs.filter((r) => !r.hidden).length / (scene.runs.length > 4 ? 2 : 1)));
  const chartsTop = 150;
  const chartsBottom = SLIDE.height - pad - legendRows * 64 - 16;
  const surfaceWidth = Math.round((SLIDE.width - 2 * pad) * 0.58);
  const lossWidth = SLIDE.width - 2 * pad - surfaceWidth - 24;
  const height = chartsBottom - chartsTop;
  const [surface, loss, formula] = await Promise.all([
    chartImage(scene.surface, surfaceWidth, height, 1.45),
    chartImage(scene.loss, lossWidth, height, 1.45),
    formulaImage(scene.formula, 64),
  ]);
  ctx.fillStyle = INK;
  ctx.textBaseline = "alphabetic";
  ctx.font = `700 44px ${FONT}`;
  ctx.fillText(fitText(ctx, scene.title, SLIDE.width - 2 * pad), pad, 74);
  ctx.fillStyle = MUTED;
  ctx.font = `400 24px ${FONT}`;
  if (scene.subtitle) ctx.fillText(fitText(ctx, scene.subtitle, SLIDE.width - 2 * pad), pad, 112);
  if (formula) {
    const w = Math.min(formula.width, SLIDE.width / 2 - pad);
    ctx.drawImage(formula, SLIDE.width - pad - w, 26, w, (formula.height * w) / formula.width);
  }
  ctx.drawImage(surface, pad, chartsTop, surfaceWidth, height);
  ctx.drawImage(loss, pad + surfaceWidth + 24, chartsTop, lossWidth, height);
  drawLegend(ctx, scene.runs, pad, chartsBottom + 16, SLIDE.width - 2 * pad, SLIDE.height - pad);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser made no PNG"))), "image/png"));
}
