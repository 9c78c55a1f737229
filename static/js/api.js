// Talking to the server: one WebSocket for runs, fetch for the rest. No DOM here.

// A request the server refused for arriving too fast is re-sent after this pause.
const RATE_LIMIT_RETRY_MS = 100;

// A server at capacity (or warming up) answers 503 with Retry-After: ask again this often.
const BUSY_RETRIES = 3;

/**
 * Send a JSON body (POST unless `method` says otherwise; none for a GET) and return
 * the parsed answer, or throw an Error with the server's detail. `token` goes in
 * `Authorization: Bearer …` (class mode's teacher and student tokens).
 */
async function requestJSON(path, { method = "POST", body, token, signal } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 503 && attempt < BUSY_RETRIES) {
      const seconds = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((resolve) => setTimeout(resolve, 1000 * seconds));
      continue;
    }
    if (!response.ok) {
      const error = new Error(describeError(data.detail) || `HTTP ${response.status}`);
      // The items themselves, for a caller that marks the place (a formula's error has ctx).
      error.status = response.status;
      error.items = Array.isArray(data.detail) ? data.detail : [];
      throw error;
    }
    return data;
  }
}

/** POST a JSON body and return the parsed answer, or throw an Error with the server's detail. */
function postJSON(path, body, signal) {
  return requestJSON(path, { body, signal });
}

function describeError(detail) {
  if (!detail) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg || d.message || ""}`).join("; ");
  }
  return JSON.stringify(detail);
}

const surfaceCache = new Map();

/** The loss on a grid for drawing contours; cached by request. */
export function fetchSurface(problem, seed, resolution) {
  const body = { problem, seed, resolution };
  const key = JSON.stringify(body);
  if (!surfaceCache.has(key)) {
    const promise = postJSON("/api/surface", body).catch((error) => {
      surfaceCache.delete(key);
      throw error;
    });
    surfaceCache.set(key, promise);
    if (surfaceCache.size > 24) surfaceCache.delete(surfaceCache.keys().next().value);
  }
  return surfaceCache.get(key);
}

/** Every minibatch's gradient of one epoch at one point (POST /api/cloud). */
export function fetchCloud(body, signal) {
  return postJSON("/api/cloud", body, signal);
}

/** Whole runs in one answer (POST /api/runs). */
export function fetchRuns(request, signal) {
  return postJSON("/api/runs", request, signal);
}

/**
 * The run stream (docs/API.md, WebSocket /api/stream). Latest request wins: `run()` gives the request a
 * new id, and messages of any older id are dropped here, so handlers only ever
 * see the run in flight. Reconnects by itself and re-sends an unfinished run.
 *
 * A sweep shares the one task in flight with runs (the server replaces either
 * with the other): `sweep()` takes its own handlers, and a later `run()` or
 * `stop()` cancels it, which its `onCancelled` hears.
 */
export class RunStream {
  constructor({ onStarted, onChunk, onDone, onError, onStatus }) {
    this.handlers = { onStarted, onChunk, onDone, onError, onStatus };
    this.socket = null;
    this.currentId = 0;
    this.pending = null; // the message to (re)send once connected
    this.finished = true;
    this.retry = 0;
    this.status = "connecting";
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/api/stream`;
  }

  connect() {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retry = 0;
      this.setStatus("open");
      if (this.pending && !this.finished) socket.send(JSON.stringify(this.pending));
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.setStatus("lost");
      // Back off gently: a restarting server is usually back within a second or two.
      const delay = Math.min(4000, 250 * 2 ** this.retry++);
      setTimeout(() => this.connect(), delay);
    });
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.handlers.onStatus?.(status);
  }

  /** Start a run; returns its id. Replaces whatever was in flight. */
  run(request, speed = 0) {
    this.dropSweep();
    const id = ++this.currentId;
    this.pending = { type: "run", id, request, speed };
    this.finished = false;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(this.pending));
    return id;
  }

  /**
   * Start a sweep (POST /api/sweeps body) over the socket; returns its id.
   * handlers: onStarted(message), onProgress(done 0…1), onDone(result), onError(detail), onCancelled().
   */
  sweep(request, handlers = {}) {
    this.dropSweep();
    const id = ++this.currentId;
    this.sweepHandlers = handlers;
    this.sweepId = id;
    this.pending = { type: "sweep", id, request };
    this.finished = false;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(this.pending));
    return id;
  }

  /** Whether a sweep is in flight. */
  get sweeping() {
    return this.sweepId != null && this.sweepId === this.currentId && !this.finished;
  }

  dropSweep() {
    const handlers = this.sweepHandlers;
    const live = this.sweeping;
    this.sweepHandlers = null;
    this.sweepId = null;
    if (live) handlers?.onCancelled?.();
  }

  /**
   * A new id for a run that needs nothing from the server (its every point is here
   * already): whatever is in flight is stopped, and its messages dropped from now on.
   */
  skip() {
    if (!this.finished) this.stop();
    else this.dropSweep();
    return ++this.currentId;
  }

  stop() {
    this.dropSweep();
    this.finished = true;
    this.currentId++;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send('{"type":"stop"}');
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.id !== this.currentId) return; // a stale run: a newer one replaced it
    switch (message.type) {
      case "started":
        this.handlers.onStarted?.(message);
        break;
      case "chunk":
        this.handlers.onChunk?.(message);
        break;
      case "done":
        this.finished = true;
        this.handlers.onDone?.(message);
        break;
      case "error":
        if (["rate_limited", "warming", "busy"].includes(message.code) && this.pending?.id === message.id) {
          // The server dropped this very request: send it again once the bucket refills,
          // once the engine, still compiling after a start, is warm, or once it has room.
          const delay = message.retry_after ? 1000 * message.retry_after : RATE_LIMIT_RETRY_MS;
          setTimeout(() => {
            if (this.pending?.id === message.id && this.socket?.readyState === WebSocket.OPEN) {
              this.socket.send(JSON.stringify(this.pending));
            }
          }, delay);
          break;
        }
        this.finished = true;
        if (this.sweepId === message.id) {
          const handlers = this.sweepHandlers;
          this.sweepHandlers = null;
          this.sweepId = null;
          handlers?.onError?.(describeError(message.detail) || "the server refused the sweep");
        } else this.handlers.onError?.(describeError(message.detail) || "the server refused the run");
        break;
      case "sweep_started":
        this.sweepHandlers?.onStarted?.(message);
        break;
      case "progress":
        this.sweepHandlers?.onProgress?.(message.done);
        break;
      case "sweep_done": {
        this.finished = true;
        const handlers = this.sweepHandlers;
        this.sweepHandlers = null;
        this.sweepId = null;
        handlers?.onDone?.(message.result);
        break;
      }
    }
  }
}

