// Lessons: the picker in the top bar, the lesson panel (#lesson), previous /
// replay / next, and the highlighted controls. A lesson lives in the path
// (/lessons/<slug>) and its scene in the query.

const $ = (sel) => document.querySelector(sel);

export class Lessons {
  /**
   * list: the lessons (from #lessons).
   * page: {load(lesson) → put its scene into the state and play it,
   *        query() → the state as a URL query, home() → the path to keep instead (a class's), or null}
   */
  constructor(list, page) {
    this.list = list;
    this.page = page;
    this.current = this.fromPath();
    this.wire();
  }

  /** The lesson of /lessons/<slug>, or null. */
  fromPath() {
    const match = location.pathname.match(/^\/lessons\/([^/]+)\/?$/);
    return match ? this.list.find((l) => l.slug === decodeURIComponent(match[1])) || null : null;
  }

  url(l = this.current) {
    // In a class the path stays the class's: the lesson travels in its scene.
    const home = this.page.home?.();
    return (home ?? (l ? `/lessons/${encodeURIComponent(l.slug)}` : "/")) + this.page.query();
  }

  /** Open a lesson (or free play, for null): its scene, its panel, its highlights. */
  open(next, { push = true } = {}) {
    this.current = next;
    if (next) this.page.load(next);
    const url = this.url();
    if (push) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
    this.render();
  }

  step(delta) {
    const lessons = this.list;
    const at = this.current ? lessons.indexOf(this.current) : -1;
    const next = at < 0 ? (delta > 0 ? 0 : lessons.length - 1) : at + delta;
    if (next < 0 || next >= lessons.length) return;
    this.open(lessons[next]);
  }

  render() {
    const lesson = this.current;
    const lessons = this.list;
    const box = $("#lesson");
    $("#lesson-pick").value = lesson?.slug ?? "";
    // Closed, the picker says which lesson, short; the open list and the panel give the titles.
    $("#lesson-face").textContent = lesson ? `Lesson ${lesson.number} of ${lessons.length}` : "Free play";
    $(".lesson-pick").title = lesson ? `Lesson ${lesson.number}: ${lesson.title} (n / b: next / previous)` : "Lessons: preset scenes from SGD to Adam (n / b: next / previous)";
    document.body.classList.toggle("in-lesson", !!lesson);
    box.hidden = !lesson;
    if (lesson) {
      $("#lesson-num").textContent = `Lesson ${lesson.number} of ${lessons.length}`;
      $("#lesson-title").textContent = lesson.title;
      $("#lesson-idea").textContent = lesson.idea;
      $("#lesson-notice").textContent = lesson.notice;
      $("#lesson-try").textContent = lesson.try;
      const at = lessons.indexOf(lesson);
      $("#lesson-prev").disabled = at <= 0;
      $("#lesson-next").disabled = at >= lessons.length - 1;
      $("#lesson-next-text").textContent = at >= lessons.length - 1 ? "The end " : "Next ";
      document.title = `${lesson.title} · descentlab`;
    } else document.title = "descentlab · optimiser playground";
    this.highlight();
  }

  /** Mark the controls the lesson is about (called again whenever the run cards are rebuilt). */
  highlight() {
    document.querySelectorAll(".param.highlight").forEach((el) => el.classList.remove("highlight"));
    for (const name of this.current?.highlights || []) {
      // Not a control the runs override (the problem's batch size when every run has its own).
      document.querySelectorAll(`.param:not(.overridden):has([data-param="${name}"]), .param:not(.overridden):has([data-control="${name}"])`).forEach((el) => el.classList.add("highlight"));
    }
  }

  wire() {
    $("#lesson-pick").addEventListener("change", (e) => {
      this.open(this.list.find((l) => l.slug === e.target.value) || null);
      e.target.blur(); // so the keys (n, b, space) work at once
    });
    $("#lesson-prev").addEventListener("click", () => this.step(-1));
    $("#lesson-next").addEventListener("click", () => this.step(1));
    $("#lesson-replay").addEventListener("click", () => this.current && this.open(this.current, { push: false }));
    $("#lesson-fold").addEventListener("click", () => {
      const folded = $("#lesson").classList.toggle("folded");
      $("#lesson-fold").setAttribute("aria-expanded", String(!folded));
    });
  }
}
