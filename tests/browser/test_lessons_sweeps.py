"""Lessons, presenting, export, convergence and sweeps, in a real browser."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from pagekit import wait_complete

RUNS = """sel => Array.from(document.querySelector(sel).data || [])
    .filter(d => d.meta && Number.isInteger(d.meta.run))
    .map(d => ({run: d.meta.run, x: Array.from(d.x), y: Array.from(d.y)}))"""


def traces(page, selector="#surface-plot"):
    return sorted(page.evaluate(RUNS, selector), key=lambda t: t["run"])


def hook(page, name):
    return page.evaluate(f"() => window.__descentlab.{name}")


def lessons(page):
    return json.loads(page.evaluate("document.getElementById('lessons').textContent"))


def wait_lesson(page, slug, runs, after):
    """A lesson's scene is requested and its runs are on the surface (maybe still animating)."""
    page.wait_for_function(
        """([slug, runs, after]) => {
            const h = window.__descentlab;
            const gd = document.querySelector('#surface-plot');
            const drawn = (gd.data || []).filter(d => d.meta && Number.isInteger(d.meta.run));
            return h.lesson === slug && h.currentId > after && drawn.length === runs
                && location.pathname === '/lessons/' + slug;
        }""",
        arg=[slug, runs, after],
        timeout=20_000,
    )


def test_the_lesson_picker_loads_every_scene(open_page):
    page = open_page().page
    assert hook(page, "lesson") is None
    assert page.locator("#lesson").is_hidden()
    for lesson in lessons(page):
        before = hook(page, "currentId")
        page.select_option("select[data-control='lesson']", lesson["slug"])
        scene = lesson["scene"]
        wait_lesson(page, lesson["slug"], len(scene["runs"]), before)
        state = hook(page, "state")
        assert state["problem"] == scene["problem"]["name"]
        assert state["steps"] == scene["steps"] and state["seed"] == scene["seed"]
        assert state["speed"] == lesson["speed"]
        assert [r["optimizer"] for r in state["runs"]] == [r["optimizer"] for r in scene["runs"]]
        for run, given in zip(state["runs"], scene["runs"], strict=True):
            for name, value in given.get("params", {}).items():
                assert run["params"][name] == pytest.approx(float(value)), (lesson["slug"], name)
        search = page.evaluate("location.search")
        assert f"problem={scene['problem']['name']}" in search
        assert search.count("run=") == len(scene["runs"])
        assert page.locator("#lesson-title").inner_text() == lesson["title"]
        assert page.locator("#lesson").is_visible()
        # The controls the lesson is about are marked.
        for name in lesson["highlights"]:
            marked = page.locator(
                f".param.highlight:has([data-param='{name}']), "
                f".param.highlight:has([data-control='{name}'])"
            )
            assert marked.count() >= 1, (lesson["slug"], name)
    # Back to free play: the panel goes, the scene stays.
    page.select_option("select[data-control='lesson']", "")
    page.wait_for_function("() => location.pathname === '/'")
    assert page.locator("#lesson").is_hidden()
    assert page.locator(".param.highlight").count() == 0


def test_a_lesson_link_opens_that_lesson(open_page, server, artifacts):
    page = open_page("lessons/adam").page
    adam = next(lesson for lesson in lessons(page) if lesson["slug"] == "adam")
    assert hook(page, "lesson") == "adam"
    assert page.input_value("select[data-control='lesson']") == "adam"
    assert len(traces(page)) == len(adam["scene"]["runs"])
    state = hook(page, "state")
    assert state["runs"][3]["params"]["bias_correction"] == 0
    assert page.evaluate("location.pathname") == "/lessons/adam"
    assert "run=adam" in page.evaluate("location.search")
    assert page.locator("#lesson-notice").inner_text() == adam["notice"]
    assert page.locator("#lesson-try").inner_text() == adam["try"]
    # The copied URL (path + query) reopens the same lesson and the same runs.
    again = open_page(page.url.removeprefix(server + "/")).page
    assert hook(again, "lesson") == "adam" and traces(again) == traces(page)
    missing = page.request.get(server + "/lessons/no-such-lesson")
    assert missing.status == 404
    assert "no lesson" in missing.text() and "/lessons/momentum" in missing.text()


