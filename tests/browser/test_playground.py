"""The playground in a real browser: what a student sees and does."""

from __future__ import annotations

import json

import pytest
from pagekit import wait_complete

from tests.serving import free_port, start_server, stop_server

TRACES = """sel => Array.from(document.querySelector(sel).data || [])
    .filter(d => d.meta && Number.isInteger(d.meta.run))
    .map(d => ({run: d.meta.run, x: Array.from(d.x), y: Array.from(d.y)}))"""


def traces(page, selector="#surface-plot"):
    return sorted(page.evaluate(TRACES, selector), key=lambda t: t["run"])


def set_slider(page, run: int, param: str, value: float) -> None:
    """Move a slider the way a script can: set its value and fire `input`."""
    page.evaluate(
        """([run, param, value]) => {
            const el = document.querySelector(
                `[data-run="${run}"] input[type=range][data-param="${param}"]`);
            el.value = el.dataset.scale === "log" ? Math.log10(value)
                : el.dataset.scale === "log1m" ? -Math.log10(1 - value) : value;
            el.dispatchEvent(new Event("input", {bubbles: true}));
            el.dispatchEvent(new Event("change", {bubbles: true}));
        }""",
        [run, param, value],
    )


def current_id(page) -> int:
    return page.evaluate("window.__descentlab.currentId")


# Whether the surface's SVG holds at least n drawn lines (the paths as painted).
DRAWN_LINES = """n => [...document.querySelectorAll('#surface-plot .scatterlayer .trace path.js-line')]
    .filter(p => (p.getAttribute('d') || '').length > 10).length >= n"""


def test_first_visit_draws_the_default_runs(open_page, artifacts):
    w = open_page()
    page = w.page
    state = page.evaluate("window.__descentlab.state")
    assert state["problem"] == "steep_valley"
    assert [r["optimizer"] for r in state["runs"]] == ["sgd", "momentum", "adam"]
    surface = traces(page)
    assert [t["run"] for t in surface] == [0, 1, 2]
    for t in surface:
        assert len(t["x"]) == len(t["y"]) == state["steps"] + 1
        assert t["x"][0] == pytest.approx(-4.5) and t["y"][0] == pytest.approx(1.5)
    loss = traces(page, "#loss-plot")
    assert [t["run"] for t in loss] == [0, 1, 2]
    assert all(len(t["y"]) == state["steps"] + 1 for t in loss)
    # The ground is painted under the paths, and every run has a card coloured like it.
    assert page.evaluate("document.querySelector('#surface-plot').layout.images.length") == 1
    assert page.locator("[data-run]").count() == 3
    # And the paths are on screen, not only in the plot's data: a line drawn per run.
    page.wait_for_function(DRAWN_LINES, arg=3, timeout=15_000)
    page.screenshot(path=str(artifacts / "first-visit-1366x768.png"))


def test_first_visit_at_projector_size(open_page, artifacts):
    w = open_page(width=1920, height=1080)
    assert len(traces(w.page)) == 3
    w.page.wait_for_function(DRAWN_LINES, arg=3, timeout=15_000)
    w.page.screenshot(path=str(artifacts / "first-visit-1920x1080.png"))


def test_moving_a_slider_changes_that_run_only(open_page):
    page = open_page().page
    before = traces(page)
    previous = current_id(page)
    set_slider(page, 0, "alpha", 0.2)
    wait_complete(page, previous)
    after = traces(page)
    assert after[0]["x"] != before[0]["x"]
    assert after[1] == before[1] and after[2] == before[2]
    assert "alpha:0.2" in page.evaluate("location.search")


def test_a_copied_url_reproduces_the_view(open_page):
    page = open_page().page
    previous = current_id(page)
    set_slider(page, 1, "beta", 0.6)
    previous = wait_complete(page, previous)
    page.locator("[data-run='2'] select[data-control='optimizer']").select_option("rmsprop")
    wait_complete(page, previous)
    url = page.evaluate("location.search")
    original = traces(page)
    again = open_page(url).page  # a fresh context: nothing shared but the URL
    assert traces(again) == original
    assert again.evaluate("window.__descentlab.state") == page.evaluate("window.__descentlab.state")


