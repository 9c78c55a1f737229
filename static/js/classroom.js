// Class mode (docs/API.md, Classes): a teacher's page leads, students' pages follow.
//
// The teacher starts a class (its code, join link and QR code on a screen meant
// for the back of the room), and every change of the scene goes to the class's
// WebSocket at the next animation frame; a challenge fixes the scene, the
// leaderboard updates live and can draw any student's run (or the top five)
// over the scene. A student joins at /class/<code> with a name, follows the
// teacher (or explores alone and comes back), and in a challenge tunes only
// the allowed settings and submits; the server scores every submission itself.
// Both tokens stay in this browser's localStorage, per class, so a reload
// restores the teacher's control and the student's seat. Every name is text
// (textContent), never markup.

import { ClassSocket, classes, fetchRuns } from "./api.js";
import { SEND_GAP } from "./feed.js";
import { h } from "./controls.js";
import { OVERLAY_MAX, fmtNumber } from "./plots.js";

const $ = (sel) => document.querySelector(sel);
const CLASS_PATH = /^\/class\/([^/]+)\/?$/;
const storeKey = (code) => `descentlab.class.${code}`;
// What a challenge leaves a student to change: nothing in the side panel or the
// top bar but the allowed sliders (and number fields) of their one run.
const LOCKABLE = "#panel :is(input, select, button), .topbar :is(select, input):not(#scrub, #speed, #instant), #sweep-toggle";
const GOALS = {
  fewest_updates: "Reach the minimum in the fewest updates",
  lowest_loss: "Reach the lowest loss",
};

/** The class code of a /class/<code> path (upper case: codes are matched ignoring case), or null. */
export function classCode() {
  const match = location.pathname.match(CLASS_PATH);
  return match ? decodeURIComponent(match[1]).toUpperCase() : null;
}

function remembered(code) {
  try {
    return JSON.parse(localStorage.getItem(storeKey(code)) || "null") || {};
  } catch {
    return {};
  }
}

function remember(code, value) {
  localStorage.setItem(storeKey(code), JSON.stringify(value));
}

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A leaderboard entry's score, as people read it. */
export function scoreText(entry, goal) {
  if (entry.diverged_at != null) return `✕ diverged at t=${entry.diverged_at}`;
  if (goal === "fewest_updates" && entry.converged_at != null) return `${entry.converged_at} updates`;
  const loss = `loss ${fmtNumber(entry.final_loss)}`;
  return goal === "fewest_updates" ? `not converged · ${loss}` : loss;
}

export class Classroom {
  /**
   * page: {catalog, scene() → the page's scene now ({request, view, lesson, t}),
   *        follow(scene) → show a class's scene, attempt(challenge, params) → show a
   *        challenge's run (with a student's params) and return nothing,
   *        params() → the student's run's hyper-parameters now,
   *        selectedRun() → the request of the selected run (what a challenge starts from),
   *        overlay(runs) → draw students' runs over the scene, toast(text)}
   */
  constructor(page) {
    this.page = page;
    this.code = null;
    this.role = null; // "teacher" | "student" once the class's socket said so
    this.token = null;
    this.you = null;
    this.info = null; // the class's public state
    this.challenge = null;
    this.leaderboard = [];
    this.following = true;
    this.latestScene = null;
    this.applying = false;
    this.restored = false;
    this.overlaid = []; // student ids drawn over the scene, in rank order
    this.frame = 0;
    this.sendTimer = null;
    this.lastSend = 0;
    this.wire();
    const code = classCode();
    if (code) this.open(code);
  }

  /** What tests watch (window.__descentlab.classroom). */
  get snapshot() {
    return {
      code: this.code,
      role: this.role,
      you: this.you,
      following: this.following,
      status: this.info?.status ?? null,
      students: this.info?.students ?? 0,
      challenge: this.challenge?.id ?? null,
      leaderboard: this.leaderboard.map((e) => ({ rank: e.rank, student_id: e.student_id, name: e.name })),
      overlaid: [...this.overlaid],
    };
  }

  get teaching() {
    return this.role === "teacher";
  }