def test_lesson_panel_at_laptop_size(open_page, artifacts):
    page = open_page("lessons/batch-size").page
    # Per-run batch sizes: each card has its own log slider, sent with the runs.
    sizes = [
        page.evaluate(
            f"() => Math.round(10 ** Number(document.querySelector("
            f'\'[data-run="{i}"] input[type=range][data-param="batch_size"]\').value))'
        )
        for i in range(3)
    ]
    assert sizes == [200, 16, 1]
    assert "bs:16" in page.evaluate("location.search")
    # The loss chart counts epochs: 600 updates are 600, ~46 and 3 passes over 200 samples.
    assert page.input_value("select[data-control='lossx']") == "epochs"
    ends = [t["x"][-1] for t in traces(page, "#loss-plot")]
    assert ends == pytest.approx([600, 600 / math.ceil(200 / 16), 3])
    page.screenshot(path=str(artifacts / "lesson-1366x768.png"))
    # A batch size changed on a card travels in the URL and the request.
    before = hook(page, "currentId")
    page.evaluate(
        """() => {
            const el = document.querySelector('[data-run="1"] input[type=range][data-param="batch_size"]');
            el.value = Math.log10(50);
            el.dispatchEvent(new Event('input', {bubbles: true}));
            el.dispatchEvent(new Event('change', {bubbles: true}));
        }"""
    )
    wait_complete(page, before)
    assert "bs:50" in page.evaluate("location.search")
    assert hook(page, "state")["runs"][1]["batch_size"] == 50


def test_next_and_previous_keys(open_page):
    page = open_page("lessons/momentum").page
    order = [lesson["slug"] for lesson in lessons(page)]
    count = {lesson["slug"]: len(lesson["scene"]["runs"]) for lesson in lessons(page)}
    at = order.index("momentum")
    for key, step in (("n", 1), ("ArrowRight", 1), ("b", -1), ("ArrowLeft", -1)):
        before = hook(page, "currentId")
        page.keyboard.press(key)
        at += step
        wait_lesson(page, order[at], count[order[at]], before)
    assert hook(page, "lesson") == "momentum"
    before = hook(page, "currentId")
    page.click("#lesson-next")
    wait_lesson(page, order[at + 1], count[order[at + 1]], before)
    page.go_back()
    page.wait_for_function("() => window.__descentlab.lesson === 'momentum'")
    assert page.locator("#lesson-title").inner_text().startswith("Momentum")


# The share of the window the two charts cover (their boxes, cut to the window).
CHART_SHARE = """() => ['#surface-plot', '#loss-plot'].reduce((sum, s) => {
    const r = document.querySelector(s).getBoundingClientRect();
    const w = Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0));
    const h = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
    return sum + w * h; }, 0) / (innerWidth * innerHeight)"""
# The surface's plotting area (inside its axes) as Plotly laid it out.
PLOT_AREA = """() => { const s = document.querySelector('#surface-plot')._fullLayout._size;
    return s.w * s.h; }"""


def test_presentation_mode(open_page, artifacts):
    """On a 1366 × 768 projector the charts fill the screen, in type for the back of a room."""
    page = open_page("lessons/momentum", width=1366, height=768).page
    line = page.evaluate(
        "() => document.querySelector('#surface-plot').data.find(d => d.meta && d.meta.run === 0).line.width"
    )
    normal_share, normal_area = page.evaluate(CHART_SHARE), page.evaluate(PLOT_AREA)
    page.keyboard.press("p")
    page.wait_for_function("() => document.body.classList.contains('present')")
    # The side panel's controls go; in a lesson its text stays beside the plots.
    assert page.locator("#problem-card").is_hidden() and page.locator("#runs").is_hidden()
    assert page.locator("#lesson").is_visible()
    page.wait_for_function(
        """w => (document.querySelector('#surface-plot').data || [])
            .some(d => d.meta && d.meta.run === 0 && d.line.width > w)""",
        arg=line,
    )
    page.wait_for_timeout(300)  # the charts take their new boxes
    share = page.evaluate(CHART_SHARE)
    assert share >= 0.70 and share > normal_share, share
    assert page.evaluate(PLOT_AREA) > 1.5 * normal_area  # the map itself is drawn larger
    tick = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('#surface-plot .xtick text')).fontSize)"
    )
    assert tick >= 18
    notice = page.locator("#lesson-notice").bounding_box()
    assert notice["y"] + notice["height"] <= 768 and notice["x"] >= 0
    page.screenshot(path=str(artifacts / "presentation-1366x768.png"))
    page.keyboard.press("h")  # the panel comes back on demand
    assert page.locator("#problem-card").is_visible()
    page.keyboard.press("h")
    assert page.locator("#problem-card").is_hidden()
    # The way out is on screen, and Esc takes it too.
    exit_button = page.locator("#present")
    assert exit_button.is_visible() and "Exit" in exit_button.inner_text()
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.body.classList.contains('present')")
    assert page.locator("#problem-card").is_visible()
    page.keyboard.press("p")
    page.click("#present")
    page.wait_for_function("() => !document.body.classList.contains('present')")
    assert page.locator("#problem-card").is_visible()
    # Outside a lesson, hiding the panel gives the plots the whole width.
    page.select_option("select[data-control='lesson']", "")
    width = page.locator("#surface-plot").bounding_box()["width"]
    page.click("#panel-toggle")
    assert page.locator("#panel").is_hidden()
    page.wait_for_function(
        "w => document.querySelector('#surface-plot').getBoundingClientRect().width > w + 100",
        arg=width,
    )