// ---------------------------------------------------------------- class mode (docs/API.md, Classes)

const classPath = (code, rest = "") => `/api/classes/${encodeURIComponent(code)}${rest}`;

/** The REST half of a class: create, read, join, scene, challenge, submit, end, results. */
export const classes = {
  create: (title = "") => requestJSON("/api/classes", { body: { title } }),
  get: (code) => requestJSON(classPath(code), { method: "GET" }),
  join: (code, name) => requestJSON(classPath(code, "/students"), { body: { name } }),
  challenge: (code, token, body) => requestJSON(classPath(code, "/challenge"), { body, token }),
  submit: (code, token, params) => requestJSON(classPath(code, "/submissions"), { body: { params }, token }),
  end: (code, token) => requestJSON(classPath(code, "/end"), { body: {}, token }),
  qrURL: (code) => classPath(code, "/qr.svg"),
  /** The results as a file (the route wants the teacher's token, which a plain link cannot carry). */
  async results(code, token, format) {
    const response = await fetch(classPath(code, `/results?format=${format}`), { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(describeError((await response.json().catch(() => ({}))).detail) || `HTTP ${response.status}`);
    return response.blob();
  },
};

/**
 * A class's WebSocket (/ws/classes/{code}): says hello with the token (teacher,
 * student, or none for an observer), hands every message to `onMessage`, and
 * reconnects by itself — the server's `state` answer to each hello restores the
 * view. A refused token (close 1008) is final: `onRefused` hears it.
 *
 * `scene(scene)` is the teacher's low-latency path: the latest scene wins, and one
 * the server dropped for arriving too fast is sent again.
 */
export class ClassSocket {
  constructor(code, { token = null, onMessage, onStatus, onRefused }) {
    this.code = code;
    this.token = token;
    this.handlers = { onMessage, onStatus, onRefused };
    this.socket = null;
    this.retry = 0;
    this.closed = false;
    this.lastScene = null;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/classes/${encodeURIComponent(this.code)}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retry = 0;
      socket.send(JSON.stringify({ type: "hello", token: this.token }));
      // A teacher who changed the scene while the socket was down: the newest goes now.
      if (this.lastScene) socket.send(JSON.stringify(this.lastScene));
      this.handlers.onStatus?.("open");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "error" && message.code === "rate_limited" && this.lastScene) {
        // The bucket refills at its own rate: the newest scene goes again once it has.
        clearTimeout(this.resend);
        this.resend = setTimeout(() => this.send(this.lastScene), RATE_LIMIT_RETRY_MS);
        return;
      }
      this.handlers.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket || this.closed) return;
      this.handlers.onStatus?.("lost");
      if (event.code === 1008) {
        this.closed = true;
        this.handlers.onRefused?.();
        return;
      }
      const delay = Math.min(4000, 250 * 2 ** this.retry++);
      setTimeout(() => !this.closed && this.connect(), delay);
    });
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  scene(scene) {
    this.lastScene = { type: "scene", scene };
    this.send(this.lastScene);
  }

  close() {
    this.closed = true;
    clearTimeout(this.resend);
    this.socket?.close();
  }
}