  get challengeOpen() {
    return !!this.challenge && this.info?.status === "open" && Date.parse(this.challenge.closes_at) > Date.now();
  }

  /** Whether the student may change setting `name` now (in a challenge, only the allowed ones). */
  allows(name) {
    return this.role !== "student" || !this.challengeOpen || this.challenge.allowed.includes(name);
  }

  // ---------------------------------------------------------------- joining and starting

  /** A /class/<code> page: the teacher's or student's token if this browser holds one, else the join form. */
  async open(code) {
    this.code = code;
    let info;
    try {
      info = await classes.get(code);
    } catch (error) {
      this.showJoin(error.status === 404 ? `There is no class ${code}: check the code.` : error.message, { closed: true });
      return;
    }
    this.info = info;
    const saved = remembered(code);
    if (saved.teacher_token) this.connect(saved.teacher_token, { leading: true });
    else if (saved.student_token) this.connect(saved.student_token);
    else if (info.status === "ended") this.showJoin(`Class ${code} has ended.`, { closed: true });
    else this.showJoin();
  }

  /** "Start a class": create it, keep the teacher's token, move to its path and lead it. */
  async start() {
    const button = $("#class-start");
    button.disabled = true;
    try {
      const created = await classes.create();
      remember(created.code, { teacher_token: created.teacher_token, join_url: created.join_url });
      this.closeSocket();
      Object.assign(this, { code: created.code, info: created.class, challenge: null, leaderboard: [], overlaid: [], restored: true });
      history.replaceState(null, "", `/class/${encodeURIComponent(created.code)}${location.search}`);
      this.connect(created.teacher_token, { leading: true });
      this.sceneChanged(); // the class starts on this page's scene
      this.render();
      this.showScreen();
    } catch (error) {
      this.page.toast(`Could not start a class: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  showJoin(message = "", { closed = false } = {}) {
    const dialog = $("#class-join");
    $("#class-join-code").textContent = this.code ?? "";
    $("#class-join-error").textContent = message;
    $("#class-join-error").hidden = !message;
    $("#class-join-form").hidden = closed;
    if (!dialog.open) dialog.showModal();
    if (!closed) $("#class-name").focus();
  }

  async join(name) {
    const button = $("#class-join-btn");
    button.disabled = true;
    try {
      const seat = await classes.join(this.code, name);
      remember(this.code, { student_token: seat.student_token, student_id: seat.student_id, name: seat.name });
      $("#class-join").close();
      this.connect(seat.student_token);
    } catch (error) {
      $("#class-join-error").textContent = error.status === 409 && /taken/.test(error.message) ? `“${name.trim()}” is taken in this class: choose another name.` : error.message;
      $("#class-join-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  /** The class's socket with this token; `leading`: it is the teacher's (its scene changes are sent). */
  connect(token, { leading = false } = {}) {
    this.token = token;
    this.leading = leading;
    this.socket = new ClassSocket(this.code, {
      token,
      onMessage: (m) => this.receive(m),
      onStatus: (status) => $("#class-bar").classList.toggle("offline", status !== "open"),
      onRefused: () => this.refused(),
    });
  }

  closeSocket() {
    this.socket?.close();
    this.socket = null;
  }

  /** The server refused the token this browser kept: forget it; a student may join again. */
  refused() {
    const teacher = this.role === "teacher" || !!remembered(this.code).teacher_token;
    localStorage.removeItem(storeKey(this.code));
    this.role = null;
    this.leading = false;
    this.render();
    if (teacher) this.page.toast(`This browser no longer leads class ${this.code}.`);
    else this.showJoin(`Your seat in class ${this.code} is gone: join again.`);
  }

  // ---------------------------------------------------------------- messages

  receive(m) {
    switch (m.type) {
      case "state":
        this.role = m.role;
        this.you = m.you;
        this.info = m.class;
        this.challenge = m.class.challenge;
        this.leaderboard = m.class.leaderboard || [];
        this.latestScene = m.class.scene;
        if (this.role === "teacher") {
          // A reload (not a reconnect) takes the class's scene back: it is where the class is.
          if (!this.restored && m.class.scene) this.apply(m.class.scene);
          this.restored = true;
        } else if (this.role === "student") {
          if (this.challengeOpen && this.attempted !== this.challenge.id) this.attempt();
          else if (this.following && m.class.scene) this.apply(m.class.scene);
        }
        this.render();
        break;
      case "scene":
        this.latestScene = m.scene;
        if (this.role === "student" && this.following && !this.challengeOpen) this.apply(m.scene);
        break;
      case "challenge":
        this.challenge = m.challenge;
        this.leaderboard = [];
        this.submitted = null;
        this.setOverlay([]);
        if (this.role === "student") this.attempt();
        this.render();
        break;
      case "leaderboard":
        if (m.challenge_id !== this.challenge?.id) break;
        this.leaderboard = m.leaderboard;
        this.render();
        if (this.teaching && this.overlaid.length) this.drawOverlay();
        break;
      case "roster":
        if (this.info) Object.assign(this.info, { students: m.students, roster: m.roster });
        this.render();
        break;
      case "ended":
        this.info = m.class;
        this.render();
        break;
      case "error":
        if (m.code !== "forbidden") this.page.toast(`The class refused a message: ${m.detail}`);
        break;
    }
  }

  /** Show a scene of the class (not heard as a change of this page's own). */
  apply(scene) {
    this.applying = true;
    try {
      this.page.follow(scene);
    } finally {
      this.applying = false;
    }
  }

  /** The challenge's run on this student's page, with their last params; only the allowed controls stay enabled. */
  attempt() {
    this.applying = true;
    try {
      const mine = this.leaderboard.find((e) => e.student_id === this.you?.student_id);
      this.page.attempt(this.challenge, this.submitted?.params ?? mine?.params ?? null);
      this.attempted = this.challenge.id;
    } finally {
      this.applying = false;
    }
    this.lock();
  }

  // ---------------------------------------------------------------- the page's changes

  /** The page's scene changed (a control, a lesson, the playhead): a teacher sends it, a student following detaches. */
  sceneChanged() {
    if (this.applying) return;
    if (this.role === "student" && this.following && !this.challengeOpen) {
      this.following = false;
      this.render();
    }
    if (!this.leading) return;
    // At the next animation frame, and no faster than the server takes messages.
    if (this.frame || this.sendTimer) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const wait = this.lastSend + SEND_GAP - performance.now();
      if (wait <= 0) this.sendScene();
      else this.sendTimer = setTimeout(() => this.sendScene(), wait);
    });
  }

  sendScene() {
    this.sendTimer = null;
    this.lastSend = performance.now();
    const scene = this.page.scene();
    // Students' runs belong to the challenge's problem: on another one they would be drawn on the wrong ground.
    const ground = (request) => request && JSON.stringify([request.problem, request.steps, request.seed]);
    if (this.overlaid.length && ground(scene.request) !== ground(this.challenge?.scene.request)) this.setOverlay([]);
    if (this.info?.status !== "open") return;
    this.socket?.scene(scene);
  }

  /** Follow the teacher again: their newest scene at once. */
  setFollowing(on) {
    this.following = on;
    if (on && this.latestScene && !this.challengeOpen) this.apply(this.latestScene);
    this.render();
  }

  /** Disable what a challenge does not let a student change (again after the panel rebuilds its cards). */
  lock() {
    const allowed = this.role === "student" && this.challengeOpen ? new Set(this.challenge.allowed) : null;
    document.body.classList.toggle("class-locked", !!allowed);
    for (const el of document.querySelectorAll(LOCKABLE)) {
      const name = el.dataset.param ?? el.dataset.number;
      const free = !allowed || (allowed.has(name) && el.closest('[data-run="0"]'));
      if (!free && !el.disabled) {
        el.disabled = true;
        el.dataset.classLocked = "";
      } else if (free && "classLocked" in el.dataset) {
        el.disabled = false;
        delete el.dataset.classLocked;
      }
    }
  }

  // ---------------------------------------------------------------- teacher's actions

  challengeForm() {
    const { catalog } = this.page;
    const run = this.page.selectedRun();
    const select = $("#challenge-optimizer");
    select.replaceChildren(...catalog.raw.optimizers.map((o) => h("option", { value: o.name, selected: o.name === run.optimizer }, o.label)));
    this.renderAllowed();
    $("#challenge-error").hidden = true;
    $("#class-challenge").showModal();
  }

  renderAllowed() {
    const opt = this.page.catalog.optimizer($("#challenge-optimizer").value);
    $("#challenge-allowed").replaceChildren(
      ...opt.params
        .filter((p) => p.kind !== "bool")
        .map((p, k) =>
          h("label", { class: "check" }, h("input", { type: "checkbox", name: "allowed", value: p.name, checked: k === 0 }), h("span", { class: "sym", html: p.symbol_mathml }), p.name.replace(/_/g, " ")),
        ),
    );
  }

  async startChallenge() {
    const run = this.page.selectedRun();
    const optimizer = $("#challenge-optimizer").value;
    const minutes = Number($("#challenge-minutes").value);
    const body = {
      scene: this.page.scene(),
      optimizer,
      ...(optimizer === run.optimizer ? { params: run.params, schedule: run.schedule } : {}),
      ...(run.start ? { start: run.start } : {}),
      allowed: [...document.querySelectorAll('#challenge-allowed input:checked')].map((el) => el.value),
      goal: { kind: $("#challenge-goal").value },
      time_limit_s: Math.round(minutes * 60),
    };
    try {
      const { challenge } = await classes.challenge(this.code, this.token, body);
      this.challenge = challenge;
      this.leaderboard = [];
      this.setOverlay([]);
      $("#class-challenge").close();
      this.render();
    } catch (error) {
      $("#challenge-error").textContent = error.message;
      $("#challenge-error").hidden = false;
    }
  }

  async end() {
    const button = $("#class-end");
    if (!button.classList.contains("confirm")) {
      // One click asks, a second within a few seconds ends it.
      button.classList.add("confirm");
      button.textContent = "End it for everyone?";
      setTimeout(() => {
        button.classList.remove("confirm");
        button.textContent = "End class";
      }, 4000);
      return;
    }
    try {
      this.info = (await classes.end(this.code, this.token)).class;
      this.render();
    } catch (error) {
      this.page.toast(`Could not end the class: ${error.message}`);
    }
  }

  async download(format) {
    try {
      const blob = await classes.results(this.code, this.token, format);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: `class-${this.code}.${format}`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      this.page.toast(`Could not export the results: ${error.message}`);
    }
  }

  /** Students' runs over the scene: those ids, in rank order, at most OVERLAY_MAX. */
  setOverlay(ids) {
    this.overlaid = ids.slice(0, OVERLAY_MAX);
    this.drawOverlay();
  }

  toggleOverlay(id) {
    const ids = this.overlaid.includes(id) ? this.overlaid.filter((x) => x !== id) : [...this.overlaid, id];
    if (ids.length > OVERLAY_MAX) this.page.toast(`At most ${OVERLAY_MAX} runs are drawn over the scene at once.`);
    this.setOverlay(ids);
  }

  /** The chosen entries' runs, as the server scored them (POST /api/runs with their params), over the scene. */
  async drawOverlay() {
    const entries = this.leaderboard.filter((e) => this.overlaid.includes(e.student_id)).slice(0, OVERLAY_MAX);
    this.renderBoard();
    const asked = (this.overlayAsked = (this.overlayAsked || 0) + 1);
    if (!entries.length || !this.challenge) {
      this.renderOverlayKey([]);
      return this.page.overlay([]);
    }
    const c = this.challenge;
    const { problem, steps, seed } = c.scene.request;
    const runs = entries.map((e) => ({
      optimizer: c.optimizer,
      params: { ...c.params, ...e.params },
      ...(c.schedule ? { schedule: c.schedule } : {}),
      ...(c.start ? { start: c.start } : {}),
    }));
    try {
      const result = await fetchRuns({ problem, steps, seed, runs });
      if (asked !== this.overlayAsked) return;
      this.renderOverlayKey(entries);
      await this.page.overlay(
        result.runs.map((run, k) => ({ x: run.path.map((p) => p[0]), y: run.path.map((p) => p[1]), rank: entries[k].rank, student: entries[k].student_id })),
      );
    } catch (error) {
      this.page.toast(`Could not draw the students' runs: ${error.message}`);
    }
  }

  // ---------------------------------------------------------------- student's actions

  async submit() {
    const button = $("#class-submit");
    const params = {};
    const own = this.page.params();
    for (const name of this.challenge.allowed) if (name in own) params[name] = own[name];
    button.disabled = true;
    try {
      const { submission, rank } = await classes.submit(this.code, this.token, params);
      this.submitted = submission;
      this.rank = rank;
      this.render();
    } catch (error) {
      this.page.toast(`Not submitted: ${error.message}`);
    } finally {
      button.disabled = !this.challengeOpen;
    }
  }

  // ---------------------------------------------------------------- drawing

  render() {
    const bar = $("#class-bar");
    const board = $("#class-board");
    const inClass = !!this.code && !!this.role;
    bar.hidden = !inClass;
    board.hidden = !(inClass && this.teaching);
    document.body.classList.toggle("in-class", inClass);
    // One class a page: a student's page, or a teacher's while the class is open, starts none.
    $("#class-start").hidden = inClass && (!this.teaching || this.info?.status === "open");
    if (!inClass) return;
    const ended = this.info?.status === "ended";
    bar.dataset.role = this.role;
    bar.classList.toggle("ended", ended);
    $("#class-code").textContent = this.code;
    $("#class-title").textContent = ended ? "Class ended" : this.teaching ? "Join at" : "Class";
    const count = this.info?.students ?? 0;
    $("#class-roster").textContent = `${count} student${count === 1 ? "" : "s"}`;
    $("#class-roster").title = (this.info?.roster || []).join(", ");
    // Teacher
    $("#class-join-url").hidden = !this.teaching;
    $("#class-join-url").textContent = this.joinURL();
    $("#class-qr-open").hidden = !this.teaching || ended;
    $("#class-challenge-open").hidden = !this.teaching || ended;
    $("#class-end").hidden = !this.teaching || ended;
    // Student
    $("#class-you").hidden = this.role !== "student";
    $("#class-you").textContent = this.you ? `you are ${this.you.name}` : "";
    const follow = $("#class-follow");
    follow.hidden = this.role !== "student" || ended || this.challengeOpen;
    follow.setAttribute("aria-pressed", String(this.following));
    follow.textContent = this.following ? "Following the teacher" : "Exploring on your own — Follow teacher";
    this.renderChallenge();
    this.renderBoard();
    this.renderScreen();
    this.lock();
  }

  joinURL() {
    return remembered(this.code).join_url || `${location.origin}/class/${encodeURIComponent(this.code)}`;
  }

  goalText(c = this.challenge) {
    const opt = this.page.catalog.optimizer(c.optimizer);
    const allowed = c.allowed.map((name) => name.replace(/_/g, " ")).join(", ");
    return `${GOALS[c.goal.kind] ?? c.goal.kind} with ${opt.label}; you may change ${allowed}`;
  }

  renderChallenge() {
    const box = $("#class-task");
    const c = this.challenge;
    box.hidden = !c || this.info?.status !== "open";
    clearInterval(this.ticker);
    if (box.hidden) return;
    $("#class-goal").textContent = this.goalText();
    const student = this.role === "student";
    $("#class-submit").hidden = !student;
    $("#class-rank").hidden = !student;
    if (student) {
      const mine = this.leaderboard.find((e) => e.student_id === this.you?.student_id);
      const rank = mine?.rank ?? this.rank;
      $("#class-rank").textContent = rank ? `Your rank: ${rank} of ${this.leaderboard.length || rank}${mine ? ` · ${scoreText(mine, c.goal.kind)}` : ""}` : "Not submitted yet";
    }
    const tick = () => {
      const left = (Date.parse(c.closes_at) - Date.now()) / 1000;
      $("#class-countdown").textContent = left > 0 ? `${clock(left)} left` : "Time is up";
      $("#class-submit").disabled = left <= 0;
      if (left <= 0) {
        clearInterval(this.ticker);
        if (student) {
          // The page is the student's own again; one following the teacher goes back to the class's scene.
          this.lock();
          this.render();
          if (this.following && this.latestScene) this.apply(this.latestScene);
        }
      }
    };
    tick();
    this.ticker = setInterval(tick, 1000);
  }

  renderBoard() {
    if (!this.teaching) return;
    const c = this.challenge;
    $("#class-board-goal").textContent = c ? this.goalText(c) : "No challenge yet: set up a scene and press Challenge.";
    const started = c ? Date.parse(c.started_at) : 0;
    const rows = this.leaderboard.map((e) =>
      h(
        "tr",
        { "data-student": e.student_id },
        h("td", { class: "rank" }, String(e.rank)),
        h("td", { class: "name", title: e.name }, e.name),
        h("td", { class: "score" }, scoreText(e, c.goal.kind)),
        h("td", { class: "time" }, clock((Date.parse(e.submitted_at) - started) / 1000)),
        h(
          "td",
          {},
          h("input", {
            type: "checkbox",
            "data-overlay": e.student_id,
            checked: this.overlaid.includes(e.student_id),
            "aria-label": `draw ${e.name}'s run over the scene`,
            title: "Draw this run over the scene",
            onchange: () => this.toggleOverlay(e.student_id),
          }),
        ),
      ),
    );
    $("#class-leaders").replaceChildren(...rows);
    $("#class-board-table").hidden = !rows.length;
    $("#class-top").disabled = !rows.length;
    $("#class-clear").disabled = !this.overlaid.length;
  }

  renderOverlayKey(entries) {
    const key = $("#class-overlay-key");
    key.hidden = !entries.length;
    key.replaceChildren(
      ...entries.map((e) => h("li", { "data-overlay-key": e.student_id }, h("b", { class: "disc" }, String(e.rank)), h("span", { class: "name" }, e.name), h("span", { class: "muted" }, scoreText(e, this.challenge.goal.kind)))),
    );
  }

  showScreen() {
    this.renderScreen();
    const dialog = $("#class-screen");
    if (!dialog.open) dialog.showModal();
  }

  renderScreen() {
    if (!this.teaching) return;
    $("#class-screen-code").textContent = this.code;
    $("#class-screen-url").textContent = this.joinURL();
    const qr = $("#class-screen-qr");
    if (qr.dataset.code !== this.code) {
      qr.src = classes.qrURL(this.code);
      qr.dataset.code = this.code;
    }
    const count = this.info?.students ?? 0;
    $("#class-screen-count").textContent = `${count} student${count === 1 ? "" : "s"} joined`;
    $("#class-screen-names").replaceChildren(...(this.info?.roster || []).map((name) => h("li", {}, name)));
  }

  wire() {
    $("#class-start").addEventListener("click", () => this.start());
    $("#class-join-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.join($("#class-name").value);
    });
    // A student joins or leaves the page: the form does not simply go away (a class that is not there does).
    $("#class-join").addEventListener("cancel", (e) => !$("#class-join-form").hidden && e.preventDefault());
    $("#class-follow").addEventListener("click", () => this.setFollowing(!this.following));
    $("#class-submit").addEventListener("click", () => this.submit());
    $("#class-qr-open").addEventListener("click", () => this.showScreen());
    $("#class-screen-close").addEventListener("click", () => $("#class-screen").close());
    $("#class-challenge-open").addEventListener("click", () => this.challengeForm());
    $("#challenge-optimizer").addEventListener("change", () => this.renderAllowed());
    $("#class-challenge-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.startChallenge();
    });
    $("#challenge-cancel").addEventListener("click", () => $("#class-challenge").close());
    $("#class-end").addEventListener("click", () => this.end());
    $("#class-top").addEventListener("click", () => this.setOverlay(this.leaderboard.slice(0, OVERLAY_MAX).map((e) => e.student_id)));
    $("#class-clear").addEventListener("click", () => this.setOverlay([]));
    document.querySelectorAll("[data-class-export]").forEach((b) => b.addEventListener("click", () => this.download(b.dataset.classExport)));
    // The panel rebuilds its cards on many changes: a challenge's locks follow them.
    new MutationObserver(() => this.role === "student" && this.lock()).observe($("#panel"), { childList: true, subtree: true });
  }
}
