"""What the page knows of the server's facts: its schedule formulas agree with the
server's, and its bounds are the catalog's."""

from __future__ import annotations

import numpy as np

from app.hyperparams import HyperParam
from app.optim.schedules import SCHEDULES, learning_rates

UPDATES = [*range(1, 60), *range(60, 1301, 7)]
# A surface (an epoch is an update) and a regression whose epoch takes 7 updates.
PER_EPOCH = (1, 7)
ALPHA = 0.3


def settings(params: tuple[HyperParam, ...]) -> list[dict[str, float]]:
    """Each schedule's defaults, and every parameter at the ends of a typical range."""
    defaults = {p.name: p.default for p in params}
    variants = [defaults]
    for p in params:
        if p.kind == "bool":
            low, high = 0, 1
        elif p.kind == "int":
            low, high = 1, 37
        else:
            low, high = p.min + 0.1 * (p.max - p.min), p.min + 0.9 * (p.max - p.min)
        variants += [{**defaults, p.name: low}, {**defaults, p.name: high}]
    return variants


def test_the_alpha_chart_draws_the_servers_schedules(open_page):
    page = open_page().page
    cases = [
        {"schedule": {"name": name, **values}, "counts": spec.counts, "per_epoch": per_epoch}
        for name, spec in SCHEDULES.items()
        for values in settings(spec.params)
        for per_epoch in PER_EPOCH
    ]
    drawn = page.evaluate(
        """async ([cases, updates, alpha]) => {
            const { scheduledRate } = await import("/static/js/alphachart.js");
            return cases.map(({ schedule, counts, per_epoch }) =>
                updates.map((t) => scheduledRate(schedule, counts, alpha, t, per_epoch)));
        }""",
        [cases, UPDATES, ALPHA],
    )
    for case, rates in zip(cases, drawn, strict=True):
        assert None not in rates, f"alphachart.js draws no α(t) for {case['schedule']['name']!r}"
        expected = learning_rates(
            np.array([ALPHA]),
            [case["schedule"]],
            np.zeros(1, dtype=np.int64),
            np.array(UPDATES, dtype=float),
            case["per_epoch"],
        )[:, 0]
        np.testing.assert_allclose(rates, expected, rtol=1e-12, atol=1e-15, err_msg=str(case))


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
