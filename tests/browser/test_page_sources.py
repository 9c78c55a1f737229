"""What the page knows of the server's facts: its schedule formulas agree with the
server's, and its bounds are the catalog's."""

from __future__ import annotations

import numpy as np

from app.hyperparams import HyperParam
from app.optim.schedules import SCHEDULES

EPOCHS = list(range(0, 121, 3))


def settings(params: tuple[HyperParam, ...]) -> list[dict[str, float]]:
    """Each schedule's defaults, and every parameter at the ends of a typical range."""
    defaults = {p.name: p.default for p in params}
    variants = [defaults]
    for p in params:
        low = 1.0 if p.kind == "int" else p.min + 0.1 * (p.max - p.min)
        high = 37.0 if p.kind == "int" else p.min + 0.9 * (p.max - p.min)
        variants += [{**defaults, p.name: low}, {**defaults, p.name: high}]
    return variants


def test_the_alpha_chart_draws_the_servers_schedules(open_page):
    page = open_page().page
    cases = [
        {"name": name, "params": values}
        for name, spec in SCHEDULES.items()
        for values in settings(spec.params)
    ]
    drawn = page.evaluate(
        """async ([cases, epochs]) => {
            const { DECAY } = await import("/static/js/alphachart.js");
            return cases.map(({ name, params }) =>
                DECAY[name] ? epochs.map((e) => DECAY[name](e, params)) : null);
        }""",
        [cases, EPOCHS],
    )
    for case, decays in zip(cases, drawn, strict=True):
        assert decays is not None, f"alphachart.js draws no α(t) for schedule {case['name']!r}"
        spec = SCHEDULES[case["name"]]
        expected = spec.decay(np.array(EPOCHS, dtype=float), **case["params"])
        np.testing.assert_allclose(decays, expected, rtol=1e-12, err_msg=str(case))


def test_the_pages_bounds_are_the_catalogs(open_page):
    # A catalog whose limits are lowered: an address asking for more is clamped to them.
    page = open_page().page
    state = page.evaluate(
        """async () => {
            const S = await import("/static/js/state.js");
            const raw = JSON.parse(document.getElementById("catalog").textContent);
            raw.limits = { ...raw.limits, max_steps: 50, max_seed: 7, max_runs: 2 };
            const runs = "&run=sgd&run=adam&run=momentum";
            return S.fromURL("?steps=999&seed=999" + runs, new S.Catalog(raw));
        }"""
    )
    assert state["steps"] == 50 and state["seed"] == 7
    assert [run["optimizer"] for run in state["runs"]] == ["sgd", "adam"]
