"""Why, not just where: the step anatomy's arrows on the surface, the state chart in the
loss chart's place and a regression's minibatch cloud, at a laptop and a phone size,
checked against the server's own anatomy (docs/API.md, Anatomy)."""

from __future__ import annotations

import json
import math

import pytest
from pagekit import wait_complete

LAPTOP = (1366, 768)
PHONE = (390, 844)
SCREENS = pytest.mark.parametrize(("width", "height"), [LAPTOP, PHONE], ids=["laptop", "phone"])

ARROWS = """() => Object.fromEntries((document.querySelector('#surface-plot').data || [])
    .filter(d => d.meta && d.meta.anatomy)
    .map(d => [d.meta.anatomy, {x: Array.from(d.x), y: Array.from(d.y), meta: d.meta}]))"""
PATH = """i => { const d = document.querySelector('#surface-plot').data
    .find(d => d.meta && d.meta.run === i); return [Array.from(d.x), Array.from(d.y)]; }"""
SCRUB = """t => { const el = document.querySelector('#scrub'); el.value = t;
    el.dispatchEvent(new Event('input', {bubbles: true})); }"""
STATE_TRACES = """() => (document.querySelector('#state-plot').data || [])
    .map(d => ({meta: d.meta, x: Array.from(d.x), y: Array.from(d.y)}))"""

NESTEROV = (
    "lessons/nesterov?problem=steep_valley&noise=0&steps=200&seed=0&speed=20&instant=1"
    "&anatomy=1&run=momentum~alpha:0.1~beta:0.9~beta_warmup_steps:0"
    "&run=nesterov~alpha:0.1~beta:0.9~beta_warmup_steps:0"
)


def arrows_at(page, t):
    """Scrub to update t; the arrows once they show it."""
    page.evaluate(SCRUB, t)
    page.wait_for_function(
        "t => { const d = (document.querySelector('#surface-plot').data || [])"
        ".find(d => d.meta && d.meta.anatomy === 'step'); return d && d.meta.t === t; }",
        arg=t,
    )
    return page.evaluate(ARROWS)


def vector(arrow, k=0):
    """Arrow k of a trace (segments of three points: tail, head, gap)."""
    x, y = arrow["x"][3 * k : 3 * k + 2], arrow["y"][3 * k : 3 * k + 2]
    return (x[0], y[0]), (x[1] - x[0], y[1] - y[0])


def served_anatomy(page, server, state):
    body = {**_request(state), "anatomy": True}
    return page.request.post(server + "/api/runs", data=json.dumps(body),
                             headers={"content-type": "application/json"}).json()  # fmt: skip


def _request(state):
    runs = [{"optimizer": r["optimizer"], "params": {k: bool(v) if k == "bias_correction" else v
             for k, v in r["params"].items()}} for r in state["runs"]]  # fmt: skip
    return {"problem": {"name": state["problem"]}, "steps": state["steps"], "runs": runs}


