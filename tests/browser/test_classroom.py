"""The page as a class sees it: on a projector, on a phone, and the run a lesson
is about in sight. Every page these tests open also fails on any console error
or warning (conftest.py)."""

from __future__ import annotations

import json
import math
import struct

import pytest
from pagekit import wait_complete

PROJECTOR = (1366, 768)
PHONE = (390, 844)

# Every visible control of the top bar, and whether it lies inside the window.
TOP_BAR = """() => {
    const bar = document.querySelector('.topbar').getBoundingClientRect();
    return [...document.querySelectorAll('.topbar :is(button, select, input, summary, output, .lesson-pick)')]
        .filter(el => el.checkVisibility() && !el.closest('.sim-open .sim'))
        .map(el => { const r = el.getBoundingClientRect();
            return {id: el.id || el.className || el.tagName, tag: el.tagName, left: r.left, right: r.right,
                    top: r.top - bar.top, bottom: r.bottom - bar.top, height: r.height}; });
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - innerWidth"
BOXES = """sels => sels.map(s => { const el = document.querySelector(s);
    if (!el || !el.checkVisibility()) return null;
    const r = el.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right,
        bottom: r.bottom, width: r.width, height: r.height}; })"""
PATHS = """sel => (document.querySelector(sel).data || [])
    .filter(d => d.meta && Number.isInteger(d.meta.run))
    .map(d => ({run: d.meta.run, x: Array.from(d.x), y: Array.from(d.y),
                width: d.line.width, visible: d.visible === undefined ? true : d.visible}))"""


def paths(page, selector="#surface-plot"):
    """The runs' traces in drawing order (the last drawn is on top)."""
    return page.evaluate(PATHS, selector)


def lessons(page):
    return json.loads(page.evaluate("document.getElementById('lessons').textContent"))


def assert_top_bar_fits(page, width):
    controls = page.evaluate(TOP_BAR)
    assert controls
    outside = [c["id"] for c in controls if c["left"] < -0.5 or c["right"] > width + 0.5]
    assert not outside, (width, outside)
    assert page.evaluate(OVERFLOW) <= 0, width