def test_help_overlay(open_page):
    page = open_page().page
    page.keyboard.press("?")
    page.wait_for_selector("#help", state="visible")
    assert page.locator("#help dt").count() >= 15
    page.keyboard.press("Escape")
    page.wait_for_selector("#help", state="hidden")
    page.click("#help-open")
    page.wait_for_selector("#help", state="visible")
    page.click("#help-close")
    page.wait_for_selector("#help", state="hidden")


def download(page, kind):
    page.click("#export-menu > summary")
    with page.expect_download() as info:
        page.click(f"[data-export='{kind}']")
    d = info.value
    return d.suggested_filename, open(d.path(), encoding="utf-8").read()


def test_export_csv_and_json_match_the_drawn_runs(open_page):
    query = (
        "?problem=steep_valley&steps=60&run=sgd~alpha:0.3"
        "&run=adam~alpha:0.2~beta1:0.9&run=adam~alpha:0.2~beta1:0.5"
    )
    page = open_page(query).page
    surface = traces(page)
    losses = [t["y"] for t in traces(page, "#loss-plot")]
    name, text = download(page, "csv")
    assert name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:6] == ["run", "optimizer", "t", "x", "y", "loss"]
    for i, optimizer in enumerate(["sgd", "adam", "adam"]):
        mine = [r for r in rows if r["run"] == str(i + 1)]  # numbered as on the cards
        assert {r["optimizer"] for r in mine} == {optimizer}
        assert [int(r["t"]) for r in mine] == list(range(61))
        assert [float(r["x"]) for r in mine] == surface[i]["x"]
        assert [float(r["y"]) for r in mine] == surface[i]["y"]
        assert [float(r["loss"]) for r in mine] == losses[i]
    # Each row says which settings made it: the two Adam runs read apart.
    adam = [next(r for r in rows if r["run"] == str(i)) for i in (2, 3)]
    assert [float(r["beta1"]) for r in adam] == [0.9, 0.5]
    assert [float(r["alpha"]) for r in adam] == [0.2, 0.2]
    assert adam[0]["label"] != adam[1]["label"] and "β₁=0.5" in adam[1]["label"]
    assert next(r for r in rows if r["run"] == "1")["beta1"] == ""  # SGD has no β1
    assert {r["schedule"] for r in rows} == {"constant"}
    name, text = download(page, "json")
    assert name.endswith(".json")
    body = json.loads(text)
    assert body["problem"]["name"] == "steep_valley" and body["steps"] == 60
    for i, run in enumerate(body["runs"]):
        assert [p[0] for p in run["path"]] == surface[i]["x"]
        assert [p[1] for p in run["path"]] == surface[i]["y"]
        assert run["loss"] == losses[i]
        assert "converged_at" in run and "diverged_at" in run
    assert body["runs"][1]["params"]["beta1"] == 0.9  # complete, as the API answers
    # The PNG: Plotly's own camera button stays visible on the surface.
    assert page.locator("#surface-plot .modebar-btn[data-title*='png' i]").is_visible()