@SCREENS
def test_the_arrows_explain_the_scrubbed_update_and_follow_t(
    open_page, server, artifacts, width, height
):
    page = open_page(NESTEROV, width=width, height=height).page
    served = served_anatomy(page, server, page.evaluate("window.__descentlab.state"))["runs"][1]
    xs, ys = page.evaluate(PATH, 1)  # Nesterov, the lesson's (selected) run
    for t in (3, 7):
        arrows = arrows_at(page, t)
        assert {"step", "gradient", "velocity", "lookahead"} <= {
            role for role, a in arrows.items() if a["x"]
        }
        factor = arrows["step"]["meta"]["factor"]
        assert arrows["step"]["meta"]["of"] == 1 and factor >= 1
        # Every arrow starts at x_{t−1} (the gradient term at the look-ahead point).
        start, step = vector(arrows["step"])
        assert start == pytest.approx((xs[t - 1], ys[t - 1]))
        assert step == pytest.approx(
            (factor * (xs[t] - xs[t - 1]), factor * (ys[t] - ys[t - 1])), abs=1e-9
        )
        # −α_t g from the look-ahead point, as the server computed them.
        look = served["lookahead"][t - 1]
        here = (xs[t - 1], ys[t - 1])
        magnified = tuple(here[k] + factor * (look[k] - here[k]) for k in (0, 1))
        assert (arrows["lookahead"]["x"][0], arrows["lookahead"]["y"][0]) == pytest.approx(
            magnified
        )
        at, gradient = vector(arrows["gradient"])
        assert at == pytest.approx(magnified)
        alpha = served["alpha_t"][t]  # one per point: update t made point t
        assert gradient == pytest.approx([-factor * alpha * g for g in served["grad"][t - 1]])
        # The step is the velocity term plus the gradient term; the first ends at the look-ahead.
        _, velocity = vector(arrows["velocity"])
        assert [v + g for v, g in zip(velocity, gradient, strict=True)] == pytest.approx(step)
        assert (start[0] + velocity[0], start[1] + velocity[1]) == pytest.approx(magnified)
    # The key names each arrow by its term (MathML), for the update shown.
    key = page.locator("#anatomy-key")
    assert key.is_visible() and "t = 7" in key.inner_text()
    for role in ("step", "gradient", "velocity", "lookahead"):
        assert key.locator(f"[data-arrow={role}]").count() == 1, role
    assert key.locator("[data-arrow=velocity] math").count() == 1
    page.screenshot(path=str(artifacts / f"anatomy-nesterov-{width}x{height}.png"), full_page=True)
    # Off (the button, or the key a), the arrows and the key go.
    page.click("#anatomy-toggle")
    page.wait_for_function("() => !location.search.includes('anatomy=1')")
    page.wait_for_function(
        "() => document.querySelector('#surface-plot').data"
        ".filter(d => d.meta && d.meta.anatomy).every(d => d.x.length === 0)"
    )
    assert key.is_hidden()


def test_weight_decay_is_an_arrow_of_its_own_beside_the_gradient_and_velocity_terms(
    open_page, server, artifacts
):
    # Momentum with L2 weight decay: its step is −α_t g − α_t λ x_{t−1} − α_t β v_{t−1}.
    page = open_page(
        "?problem=steep_valley&steps=40&anatomy=1&run=momentum~alpha:0.1~beta:0.5~weight_decay:0.4"
    ).page
    served = served_anatomy(page, server, page.evaluate("window.__descentlab.state"))["runs"][0]
    xs, ys = page.evaluate(PATH, 0)
    t = 4
    arrows = arrows_at(page, t)
    factor = arrows["step"]["meta"]["factor"]
    alpha = served["alpha_t"][t]
    here = (xs[t - 1], ys[t - 1])
    start, decay = vector(arrows["decay"])
    assert start == pytest.approx(here)
    assert decay == pytest.approx([-factor * alpha * 0.4 * c for c in here])
    _, step = vector(arrows["step"])
    _, gradient = vector(arrows["gradient"])
    _, velocity = vector(arrows["velocity"])
    previous = served["state"]["v"][t - 2]  # v_{t−1}: the state after update t − 1
    assert velocity == pytest.approx([-factor * alpha * 0.5 * v for v in previous])
    total = [g + d + v for g, d, v in zip(gradient, decay, velocity, strict=True)]
    assert total == pytest.approx(step)
    key = page.locator("#anatomy-key")
    assert key.locator("[data-arrow=decay] math").count() == 1
    assert "weight-decay term" in key.locator("[data-arrow=decay]").inner_text()
    page.screenshot(path=str(artifacts / "anatomy-weight-decay.png"))