def settle(page):
    """Two animation frames: what a resize set in motion (refits, chart resizes) is done."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def wait_redrawn(page, after):
    page.wait_for_function("n => window.__descentlab.redraws > n", arg=after)


# ---------------------------------------------------------------- screens


@pytest.mark.parametrize(("width", "height"), [PROJECTOR, (1920, 1080), PHONE])
def test_every_screen_fits_without_sideways_scrolling(open_page, artifacts, width, height):
    page = open_page("lessons/momentum", width=width, height=height).page
    assert page.evaluate(OVERFLOW) <= 0
    assert_top_bar_fits(page, width)
    surface, loss, card = page.evaluate(BOXES, ["#surface-plot", "#loss-plot", ".run-card"])
    # The charts have a real size (Plotly drew them into a box, not into nothing).
    assert surface["width"] > 300 and surface["height"] > 200
    assert loss["width"] > 300 and loss["height"] > 150
    if (width, height) == PHONE:
        # One column: the surface first and full width, the loss chart under it, the runs below.
        assert surface["width"] >= width - 40
        assert loss["top"] >= surface["bottom"] and card["top"] >= loss["bottom"]
        # Controls a finger can hit.
        small = [
            c["id"] for c in page.evaluate(TOP_BAR) if c["tag"] != "OUTPUT" and c["height"] < 36
        ]
        assert not small, small
        page.screenshot(path=str(artifacts / "phone-lesson-3.png"), full_page=True)
    else:
        page.screenshot(path=str(artifacts / f"lesson-3-{width}x{height}.png"))


def test_the_top_bar_never_overflows_from_1024_px_up(open_page, artifacts):
    page = open_page("lessons/batch-size", width=1920, height=1080).page
    for present in (False, True):
        if present:
            page.keyboard.press("p")
            page.wait_for_function("() => document.body.classList.contains('present')")
        for width in (1920, 1600, 1366, 1280, 1100, 1024):
            page.set_viewport_size({"width": width, "height": 768})
            settle(page)  # the bar refits at the next frame, the charts at the one after
            assert_top_bar_fits(page, width)
    page.screenshot(path=str(artifacts / "present-1024x768.png"))
    # What the bar folded away is one click off: steps, seed, speed, instant.
    assert page.locator("#steps").is_hidden()
    page.click("#sim-toggle")
    steps = page.locator("#steps")
    assert steps.is_visible()
    box = steps.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1024
    # 10 000 steps show whole in their box.
    steps.fill("10000")
    assert page.evaluate(
        "() => { const el = document.querySelector('#steps');"
        " return el.scrollWidth <= el.clientWidth; }"
    )
    page.keyboard.press("Escape")  # closes the settings, and only them
    assert steps.is_hidden()
    assert page.evaluate("() => document.body.classList.contains('present')")


# ---------------------------------------------------------------- runs in sight


def test_the_legend_hides_shows_and_solos_runs_and_the_selected_run_leads(open_page):
    page = open_page().page  # SGD, Momentum, Adam

    def visible(selector="#surface-plot"):
        return {t["run"]: t["visible"] for t in paths(page, selector)}

    entry = page.locator("[data-legend-run='1'] .toggle-run")
    before = page.evaluate("window.__descentlab.redraws")
    entry.click()
    wait_redrawn(page, before)
    assert visible() == {0: True, 1: "legendonly", 2: True}
    assert visible("#loss-plot") == {0: True, 1: "legendonly", 2: True}
    assert entry.get_attribute("aria-pressed") == "false"
    before = page.evaluate("window.__descentlab.redraws")
    entry.click()
    wait_redrawn(page, before)
    assert set(visible().values()) == {True}
    # Alt-click: that run alone; its ◎ again: every run.
    before = page.evaluate("window.__descentlab.redraws")
    page.locator("[data-legend-run='2'] .toggle-run").click(modifiers=["Alt"])
    wait_redrawn(page, before)
    assert visible() == {0: "legendonly", 1: "legendonly", 2: True}
    assert page.locator("[data-legend-run='2'] .solo").get_attribute("aria-pressed") == "true"
    before = page.evaluate("window.__descentlab.redraws")
    page.click("[data-legend-run='2'] .solo")
    wait_redrawn(page, before)
    assert set(visible().values()) == {True}
    before = page.evaluate("window.__descentlab.redraws")
    page.click("[data-legend-run='0'] .solo")
    wait_redrawn(page, before)
    assert visible() == {0: True, 1: "legendonly", 2: "legendonly"}
    before = page.evaluate("window.__descentlab.redraws")
    page.click("[data-legend-run='0'] .solo")
    wait_redrawn(page, before)
    assert set(visible().values()) == {True}
    # The selected run is drawn last (on top of the others) and thicker, on both charts.
    page.click("[data-run='1'] .run-index")
    page.wait_for_function(
        """() => ['#surface-plot', '#loss-plot'].every(sel => {
            const runs = document.querySelector(sel).data.filter(d => d.meta && Number.isInteger(d.meta.run));
            return runs[runs.length - 1].meta.run === 1; })"""
    )
    for selector in ("#surface-plot", "#loss-plot"):
        drawn = paths(page, selector)
        assert drawn[-1]["run"] == 1, selector
        assert all(drawn[-1]["width"] > t["width"] for t in drawn[:-1]), selector
    assert "selected" in page.locator("[data-legend-run='1']").get_attribute("class")


def covered(under, over, bounds, cells=100):
    """The share of the cells `under`'s path passes through that `over`'s path passes through too."""
    size = max(bounds["x"][1] - bounds["x"][0], bounds["y"][1] - bounds["y"][0]) / cells

    def cells_of(path):
        out = set()
        points = list(zip(path["x"], path["y"], strict=True))
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            n = max(1, min(64, math.ceil(2 * math.hypot(x1 - x0, y1 - y0) / size)))
            for k in range(n + 1):
                x, y = x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n
                if bounds["x"][0] <= x <= bounds["x"][1] and bounds["y"][0] <= y <= bounds["y"][1]:
                    out.add((math.floor(x / size), math.floor(y / size)))
        return out

    mine, theirs = cells_of(under), cells_of(over)
    return len(mine & theirs) / max(1, len(mine))


def noisy_runs(scene):
    """The runs whose gradients are noisy: a mini-batch on a regression, noise on a surface."""
    problem = scene["problem"]
    if "n_samples" in problem:
        return {
            i for i, run in enumerate(scene["runs"]) if run["batch_size"] < problem["n_samples"]
        }
    return set(range(len(scene["runs"]))) if problem.get("noise", 0) > 0 else set()


def assert_every_run_in_sight(page, lesson):
    """A steady run mostly under a later-drawn one is drawn wider than it: its colour
    shows around it. (A noisy run is a cloud: a wider cloud would hide more.)"""
    bounds = page.evaluate(
        "name => JSON.parse(document.getElementById('catalog').textContent)"
        ".problems.find(p => p.name === name).bounds",
        lesson["scene"]["problem"]["name"],
    )
    drawn = paths(page)
    assert drawn[-1]["run"] == lesson["focus"]  # the run the lesson is about is on top
    noisy = noisy_runs(lesson["scene"])
    hidden_pairs = 0
    for k, under in enumerate(drawn):
        for over in drawn[k + 1 :]:
            if under["run"] not in noisy and covered(under, over, bounds) >= 0.5:
                hidden_pairs += 1
                assert under["width"] > over["width"], (lesson["slug"], under["run"], over["run"])
    return hidden_pairs


def open_lesson(page, slug):
    """A lesson's link in the same tab: it opens whole (the picker would play it from t = 0)."""
    page.goto(page.url.split("/lessons/")[0].split("?")[0].rstrip("/") + f"/lessons/{slug}")
    wait_complete(page)
    return next(entry for entry in lessons(page) if entry["slug"] == slug)