def test_every_problem_draws(open_page, artifacts):
    page = open_page().page
    names = page.evaluate(
        "JSON.parse(document.getElementById('catalog').textContent).problems.map(p => p.name)"
    )
    assert len(names) >= 5
    for name in names:
        previous = current_id(page)
        shown = page.evaluate("window.__descentlab.state.problem")
        page.select_option("select[data-control='problem']", name)
        if name != shown:  # choosing the problem on screen again changes nothing: no new run
            wait_complete(page, previous)
        page.wait_for_function("document.querySelector('#surface-plot').layout.images.length === 1")
        drawn = traces(page)
        assert len(drawn) == 3 and all(len(t["x"]) >= 2 for t in drawn), name
        start = page.evaluate(
            "name => JSON.parse(document.getElementById('catalog').textContent)"
            ".problems.find(p => p.name === name).start",
            name,
        )
        assert drawn[0]["x"][0] == pytest.approx(start[0]), name
        if name.endswith("regression"):
            assert page.locator("#data-card").is_visible()
        page.screenshot(path=str(artifacts / f"problem-{name}.png"))


def test_adding_duplicating_and_removing_runs(open_page):
    page = open_page().page
    previous = current_id(page)
    page.click("[data-action='add']")
    previous = wait_complete(page, previous)
    assert len(traces(page)) == 4
    page.click("[data-run='0'] [data-action='duplicate']")
    previous = wait_complete(page, previous)
    drawn = traces(page)
    assert len(drawn) == 5 and drawn[0]["x"] == drawn[1]["x"]
    page.click("[data-run='1'] [data-action='remove']")
    previous = wait_complete(page, previous)
    page.click("[data-run='3'] [data-action='remove']")
    wait_complete(page, previous)
    assert len(traces(page)) == 3
    assert page.evaluate("location.search").count("run=") == 3


def test_clicking_the_surface_moves_the_start(open_page):
    page = open_page().page
    box = page.locator("#surface-plot .nsewdrag").first.bounding_box()
    previous = current_id(page)
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    wait_complete(page, previous)
    drawn = traces(page)
    starts = {(round(t["x"][0], 6), round(t["y"][0], 6)) for t in drawn}
    assert len(starts) == 1
    ((x0, y0),) = starts
    assert 1.0 < x0 < 4.0 and 0.2 < y0 < 1.8
    # Shift-click moves only the selected run.
    page.click("[data-run='2'] .run-index")
    previous = current_id(page)
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.75)
    page.keyboard.up("Shift")
    wait_complete(page, previous)
    drawn = traces(page)
    assert drawn[2]["x"][0] < 0 and drawn[0]["x"][0] == pytest.approx(x0)


def test_back_and_forward(open_page):
    page = open_page().page
    previous = current_id(page)
    page.select_option("select[data-control='problem']", "rosenbrock")
    previous = wait_complete(page, previous)
    assert "problem=rosenbrock" in page.url
    page.go_back()
    previous = wait_complete(page, previous)
    assert page.evaluate("window.__descentlab.state.problem") == "steep_valley"
    assert page.input_value("select[data-control='problem']") == "steep_valley"
    page.go_forward()
    wait_complete(page, previous)
    assert page.evaluate("window.__descentlab.state.problem") == "rosenbrock"


def test_a_diverging_run_is_marked(open_page, artifacts):
    page = open_page().page
    previous = current_id(page)
    set_slider(page, 0, "alpha", 0.6)  # beyond 2/L = 0.5 across the valley
    wait_complete(page, previous)
    status = page.locator("[data-run='0'] .run-status").inner_text()
    assert "diverged at t=" in status
    notes = page.evaluate(
        "document.querySelector('#loss-plot').layout.annotations.map(a => a.text)"
    )
    assert any("diverged" in n for n in notes)
    page.screenshot(path=str(artifacts / "diverged.png"))


def test_every_hyper_parameter_has_a_slider(open_page):
    page = open_page().page
    catalog = json.loads(page.evaluate("document.getElementById('catalog').textContent"))
    for run, name in enumerate(["sgd", "momentum", "adam"]):
        opt = next(o for o in catalog["optimizers"] if o["name"] == name)
        for param in opt["params"]:
            selector = f"[data-run='{run}'] input[type=range][data-param='{param['name']}']"
            assert page.locator(selector).count() == 1, selector