def test_a_converging_run_is_labelled(open_page, server):
    query = "?problem=steep_valley&steps=200&run=momentum~alpha:0.45~beta:0.5&run=sgd~alpha:0.001"
    page = open_page(query).page
    request = page.evaluate("() => window.__descentlab.state")
    api = page.request.post(
        server + "/api/runs",
        data={
            "problem": {"name": "steep_valley"},
            "steps": 200,
            "runs": [
                {"optimizer": "momentum", "params": {"alpha": 0.45, "beta": 0.5}},
                {"optimizer": "sgd", "params": {"alpha": 0.001}},
            ],
        },
    ).json()
    t = api["runs"][0]["converged_at"]
    assert request["runs"][0]["optimizer"] == "momentum" and t is not None
    assert api["runs"][1]["converged_at"] is None
    assert page.locator(".legend-item").nth(0).locator(".badge.good").inner_text() == f"✓ {t}"
    assert page.locator(".legend-item").nth(1).locator(".badge.good").count() == 0
    assert f"converged in {t} updates" in page.locator("[data-run='0'] .run-status").inner_text()
    assert "converged" not in page.locator("[data-run='1'] .run-status").inner_text()
    marks = page.evaluate(
        "() => document.querySelector('#loss-plot').data"
        ".filter(d => d.meta && Number.isInteger(d.meta.converged)).map(d => [d.meta.converged, d.x[0]])"
    )
    assert marks == [[0, t]]


def test_a_run_that_blows_up_is_marked_apart_from_diverging_and_converging(open_page, server):
    runs = [
        {"optimizer": "sgd", "params": {"alpha": 0.52}},
        {"optimizer": "momentum", "params": {"alpha": 0.45, "beta": 0.5}},
        {"optimizer": "sgd", "params": {"alpha": 1.0}},
    ]
    query = "?problem=steep_valley&steps=150&run=sgd~alpha:0.52&run=momentum~alpha:0.45~beta:0.5"
    page = open_page(query + "&run=sgd~alpha:1").page
    body = {"problem": {"name": "steep_valley"}, "steps": 150, "runs": runs}
    api = page.request.post(server + "/api/runs", data=body).json()["runs"]
    blown, settled, diverged = api
    t = blown["blew_up_at"]
    assert t is not None and blown["diverged_at"] is None and blown["converged_at"] is None
    assert settled["converged_at"] is not None and diverged["diverged_at"] is not None
    legend = page.locator(".legend-item")
    assert legend.nth(0).locator(".badge.bad").inner_text() == f"▲ t={t}"
    assert legend.nth(1).locator(".badge.good").inner_text() == f"✓ {settled['converged_at']}"
    assert legend.nth(2).locator(".badge.bad").inner_text() == f"✕ t={diverged['diverged_at']}"
    assert f"blew up at t={t}" in page.locator("[data-run='0'] .run-status").inner_text()
    marks = page.evaluate(
        "() => document.querySelector('#loss-plot').data"
        ".filter(d => d.meta && Number.isInteger(d.meta.blewUp)).map(d => [d.meta.blewUp, d.x[0]])"
    )
    assert marks == [[0, t]]  # the diverged run (which also blew up) keeps its ✕ only


def open_sweep(page, count=None):
    page.click("#sweep-toggle")
    page.wait_for_selector("#sweep-card", state="visible")
    if count:
        page.select_option("[data-sweep='count']", str(count))


def run_sweep(page):
    before = page.evaluate("() => window.__descentlab.sweep && window.__descentlab.sweep.result")
    page.click("#sweep-run-btn")
    page.wait_for_function(
        "b => window.__descentlab.sweep && window.__descentlab.sweep.result !== b", arg=before
    )
    page.wait_for_function(
        "() => (document.querySelector('#sweep-plot').data || []).some(d => d.type === 'heatmap')"
    )
    return hook(page, "sweep")