def test_lessons_keep_the_run_they_are_about_in_sight(open_page, artifacts):
    """Lesson 3's β = 0.5 run under its warm-up twin, lesson 1's full batch under batch 16,
    lesson 9's five paths in one valley: each shows."""
    page = open_page("lessons/momentum").page
    lesson = next(entry for entry in lessons(page) if entry["slug"] == "momentum")
    assert lesson["focus"] == 1
    assert assert_every_run_in_sight(page, lesson)  # runs on top of each other, nested
    page.screenshot(path=str(artifacts / "in-sight-momentum.png"))
    # The loss axis stops 12 decades under the start, not at β = 0.5's 10⁻⁴⁵.
    axis = page.evaluate("() => document.querySelector('#loss-plot')._fullLayout.yaxis")
    losses = [t["y"] for t in paths(page, "#loss-plot")]
    assert axis["type"] == "log" and min(min(y) for y in losses) < 1e-40
    assert axis["range"][0] >= math.log10(max(y[0] for y in losses)) - 12.5  # a quarter decade
    # No legend entry names a setting that is off (a warm-up of 0 updates).
    assert not [t for t in page.locator(".legend-item").all_inner_texts() if "Nwarm=0" in t]

    lesson = open_lesson(page, "batch-size")
    assert lesson["focus"] == 0  # full batch: drawn over the noisy batch-16 cloud
    assert_every_run_in_sight(page, lesson)
    page.screenshot(path=str(artifacts / "in-sight-batch-size.png"))
    names = page.locator(".legend-item .toggle-run").all_inner_texts()
    assert "full batch (200)" in names[0] and "mini-batch 16" in names[1] and "batch 1" in names[2]
    # The epoch axis covers the whole run (600 epochs of full batch), on a log scale.
    axis = page.evaluate("() => document.querySelector('#loss-plot')._fullLayout.xaxis")
    assert axis["type"] == "log" and 10 ** axis["range"][1] >= 600 * 0.99
    assert 10 ** axis["range"][0] <= 1 / 200 * 1.01
    # The problem's batch size, which every run overrides, is off and not marked.
    problem_batch = page.locator("#problem-params .param:has([data-param='batch_size'])")
    assert "overridden" in problem_batch.get_attribute("class")
    assert "highlight" not in problem_batch.get_attribute("class")
    assert problem_batch.locator("input[type=range]").is_disabled()
    assert page.locator(".run-card .param.highlight [data-param='batch_size']").count() == 3

    lesson = open_lesson(page, "zoo")
    assert assert_every_run_in_sight(page, lesson)
    page.screenshot(path=str(artifacts / "in-sight-zoo.png"))


