// The run in flight: the request for the state now, sent over the one socket
// (or POSTed, when the test hook's transport says so), paced so a fast drag stays
// within the server's rate limit (latest request wins), and its points gathered
// into per-run buffers as they arrive. What is shown of them is stage.js's job.
//
// A run's points depend only on its own settings, the problem, the steps and the seed
// (common random numbers), so a run whose settings did not change keeps the points
// it has: only the runs that changed are asked for (a slider moves one run), and a
// request that would change nothing is not sent at all.

import { RunStream, fetchRuns } from "./api.js";

export const SEND_GAP = 40; // ms between sends: the server allows 30 messages/s

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

/** What a run's points depend on (the request's every field but the other runs): two runs with one key have the same points. */
function runKey(request, i) {
  return JSON.stringify([{ ...request, runs: null }, request.runs[i]]);
}

function emptyBuffer(anatomy) {
  return { x: [], y: [], loss: [], diverged: null, why: null, converged: null, blewUp: null, head: null, anatomy: anatomy ? emptyAnatomy() : null };
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
    this.current = null; // {id, request, keys, buffers, fresh, received, done, started, data}
    this.complete = new Map(); // the last whole run's buffers by runKey: points to reuse
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
    const keys = request.runs.map((_, i) => runKey(request, i));
    const kept = keys.map((key) => this.complete.get(key) ?? null);
    const fresh = keys.flatMap((_, i) => (kept[i] ? [] : [i]));
    // The run in flight is this very request: nothing to send, unless a replay is asked
    // for or something else (a sweep) took its place on the socket. (One already whole
    // is run again from the points kept, below: a new id at no cost.)
    const previous = this.current;
    const inFlight = previous && !previous.done && (hook.transport === "post" || this.stream.currentId === previous.id);
    if (inFlight && !this.animateNext && keys.join("\n") === previous.keys.join("\n")) {
      this.page.points(); // the views may still want a redraw (a new layout, another run on top)
      return;
    }
    // Only the runs whose points are not here already.
    const asked = fresh.length === keys.length ? request : { ...request, runs: fresh.map((i) => request.runs[i]) };
    if (!fresh.length) {
      this.newRun(this.stream.skip(), request, keys, kept, fresh);
      this.page.sent(this.animateNext);
      this.finished({ id: this.current.id, runs: [] });
      return;
    }
    if (hook.transport === "post") {
      this.postAbort?.abort();
      this.postAbort = new AbortController();
      const id = (hook.postId = (hook.postId || 0) + 1) + 1e6;
      this.newRun(id, request, keys, kept, fresh);
      fetchRuns(asked, this.postAbort.signal)
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
      this.newRun(this.stream.run(asked, 0), request, keys, kept, fresh);
    }
    this.page.sent(this.animateNext);
  }

  /** A sweep on the stream ended: a run it replaced is sent again (one that replaced the sweep is on its way). */
  resumeAfterSweep() {
    const current = this.current;
    if (current && !current.done && this.page.hook.transport === "ws" && this.stream.currentId !== current.id) this.rerun({ animate: false });
  }

  /** Run i's points and verdicts as received so far (null when nothing was sent yet). */
  run(i) {
    return this.current?.buffers[i] ?? null;
  }

  /** The run for `request`: the `kept` buffers as they are, the `fresh` runs' to fill. */
  newRun(id, request, keys, kept, fresh) {
    const previous = this.current;
    this.current = {
      id,
      request,
      keys,
      buffers: kept.map((buf) => buf ?? emptyBuffer(request.anatomy)),
      fresh, // the request's runs this id computes, in the order the server answers them
      received: fresh.length ? 0 : Math.max(...kept.map((buf) => buf.x.length)),
      done: false,
      sentAt: performance.now(),
      started: previous?.started ? { ...previous.started, runs: kept.map((buf) => buf?.head ?? null) } : null,
      // A regression's dataset depends only on the problem and the seed, which every kept run shares.
      data: fresh.length < keys.length ? (previous?.data ?? null) : null,
    };
  }

  started(message) {
    const current = this.current;
    if (!current || message.id !== current.id) return;
    message.runs?.forEach((run, j) => {
      const buf = current.buffers[current.fresh[j]];
      if (buf) buf.head = run;
    });
    current.started = { ...message, runs: current.buffers.map((buf) => buf.head) };
    if (message.data) {
      current.data = message.data;
      this.page.data(message.data);
    }
  }

  chunk(message) {
    const current = this.current;
    if (!current || message.id !== current.id) return;
    message.runs.forEach((run, j) => {
      const buf = current.buffers[current.fresh[j]];
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
    this.finished(message);
  }

  finished(message) {
    const current = this.current;
    current.done = true;
    current.doneAt = performance.now();
    // Every point is in, of the kept runs too (the fresh ones may have stopped short).
    current.received = Math.max(current.received, ...current.buffers.map((buf) => buf.x.length));
    message.runs.forEach((run, j) => {
      const buf = current.buffers[current.fresh[j]];
      if (buf) {
        buf.diverged = run.diverged_at ?? null;
        buf.why = run.diverged_reason ?? null;
        buf.converged = run.converged_at ?? null;
        buf.blewUp = run.blew_up_at ?? null;
      }
    });
    this.complete = new Map(current.keys.map((key, i) => [key, current.buffers[i]]));
    this.page.done();
  }
}
