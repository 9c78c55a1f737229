// The run in flight: the request for the state now, sent over the one socket
// (or POSTed, when the test hook's transport says so), paced so a fast drag stays
// within the server's rate limit (latest request wins), and its points gathered
// into per-run buffers as they arrive. What is shown of them is stage.js's job.

import { RunStream, fetchRuns } from "./api.js";

const SEND_GAP = 40; // ms between sends: the server allows 30 messages/s

/**
 * A run's anatomy as it arrives (docs/API.md, Anatomy), one list per coordinate:
 * entry k is update k + 1's, the update that made point k + 1.
 */
function emptyAnatomy() {
  return { gx: [], gy: [], lx: null, ly: null, alpha: [], rx: [], ry: [], state: {} };
}

function appendAnatomy(anatomy, run, from) {
  const pairs = [[run.grad, "gx", "gy"], [run.effective_lr, "rx", "ry"]];
  if (run.lookahead) {
    anatomy.lx ??= [];
    anatomy.ly ??= [];
    pairs.push([run.lookahead, "lx", "ly"]);
  }
  for (const [symbol, values] of Object.entries(run.state)) {
    anatomy.state[symbol] ??= { x: [], y: [] };
    pairs.push([values, null, null, anatomy.state[symbol]]);
  }
  for (const [values, a, b, into = anatomy] of pairs) {
    const xs = into[a ?? "x"];
    const ys = into[b ?? "y"];
    for (const [x, y] of values) {
      xs.push(x);
      ys.push(y);
    }
  }
  // alpha_t has one per point: the start's (from = 0) is the first update's again.
  for (const alpha of from === 0 ? run.alpha_t.slice(1) : run.alpha_t) anatomy.alpha.push(alpha);
}

export class RunFeed {
  /**
   * page: {hook, request() → the request for the state now, instant() → instant mode,
   *        sent(animate) → a new run left, data(message) → the run's dataset arrived,
   *        points() → new points arrived, done() → every point is in,
   *        failed(detail), status(status) → the socket opened or was lost}
   */
  constructor(page) {
    this.page = page;
    this.current = null; // {id, request, buffers, received, done, started, data}
    this.sendTimer = null;
    this.lastSend = 0;
    this.postAbort = null;
    this.animateNext = false;
    this.stream = new RunStream({
      onStarted: (m) => this.started(m),
      onChunk: (m) => this.chunk(m),
      onDone: (m) => this.done(m),
      onError: (detail) => page.failed(detail),
      onStatus: (status) => page.status(status),
    });
  }

  /** Run the state as it is now: at once, or as soon as the send gap allows. */
  rerun({ animate = !this.page.instant() } = {}) {
    this.animateNext = animate;
    if (this.sendTimer) return;
    const wait = this.lastSend + SEND_GAP - performance.now();
    if (wait <= 0) this.send();
    else this.sendTimer = setTimeout(() => this.send(), wait);
  }

  send() {
    const { hook } = this.page;
    this.sendTimer = null;
    this.lastSend = performance.now();
    const request = this.page.request();
    if (hook.transport === "post") {
      this.postAbort?.abort();
      this.postAbort = new AbortController();
      const id = (hook.postId = (hook.postId || 0) + 1) + 1e6;
      this.newRun(id, request);
      fetchRuns(request, this.postAbort.signal)
        .then((result) => {
          if (this.current?.id !== id) return;
          const { runs, ...head } = result;
          this.started({ id, ...head, runs: runs.map(({ path, loss, diverged_at, diverged_reason, converged_at, blew_up_at, ...run }) => run) });
          this.chunk({ id, from: 0, runs: runs.map(({ diverged_at, diverged_reason, converged_at, blew_up_at, ...r }) => r) });
          this.done({ id, runs: runs.map((r) => ({ diverged_at: r.diverged_at, diverged_reason: r.diverged_reason, converged_at: r.converged_at, blew_up_at: r.blew_up_at })) });
        })
        .catch((error) => {
          if (error.name !== "AbortError") this.page.failed(error.message);
        });
    } else {
      this.newRun(this.stream.run(request, 0), request);
    }
    this.page.sent(this.animateNext);
  }

  newRun(id, request) {
    this.current = {
      id,
      request,
      buffers: request.runs.map(() => ({ x: [], y: [], loss: [], diverged: null, why: null, converged: null, blewUp: null, anatomy: request.anatomy ? emptyAnatomy() : null })),
      received: 0,
      done: false,
      sentAt: performance.now(),
      data: null,
    };
  }

  started(message) {
    const current = this.current;
    if (!current || message.id !== current.id) return;
    current.started = message;
    if (message.data) {
      current.data = message.data;
      this.page.data(message.data);
    }
  }

  chunk(message) {
    const current = this.current;
    if (!current || message.id !== current.id) return;
    message.runs.forEach((run, i) => {
      const buf = current.buffers[i];
      if (!buf) return;
      for (let k = 0; k < run.path.length; k++) {
        buf.x.push(run.path[k][0]);
        buf.y.push(run.path[k][1]);
        buf.loss.push(run.loss[k]);
      }
      if (buf.anatomy && run.grad) appendAnatomy(buf.anatomy, run, message.from);
      current.received = Math.max(current.received, message.from + run.path.length);
    });
    this.page.points();
  }

  done(message) {
    const current = this.current;
    if (!current || message.id !== current.id) return;
    current.done = true;
    current.doneAt = performance.now();
    message.runs.forEach((run, i) => {
      if (current.buffers[i]) {
        current.buffers[i].diverged = run.diverged_at ?? null;
        current.buffers[i].why = run.diverged_reason ?? null;
        current.buffers[i].converged = run.converged_at ?? null;
        current.buffers[i].blewUp = run.blew_up_at ?? null;
      }
    });
    this.page.done();
  }
}