def test_animation_plays_and_pauses(open_page):
    page = open_page("?problem=steep_valley&steps=120&speed=40&instant=0&run=sgd~alpha:0.3").page
    page.click("#play")
    page.wait_for_timeout(700)
    shown = len(traces(page)[0]["x"])
    assert 2 < shown < 121
    page.click("#play")  # pause
    page.wait_for_timeout(400)
    paused = len(traces(page)[0]["x"])
    page.wait_for_timeout(400)
    assert len(traces(page)[0]["x"]) == paused


def test_every_move_of_a_dragged_slider_redraws_the_run(open_page):
    """24 quick moves over each transport: each one ends with its own path drawn.

    (How fast is benchmarks/page.py's business: timing has no place in a test on a
    shared machine.)
    """
    page = open_page().page
    for transport in ("ws", "post"):
        page.evaluate("t => { window.__descentlab.transport = t }", transport)
        first_steps = page.evaluate(
            """async () => {
                const el = document.querySelector('[data-run="0"] input[data-param="alpha"]');
                const gd = document.querySelector('#surface-plot');
                const seen = [];
                for (let k = 0; k < 24; k++) {
                    const alpha = 0.05 + 0.015 * k;
                    const before = window.__descentlab.lastCompleted.id;
                    el.value = Math.log10(alpha);
                    el.dispatchEvent(new Event('input', {bubbles: true}));
                    await new Promise((resolve) => {
                        const check = () => {
                            const h = window.__descentlab;
                            const id = h.lastCompleted.id;
                            if (id !== before && id === h.currentId) resolve();
                            else requestAnimationFrame(check);
                        };
                        check();
                    });
                    const trace = gd.data.find(d => d.meta && d.meta.run === 0);
                    seen.push([alpha, trace.x[0], trace.x[1]]);
                    await new Promise(r => setTimeout(r, 20));
                }
                return seen;
            }"""
        )
        # Run 0 is SGD on the steep valley: x1 = x0 - alpha * 0.2 * x0, with alpha as
        # the log slider's step rounds it; every move drew its own, larger, step.
        for alpha, x0, x1 in first_steps:
            assert x1 == pytest.approx(x0 - alpha * 0.2 * x0, rel=2e-3), transport
        steps = [x1 - x0 for _, x0, x1 in first_steps]
        assert all(b > a for a, b in zip(steps, steps[1:], strict=False)), transport


def test_three_d_view(open_page, artifacts):
    page = open_page("?problem=himmelblau&view=3d&run=adam~alpha:0.1").page
    page.wait_for_function("() => (document.querySelector('#surface-3d').data || []).length > 1")
    lifted = page.evaluate(
        "document.querySelector('#surface-3d').data"
        ".filter(d => d.meta && d.meta.run3d === 0)[0].z.length"
    )
    assert lifted == 121
    assert page.locator("#surface-3d").is_visible()
    page.screenshot(path=str(artifacts / "view-3d.png"))
    page.click("[data-view='2d']")
    assert page.locator("#surface-3d").is_hidden()
    assert "view=2d" in page.url


def test_first_load_weight(open_page, artifacts):
    page = open_page().page
    total = page.evaluate(
        """() => performance.getEntriesByType('navigation')
            .concat(performance.getEntriesByType('resource'))
            .map(e => ({name: e.name, bytes: e.transferSize || e.encodedBodySize || 0}))"""
    )
    weight = {"total_bytes": sum(e["bytes"] for e in total), "resources": total}
    (artifacts / "page-weight.json").write_text(json.dumps(weight, indent=2))
    assert weight["total_bytes"] < 8_000_000


def test_the_page_reconnects_after_a_server_restart(browser, artifacts):
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = start_server(port)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(origin + "/")
        wait_complete(page)
        assert page.locator("#banner").is_hidden()
        stop_server(server)
        page.wait_for_selector("#banner", state="visible", timeout=10_000)
        page.screenshot(path=str(artifacts / "connection-lost.png"))
        server = start_server(port)
        page.wait_for_selector("#banner", state="hidden", timeout=15_000)
        previous = current_id(page)
        set_slider(page, 0, "alpha", 0.3)
        wait_complete(page, previous)
        assert "alpha:0.3" in page.url
    finally:
        context.close()
        stop_server(server)