def test_a_sweep_draws_a_heatmap_and_a_click_loads_a_cell(open_page, artifacts):
    page = open_page("?problem=rosenbrock&steps=300&run=momentum~alpha:0.001~beta:0.9").page
    open_sweep(page, 32)
    assert page.input_value("[data-sweep='x-param']") == "alpha"
    assert page.input_value("[data-sweep='y-param']") == "beta"
    assert page.is_checked("[data-sweep='x-log']") and not page.is_checked("[data-sweep='y-log']")
    # A narrower α range than the catalog's, so most cells converge somewhere.
    page.fill("[data-sweep='x-min']", "0.0001")
    page.fill("[data-sweep='x-max']", "0.01")
    sweep = run_sweep(page)
    assert sweep["request"]["x_axis"] == {
        "param": "alpha",
        "min": 0.0001,
        "max": 0.01,
        "count": 32,
        "scale": "log",
    }
    heat = page.evaluate(
        "() => document.querySelector('#sweep-plot').data"
        ".filter(d => d.type === 'heatmap' && d.meta.role === 'sweep')"
        ".map(d => [d.z.length, d.z[0].length])"
    )
    assert heat == [[32, 32]]
    assert page.locator("#sweep-progress").is_hidden()
    page.screenshot(path=str(artifacts / "sweep-heatmap.png"))
    # Colour by convergence instead.
    page.click("[data-colour='converged']")
    page.wait_for_function(
        "() => document.querySelector('#sweep-plot').data.some(d => d.meta && d.meta.mode === 'converged')"
    )
    # Click a cell that did not diverge and differs from the run: it becomes the run.
    result = sweep["result"]
    xs, ys = result["x_axis"]["values"], result["y_axis"]["values"]
    # The best cell away from the run's own setting (α = 0.001, β = 0.9).
    cells = [
        (loss, i, j)
        for j, row in enumerate(result["final_loss"])
        for i, loss in enumerate(row)
        if loss is not None and abs(math.log10(xs[i] / 0.001)) > 0.3 and abs(ys[j] - 0.9) > 0.1
    ]
    _, i, j = min(cells)
    before_path = traces(page)[0]
    before = hook(page, "currentId")
    point = page.evaluate(
        """([i, j]) => {
            const gd = document.querySelector('#sweep-plot');
            const r = window.__descentlab.sweep.result;
            const fl = gd._fullLayout, box = gd.getBoundingClientRect();
            return [box.left + fl.xaxis._offset + fl.xaxis.d2p(Math.log10(r.x_axis.values[i])),
                    box.top + fl.yaxis._offset + fl.yaxis.d2p(r.y_axis.values[j])];
        }""",
        [i, j],
    )
    page.mouse.click(*point)
    wait_complete(page, before)
    alpha = result["x_axis"]["values"][i]
    beta = result["y_axis"]["values"][j]
    state = hook(page, "state")
    assert state["runs"][0]["params"]["alpha"] == pytest.approx(alpha, rel=1e-5)
    assert state["runs"][0]["params"]["beta"] == pytest.approx(beta, rel=1e-5)
    slider = page.evaluate(
        '() => Number(document.querySelector(\'[data-run="0"] input[type=range][data-param="alpha"]\').value)'
    )
    assert slider == pytest.approx(math.log10(alpha), abs=0.01)
    assert float(page.input_value("[data-run='0'] input[data-number='beta']")) == pytest.approx(
        beta, abs=0.01
    )
    assert traces(page)[0]["x"] != before_path["x"]
    # The ring marks the run's new setting.
    ring = page.evaluate(
        "() => document.querySelector('#sweep-plot').data.find(d => d.meta && d.meta.role === 'current').x[0]"
    )
    assert ring == pytest.approx(math.log10(alpha), abs=1e-4)


def test_a_start_point_sweep_shows_basins(open_page, artifacts):
    page = open_page("?problem=himmelblau&steps=300&run=adam~alpha:0.05").page
    open_sweep(page, 48)
    page.select_option("[data-sweep='x-param']", "start_x")
    page.select_option("[data-sweep='y-param']", "start_y")
    sweep = run_sweep(page)
    basins = {v for row in sweep["result"]["minimum_index"] for v in row if v is not None}
    assert basins == {0, 1, 2, 3}
    mode = page.evaluate(
        "() => document.querySelector('#sweep-plot').data.find(d => d.meta && d.meta.role === 'sweep').meta.mode"
    )
    assert mode == "basin"
    page.screenshot(path=str(artifacts / "sweep-basins.png"))


