// Paths that coincide hide each other: the run drawn last covers the ones under
// it. A run that a later one covers for much of its length is drawn wider than
// the runs over it, so it shows as a coloured border around them (the way
// nested strokes show coinciding routes on a map). Only a steady path (no
// gradient noise) is widened: a noisy one is a cloud, and a wider cloud hides
// more. Pure: paths in, widths out.

const CELLS = 160; // across the plot's longer side: a cell is a few pixels
const COVERED = 0.4; // the share of a run's cells another run must cover to hide it
const MAX_SAMPLES = 64; // per segment, so a run flying off costs nothing

/** The cells a path passes through, inside the plot's bounds. */
function cellsOf(path, bounds) {
  const [x0, x1] = bounds.x;
  const [y0, y1] = bounds.y;
  const size = Math.max(x1 - x0, y1 - y0) / CELLS;
  const columns = Math.ceil((x1 - x0) / size) + 1;
  const cells = new Set();
  const mark = (x, y) => {
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) cells.add(Math.floor((y - y0) / size) * columns + Math.floor((x - x0) / size));
  };
  const { x, y } = path;
  for (let k = 0; k < x.length; k++) {
    if (!Number.isFinite(x[k]) || !Number.isFinite(y[k])) break;
    if (k === 0) {
      mark(x[0], y[0]);
      continue;
    }
    const dx = x[k] - x[k - 1];
    const dy = y[k] - y[k - 1];
    const samples = Math.min(MAX_SAMPLES, Math.ceil((2 * Math.hypot(dx, dy)) / size));
    for (let s = 1; s <= samples; s++) mark(x[k - 1] + (dx * s) / samples, y[k - 1] + (dy * s) / samples);
  }
  return cells;
}

/**
 * Line widths that keep every run in sight. `paths[i]` is run i's {x, y} (null
 * when hidden), `order` the drawing order (last on top), `widths[i]` each run's
 * own width, `edge` the border a covered run keeps on each side, `steady[i]`
 * whether run i may be widened. A steady run that a later-drawn one covers gets
 * the widest of those covering it plus two edges.
 */
export function nestedWidths(paths, order, bounds, widths, edge, steady = paths.map(() => true)) {
  const cells = paths.map((path) => (path ? cellsOf(path, bounds) : null));
  const out = widths.slice();
  for (let k = order.length - 2; k >= 0; k--) {
    const run = order[k];
    const mine = cells[run];
    if (!mine?.size || !steady[run]) continue;
    let under = 0;
    for (let j = k + 1; j < order.length; j++) {
      const other = cells[order[j]];
      if (!other) continue;
      let shared = 0;
      for (const cell of mine) if (other.has(cell)) shared++;
      if (shared / mine.size >= COVERED) under = Math.max(under, out[order[j]]);
    }
    if (under) out[run] = Math.max(out[run], under + 2 * edge);
  }
  return out;
}