def test_quoted_figures_are_marked_on_the_charts(open_page, artifacts):
    page = open_page("lessons/saddle").page
    lesson = next(entry for entry in lessons(page) if entry["slug"] == "saddle")
    marks = page.evaluate(
        "() => document.querySelector('#loss-plot').data.find(d => d.meta && d.meta.role === 'lesson-mark').meta"
    )
    assert list(zip(marks["runs"], marks["t"], strict=True)) == [
        (m["run"], m["t"]) for m in lesson["marks"]
    ]
    # Each is quoted in the lesson's text, on a log update axis that spreads 4 … 83.
    for mark in lesson["marks"]:
        assert str(mark["t"]) in lesson["notice"]
    assert (
        page.evaluate("() => document.querySelector('#loss-plot')._fullLayout.xaxis.type") == "log"
    )
    surface = page.evaluate(
        "() => document.querySelector('#surface-plot').data.find(d => d.meta && d.meta.role === 'lesson-mark').x.length"
    )
    assert surface == len(lesson["marks"])
    page.screenshot(path=str(artifacts / "lesson-marks.png"))
    # Changed, the scene no longer makes those figures: the marks go.
    before = page.evaluate("window.__descentlab.currentId")
    page.evaluate(
        """() => { const el = document.querySelector('[data-run="0"] input[data-param="alpha"]');
            el.value = Math.log10(0.1); el.dispatchEvent(new Event('input', {bubbles: true}));
            el.dispatchEvent(new Event('change', {bubbles: true})); }"""
    )
    wait_complete(page, before)
    left = page.evaluate(
        "() => document.querySelector('#loss-plot').data.find(d => d.meta && d.meta.role === 'lesson-mark').x.length"
    )
    assert left == 0


# ---------------------------------------------------------------- controls and marks


def test_decay_sliders_noisy_losses_and_numbers(open_page):
    page = open_page("?problem=noisy_bowl&steps=300&run=sgd~alpha:0.1&run=momentum~alpha:0.05").page
    beta = page.locator("[data-run='1'] input[type=range][data-param='beta']")
    assert beta.get_attribute("data-scale") == "log1m"
    # 0.9, 0.99 and 0.999 lie at 1, 2 and 3 on the slider: equally far apart.
    for position, value in ((1, 0.9), (2, 0.99), (3, 0.999)):
        before = page.evaluate("window.__descentlab.currentId")
        beta.evaluate(
            """(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));
                el.dispatchEvent(new Event('change', {bubbles: true})); }""",
            position,
        )
        wait_complete(page, before)
        assert page.evaluate("window.__descentlab.state.runs[1].params.beta") == pytest.approx(
            value
        )
    # A noisy problem's losses are smoothed by default: a moving average over the faint raw loss.
    assert page.is_checked("#smooth")
    loss = page.evaluate("() => document.querySelector('#loss-plot').data.map(d => d.meta)")
    assert {m["smooth"] for m in loss if m and "smooth" in m} == {0, 1}
    before = page.evaluate("window.__descentlab.redraws")
    page.uncheck("#smooth")
    wait_redrawn(page, before)
    loss = page.evaluate("() => document.querySelector('#loss-plot').data.map(d => d.meta)")
    assert not [m for m in loss if m and "smooth" in m]
    assert "smooth=off" in page.evaluate("location.search")
    # The update axis can be logarithmic.
    before = page.evaluate("window.__descentlab.redraws")
    page.check("#xlog")
    wait_redrawn(page, before)
    assert (
        page.evaluate("() => document.querySelector('#loss-plot')._fullLayout.xaxis.type") == "log"
    )
    # Numbers for people: rounding leftovers are 0, and infinities are no mantissa.
    shown = page.evaluate(
        """async () => { const { fmtNumber } = await import('/static/js/plots.js');
            return [5e-324, -3.5e-323, Infinity, -Infinity, NaN, 3.2e-9, -0.5].map(v => fmtNumber(v)); }"""
    )
    assert shown == ["0", "0", "∞", "−∞", "—", "3.2×10⁻⁹", "−0.5"]
    # Switching a run's optimiser keeps its α.
    before = page.evaluate("window.__descentlab.currentId")
    page.select_option("[data-run='0'] select[data-control='optimizer']", "adam")
    wait_complete(page, before)
    assert page.evaluate("window.__descentlab.state.runs[0].params.alpha") == 0.1


# ---------------------------------------------------------------- export


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_a_slide_and_an_animation_for_the_lesson(open_page):
    page = open_page("lessons/nesterov").page
    page.click("#export-menu > summary")
    with page.expect_download() as info:
        page.click("[data-export='png']")
    data = open(info.value.path(), "rb").read()
    assert png_size(data) == (1920, 1080)
    # The animation: a WebM file (EBML header), recorded in the browser.
    page.goto(page.url.split("/lessons")[0] + "/?problem=himmelblau&steps=40&run=adam~alpha:0.1")
    wait_complete(page)
    page.click("#export-menu > summary")
    with page.expect_download(timeout=30_000) as info:
        page.click("[data-export='webm']")
    assert info.value.suggested_filename.endswith(".webm")
    data = open(info.value.path(), "rb").read()
    assert data[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in data[:64]
    assert len(data) > 10_000