def test_legend_and_cards_tell_runs_of_one_optimiser_apart(open_page, artifacts):
    """Two Momentum runs that differ only in β both name β, though 0.9 is the default."""
    query = (
        "?problem=steep_valley&steps=120"
        "&run=momentum~alpha:0.1~beta:0.5&run=momentum~alpha:0.1~beta:0.9&run=sgd~alpha:0.3"
    )
    page = open_page(query).page
    legend = page.locator(".legend-item")
    first, second, third = (legend.nth(k).inner_text() for k in range(3))
    assert "β=0.5" in first and "β=0.9" in second
    assert first != second
    assert "β" not in third and "α=0.3" in third
    # The surface's hover names carry the same keys.
    names = dict(
        page.evaluate(
            "document.querySelector('#surface-plot').data"
            ".filter(d => d.meta && Number.isInteger(d.meta.run)).map(d => [d.meta.run, d.name])"
        )
    )
    assert "β=0.9" in names[1]

    # The cards mark the value that tells the two Momentum runs apart, and only that one.
    def marked(run):
        return page.eval_on_selector_all(
            f"[data-run='{run}'] .values .value.differs", "els => els.map(e => e.dataset.value)"
        )

    assert marked(0) == marked(1) == ["beta"]
    assert marked(2) == []
    # Moving run 1's α makes α tell them apart too, in the legend and on both cards.
    previous = current_id(page)
    set_slider(page, 1, "alpha", 0.05)
    wait_complete(page, previous)
    assert "α=0.05" in legend.nth(1).inner_text() and "β=0.9" in legend.nth(1).inner_text()
    assert marked(0) == marked(1) == ["alpha", "beta"]
    page.screenshot(path=str(artifacts / "legend-twins.png"))


def test_a_default_setting_stays_out_of_the_legend_without_a_twin(open_page):
    page = open_page("?problem=steep_valley&run=adam~alpha:0.2&run=sgd~alpha:0.1").page
    text = page.locator(".legend-item").nth(0).inner_text()
    assert text.startswith("Adam · α=0.2")
    assert "β" not in text and "bc" not in text  # every other Adam setting is its default


# AdamW's and Lion's weight decay, RAdam beside them, a cosine schedule with warm-up.
ZOO = "?run=adamw~lr:cosine~lr.T:120~lr.warmup_steps:20&run=lion~weight_decay:0.1&run=radam"


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_the_modern_rules_cards_show_every_slider_and_the_warm_up(
    open_page, artifacts, width, height
):
    page = open_page(ZOO, width=width, height=height).page
    catalog = json.loads(page.evaluate("document.getElementById('catalog').textContent"))
    rules = {o["name"]: o for o in catalog["optimizers"]}
    cosine = next(s for s in catalog["schedules"] if s["name"] == "cosine")
    card = page.locator("[data-run='0']")
    card.scroll_into_view_if_needed()
    for run, name in enumerate(["adamw", "lion", "radam"]):
        for param in rules[name]["params"]:
            slider = page.locator(f"[data-run='{run}'] [data-param='{param['name']}']").first
            assert slider.count() == 1, (name, param["name"])
    for param in cosine["params"]:
        assert card.locator(f"[data-param='{param['name']}']").count() >= 1, param["name"]
    # The α(t) chart rises over the warm-up, then falls along the cosine.
    label = card.locator(".alpha-chart svg").get_attribute("aria-label")
    assert "peak" in label and label.startswith("learning rate over updates: α from")
    card.screenshot(path=str(artifacts / f"modern-rules-card-{width}x{height}.png"))
    # Nothing in the card is cut off at the side of the screen or of the card, whichever
    # schedule it follows.
    edge = card.bounding_box()
    right = min(width, edge["x"] + edge["width"])
    for schedule in catalog["schedules"]:
        card.locator("select[data-control='schedule']").select_option(schedule["name"])
        card = page.locator("[data-run='0']")
        for element in card.locator("input, select, .alpha-chart, .schedule .eq math").all():
            box = element.bounding_box()
            if box:
                assert box["x"] >= 0 and box["x"] + box["width"] <= right, (schedule["name"], box)