def test_compare_fairly_tunes_alpha_per_run(open_page, artifacts):
    page = open_page("?problem=himmelblau&steps=200&run=sgd~alpha:0.0001&run=adam~alpha:0.001").page
    open_sweep(page)
    before = hook(page, "currentId")
    page.click("#sweep-fair")
    page.wait_for_function("() => window.__descentlab.fair", timeout=60_000)
    wait_complete(page, before)
    fair = hook(page, "fair")
    state = hook(page, "state")
    assert [c["run"] for c in fair] == [0, 1]
    for choice, run in zip(fair, state["runs"], strict=True):
        assert choice["alpha"] is not None
        assert run["params"]["alpha"] == pytest.approx(choice["alpha"])
        shown = page.input_value(f"[data-run='{choice['run']}'] input[data-number='alpha']")
        assert float(shown) == pytest.approx(choice["alpha"], rel=0.01)
    assert state["runs"][0]["params"]["alpha"] != 0.0001
    note = page.locator("#sweep-note").inner_text()
    assert "SGD" in note and "Adam" in note and "α =" in note
    # Each tuned run now converges.
    assert page.locator(".legend-item .badge.good").count() == 2
    page.screenshot(path=str(artifacts / "compare-fairly.png"))


def test_a_new_run_cancels_a_sweep(open_page):
    page = open_page("?problem=rosenbrock&steps=300&run=adam~alpha:0.01").page
    open_sweep(page, 128)
    page.fill("[data-sweep='steps']", "5000")
    page.click("#sweep-run-btn")
    page.wait_for_selector("#sweep-cancel", state="visible")
    before = hook(page, "currentId")
    page.click("[data-run='0'] [data-action='duplicate']")  # a new run replaces the sweep
    wait_complete(page, before)
    page.wait_for_selector("#sweep-cancel", state="hidden")
    assert "cancelled" in page.locator("#sweep-note").inner_text()
    assert hook(page, "sweep") is None


def test_a_regression_sweep_keeps_the_runs_batch_size(open_page):
    page = open_page("lessons/batch-size").page
    page.click("[data-run='1'] .run-index")
    open_sweep(page)
    assert page.input_value("[data-sweep='count']") == "32"
    sweep = run_sweep(page)
    assert sweep["request"]["batch_size"] == 16
    assert sweep["request"]["steps"] * 32 * 32 * 200 <= 2e8  # within the server's budget
    assert len(sweep["result"]["final_loss"]) == 32


def test_a_diverged_run_finds_a_working_alpha(open_page, artifacts):
    """Rosenbrock with SGD at α 0.45 diverges; one click tunes that run's α alone."""
    page = open_page().page  # the default scene: run 1 is SGD at α 0.45
    state = hook(page, "state")
    assert state["runs"][0]["optimizer"] == "sgd" and state["runs"][0]["params"]["alpha"] == 0.45
    others = [run["params"]["alpha"] for run in state["runs"][1:]]
    before = hook(page, "currentId")
    page.select_option("select[data-control='problem']", "rosenbrock")
    wait_complete(page, before)
    status = page.locator("[data-run='0'] .run-status")
    assert "diverged at t=" in status.inner_text()
    button = page.locator("[data-run='0'] [data-action='find-alpha']")
    assert button.is_visible() and button.inner_text() == "Find a working α"
    before = hook(page, "currentId")
    button.click()
    page.wait_for_function("() => window.__descentlab.fair", timeout=60_000)
    wait_complete(page, before)
    fair = hook(page, "fair")
    assert [c["run"] for c in fair] == [0]  # that run only
    alpha = fair[0]["alpha"]
    assert alpha is not None and alpha < 0.45
    # The sweep was compare fairly's: α alone over the catalog's log range, for SGD.
    request = page.evaluate("() => window.__descentlab.state")
    assert request["runs"][0]["params"]["alpha"] == pytest.approx(alpha)
    assert [run["params"]["alpha"] for run in request["runs"][1:]] == others
    assert float(page.input_value("[data-run='0'] input[data-number='alpha']")) == pytest.approx(
        alpha, rel=0.01
    )
    assert f"alpha:{alpha:g}" in page.evaluate("location.search").replace("%3A", ":")
    # The run no longer diverges, and its card no longer offers the way out.
    assert "diverged" not in status.inner_text()
    assert page.locator("[data-run='0'] [data-action='find-alpha']").count() == 0
    assert "Found a working α" in page.locator("#sweep-note").inner_text()
    page.screenshot(path=str(artifacts / "find-working-alpha.png"))
