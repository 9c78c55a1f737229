// The playhead: which update the plots show. The server always sends whole runs
// at full speed; play, pause, replay and the t scrubber only move this playhead
// (at `speed` updates per second), so they never touch the server.

const $ = (sel) => document.querySelector(sel);

export class Playback {
  /**
   * page: {state(), steps() → the steps of the run in flight (null before one),
   *        schedule() → a redraw at the next frame, writeURL(push),
   *        moved() → the playhead was moved or started or stopped by hand}
   */
  constructor(page) {
    this.page = page;
    this.target = Infinity; // updates to show
    this.playing = false;
    this.next = null; // where the next run starts instead ({t, playing}: a class's scene)
    this.playFrom = 0;
    this.playStart = 0;
    this.wire();
  }

  /** A new run was sent: animate it from t = 0, or show it whole. */
  restart(animate) {
    if (this.next) {
      const next = this.next;
      this.next = null;
      this.follow(next);
      return;
    }
    if (animate) {
      this.playing = true;
      this.playFrom = 0;
      this.playStart = performance.now();
      this.target = 0;
    } else {
      this.playing = false;
      this.target = Infinity;
    }
    this.updateButton();
  }

  /** Where the playhead stands (t: the update shown, the run's steps when whole) and whether it plays. */
  position() {
    const steps = this.page.steps() ?? this.page.state().steps;
    return { t: Math.max(0, Math.min(this.target, steps)), playing: this.playing };
  }

  /** Show update t, playing on from there or not (a class's scene). */
  follow({ t, playing }) {
    this.target = t;
    this.playing = playing;
    this.playFrom = t;
    this.playStart = performance.now();
    this.updateButton();
    this.page.schedule();
  }

  /** Play (from where the playhead stands, or from 0 at the end) or pause. */
  toggle() {
    const steps = this.page.steps();
    if (steps == null) return;
    if (this.playing) {
      this.playing = false;
    } else {
      const at = Number.isFinite(this.target) && this.target < steps ? this.target : 0;
      this.playing = true;
      this.playFrom = at;
      this.playStart = performance.now();
      this.target = at;
    }
    this.updateButton();
    this.page.schedule();
    this.page.moved?.();
  }

  /** Move a playing playhead on to now (once per frame); it stops at `steps`. */
  advance(steps) {
    if (!this.playing) return;
    this.target = this.playFrom + Math.floor(((performance.now() - this.playStart) / 1000) * this.page.state().speed);
    if (this.target >= steps) {
      this.target = steps;
      this.playing = false;
      this.updateButton();
    }
  }

  updateButton() {
    const btn = $("#play");
    btn.classList.toggle("playing", this.playing);
    btn.setAttribute("aria-label", this.playing ? "Pause" : "Play the runs as an animation");
  }

  /** The scrubber and "t = …" follow the update drawn. */
  clock(t, steps) {
    const scrub = $("#scrub");
    scrub.max = steps;
    scrub.value = Math.max(0, t);
    $("#t-out").textContent = `t = ${Math.max(0, t)}`;
    scrub.setAttribute("aria-valuetext", `update ${Math.max(0, t)} of ${steps}`);
  }

  wire() {
    const page = this.page;
    $("#play").addEventListener("click", () => this.toggle());
    $("#scrub").addEventListener("input", (e) => {
      this.playing = false;
      this.target = Number(e.target.value);
      this.updateButton();
      page.schedule();
      page.moved?.();
    });
    $("#speed").addEventListener("input", (e) => {
      const state = page.state();
      state.speed = Math.max(1, Math.round(10 ** Number(e.target.value)));
      $("#speed-out").textContent = `${state.speed}/s`;
      if (this.playing) {
        this.playFrom = this.target;
        this.playStart = performance.now();
      }
      page.writeURL(false);
    });
    $("#speed").addEventListener("change", () => page.writeURL(true));
    $("#instant").addEventListener("change", (e) => {
      page.state().instant = e.target.checked;
      page.writeURL(true);
      if (page.state().instant) {
        this.restart(false);
        page.schedule();
      }
    });
  }
}