@SCREENS
def test_the_state_chart_has_a_trace_per_run_and_coordinate(open_page, server, width, height):
    page = open_page("lessons/adagrad-rmsprop", width=width, height=height).page
    # The lesson opens on the Rate chart: Adagrad's rate dying beside RMSProp's.
    assert page.locator("#state-plot").is_visible()
    assert page.locator("[data-chart=rate]").get_attribute("aria-pressed") == "true"
    page.wait_for_function("() => (document.querySelector('#state-plot').data || []).length")
    state = page.evaluate("window.__descentlab.state")
    served = served_anatomy(page, server, state)["runs"]
    traces = page.evaluate(STATE_TRACES)
    assert sorted((t["meta"]["run"], t["meta"]["coordinate"]) for t in traces) == [
        (0, 0), (0, 1), (1, 0), (1, 1),
    ]  # fmt: skip
    for trace in traces:
        run, coordinate = trace["meta"]["run"], trace["meta"]["coordinate"]
        expected = [rate[coordinate] for rate in served[run]["effective_lr"]]
        assert trace["y"] == pytest.approx(expected, rel=1e-12)
        assert trace["x"][:2] == [1, 2]  # update t
    layout = page.evaluate("() => document.querySelector('#state-plot')._fullLayout.yaxis.type")
    assert layout == "log"

    def shown(chart):
        before = page.evaluate("window.__descentlab.redraws")
        page.click(f"[data-chart={chart}]")
        page.wait_for_function("n => window.__descentlab.redraws > n", arg=before)
        page.wait_for_function(f"() => location.search.includes('chart={chart}')")
        return page.evaluate(STATE_TRACES)

    # α_t: one trace per run, the scheduled rate; velocity: none here (no v in either rule).
    alphas = shown("alpha")
    assert sorted(t["meta"]["run"] for t in alphas) == [0, 1]
    assert all(set(t["y"]) == {0.1} for t in alphas)
    assert shown("velocity") == []
    shown("loss")
    assert page.locator("#state-plot").is_hidden() and page.locator("#loss-plot").is_visible()


def test_the_page_asks_for_anatomy_only_while_a_view_shows_it(open_page):
    # A second page of the same context, its socket watched from its first frame.
    page = open_page().page.context.new_page()
    sent = []
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))),
    )
    page.goto(page.context.pages[0].url)
    wait_complete(page)
    runs = [m for m in sent if m.get("type") == "run"]
    assert runs and not any(m["request"].get("anatomy") for m in runs)
    before = page.evaluate("window.__descentlab.currentId")
    page.keyboard.press("a")  # the step anatomy: the run is asked for again, with it
    wait_complete(page, before)
    assert [m for m in sent if m.get("type") == "run"][-1]["request"]["anatomy"] is True
    arrows = page.evaluate(ARROWS)
    assert arrows["step"]["x"] and arrows["gradient"]["x"]
    page.close()


def test_a_regressions_cloud_follows_the_batch_size(open_page, artifacts):
    page = open_page("lessons/batch-size").page

    def cloud(t):
        page.evaluate(SCRUB, t)
        page.wait_for_function(
            "t => { const d = document.querySelector('#surface-plot').data"
            ".find(d => d.meta && d.meta.anatomy === 'cloud');"
            " return d && d.meta.t === t && d.x.length > 0; }",
            arg=t,
        )
        arrows = page.evaluate(ARROWS)
        return arrows["cloud"], arrows["full"]

    def spread(arrows, full):
        _, mean = vector(full)
        tips = [vector(arrows, k)[1] for k in range(len(arrows["x"]) // 3)]
        return len(tips), math.sqrt(
            sum((a - mean[0]) ** 2 + (b - mean[1]) ** 2 for a, b in tips) / len(tips)
        )

    # The mini-batch run: its 13 batches of the epoch around the full gradient.
    page.dispatch_event(".run-card[data-run='1']", "pointerdown")
    count, sixteen = spread(*cloud(20))
    assert count == 13  # ⌈200 / 16⌉
    assert page.locator("#anatomy-key [data-arrow=cloud]").count() == 1
    page.screenshot(path=str(artifacts / "anatomy-cloud-batch-16.png"))
    # Its batch-size slider: batches of 4 scatter wider around the same full gradient.
    before = page.evaluate("window.__descentlab.currentId")
    page.evaluate(
        """() => { const el = document.querySelector('[data-run="1"] input[data-param="batch_size"]');
            el.value = Math.log10(4); el.dispatchEvent(new Event('input', {bubbles: true}));
            el.dispatchEvent(new Event('change', {bubbles: true})); }"""
    )
    wait_complete(page, before)
    count, four = spread(*cloud(20))
    assert count == 50 and four > 1.5 * sixteen
