"""A surface of your own in the browser: type a formula, see its contours and the
runs on it; a bad formula shows its error with the place marked; the URL brings
the same surface back."""

from __future__ import annotations

import math

import pytest
from pagekit import wait_complete

TRACES = """sel => Array.from(document.querySelector(sel).data || [])
    .filter(d => d.meta && Number.isInteger(d.meta.run))
    .map(d => ({run: d.meta.run, x: Array.from(d.x), y: Array.from(d.y)}))"""
GROUND = "document.querySelector('#surface-plot').layout.images[0].source"
# A refused formula is a 422, which Chromium logs as a failed resource.
REFUSED = "Failed to load resource: the server responded with a status of 422"


def traces(page, selector="#surface-plot"):
    return sorted(page.evaluate(TRACES, selector), key=lambda t: t["run"])


def type_formula(page, text: str) -> None:
    """Type a formula as a student does, and wait for the runs on it."""
    before = page.evaluate("window.__descentlab.currentId")
    page.fill("#expression", text)
    page.wait_for_function(
        "text => window.__descentlab.state.expression === text", arg=text, timeout=20_000
    )
    wait_complete(page, before)


def test_typing_a_formula_draws_its_contours_and_the_runs_on_it(open_page, artifacts):
    w = open_page("?problem=custom")
    page = w.page
    ground = page.evaluate(GROUND)
    type_formula(page, "x^2 + 10*sin(y)")
    state = page.evaluate("window.__descentlab.state")
    assert state["problem"] == "custom" and state["expression"] == "x^2 + 10*sin(y)"
    assert "expr=x%5E2%20%2B%2010*sin(y)" in page.evaluate("location.search")
    # The preview and the title show the formula as the server parsed it.
    assert page.locator("#expression-preview math").count() == 1
    assert "sin" in page.locator("#formula").inner_text()
    # A new ground; the runs start at the default start, with the formula's value there.
    assert page.evaluate(GROUND) != ground
    surface, loss = traces(page), traces(page, "#loss-plot")
    assert [t["run"] for t in surface] == [0, 1, 2]
    for path, losses in zip(surface, loss, strict=True):
        assert (path["x"][0], path["y"][0]) == (-3, 2)
        assert losses["y"][0] == pytest.approx(9 + 10 * math.sin(2), rel=1e-12)
        x, y = path["x"][40], path["y"][40]
        assert losses["y"][40] == pytest.approx(x * x + 10 * math.sin(y), rel=1e-9, abs=1e-12)
    # The contours are the formula's: the 3-D view holds the grid as numbers, as
    # heights √(f − f_min) on this √-coloured surface (f_min cancels in differences).
    page.click("[data-view='3d']")
    page.wait_for_function(
        "() => (document.querySelector('#surface-3d').data || []).some(d => d.type === 'surface')"
    )
    grid = page.evaluate(
        """() => {
            const s = document.querySelector('#surface-3d').data.find(d => d.type === 'surface');
            return {x: Array.from(s.x), y: Array.from(s.y), z: Array.from(s.z, r => Array.from(r))};
        }"""
    )
    page.click("[data-view='2d']")
    assert (grid["x"][0], grid["x"][-1], grid["y"][0], grid["y"][-1]) == (-5, 5, -5, 5)
    assert "√" in page.locator("#surface-plot").inner_text()

    def f(j, i):
        return grid["x"][i] ** 2 + 10 * math.sin(grid["y"][j])

    for (j, i), (k, m) in (((3, 7), (50, 20)), ((90, 100), (60, 5)), ((10, 99), (99, 10))):
        height = grid["z"][j][i] ** 2 - grid["z"][k][m] ** 2
        assert height == pytest.approx(f(j, i) - f(k, m), rel=1e-9, abs=1e-9)
    page.screenshot(path=str(artifacts / "custom-formula-1366x768.png"))


def test_a_bad_formula_shows_its_error_with_the_place_marked(open_page, artifacts):
    w = open_page("?problem=custom&expr=x%5E2")
    page = w.page
    runs = page.evaluate("window.__descentlab.currentId")
    page.fill("#expression", "x^2 + z")
    error = page.locator("#expression-error")
    error.wait_for(state="visible", timeout=10_000)
    assert error.locator(".rule").inner_text() == "unknown name 'z' at column 7; names: x, y, pi, e"
    assert error.locator("mark").inner_text() == "z"
    assert error.locator("code").inner_text() == "x^2 + z"
    assert page.locator("#expression").get_attribute("aria-invalid") == "true"
    # Nothing ran on it: the state, the URL and the runs are the last good formula's.
    assert page.evaluate("window.__descentlab.state.expression") == "x^2"
    assert page.evaluate("location.search").endswith("expr=x%5E2")
    assert page.evaluate("window.__descentlab.currentId") == runs
    page.screenshot(path=str(artifacts / "custom-error-1366x768.png"))
    # Corrected, the error goes and the runs follow.
    type_formula(page, "x^2 + y^2")
    assert error.is_hidden()
    assert page.locator("#expression").get_attribute("aria-invalid") == "false"
    w.errors = [e for e in w.errors if REFUSED not in e]


def test_a_copied_url_opens_the_same_surface(open_page):
    first = open_page("?problem=custom").page
    first.click("[data-example='plateau']")
    first.wait_for_function(
        "() => window.__descentlab.state.origin && window.__descentlab.state.origin[0] === -3"
    )
    wait_complete(first)
    type_formula(first, "-exp(-((x - 1)^2 + (y - 1)^2)/20)")
    url = first.evaluate("location.search")
    assert "start=-3,-2.5" in url
    second = open_page(url).page
    assert second.input_value("#expression") == "-exp(-((x - 1)^2 + (y - 1)^2)/20)"
    assert traces(second) == traces(first)
    assert traces(second, "#loss-plot") == traces(first, "#loss-plot")
    assert second.locator("#formula").inner_html() == first.locator("#formula").inner_html()


def test_an_example_sets_the_formula_and_its_start(open_page):
    page = open_page("?problem=custom").page
    page.click("[data-example='saddle']")
    page.wait_for_function("() => window.__descentlab.state.expression === 'x^2 - y^2 + 0.05*y^4'")
    wait_complete(page)
    for path in traces(page):
        assert (path["x"][0], path["y"][0]) == (-3, 0.01)


def test_a_built_in_surface_opens_as_its_formula(open_page):
    page = open_page("?problem=rosenbrock").page
    built_in = traces(page)
    page.select_option("#problem", "custom")
    page.wait_for_function("() => window.__descentlab.state.problem === 'custom'")
    wait_complete(page)
    assert page.input_value("#expression") == "(1 - x)^2 + 100*(y - x^2)^2"
    # The same surface, typed out: the same paths, number for number.
    assert traces(page) == built_in


def test_a_formula_on_a_phone(open_page, artifacts):
    w = open_page("?problem=custom&expr=x%5E2%20%2B%2010*sin(y)", width=390, height=844)
    page = w.page
    page.locator("#expression").scroll_into_view_if_needed()
    page.fill("#expression", "x^2 + 10*sin(y) +")
    page.locator("#expression-error").wait_for(state="visible", timeout=10_000)
    page.screenshot(path=str(artifacts / "custom-error-390x844.png"))
    box = page.locator(".formula-editor").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    w.errors = [e for e in w.errors if REFUSED not in e]


def test_a_run_that_goes_where_the_formula_is_undefined_says_why(open_page):
    # From (1, 1), SGD with α = 0.3 on log(x) + y² steps to x < 0 at its third update.
    query = "?problem=custom&expr=log(x)%2By%5E2&start=1,1&steps=20&run=sgd~alpha:0.3"
    page = open_page(query).page
    status = page.locator("[data-run='0'] .run-status")
    status.wait_for(state="visible")
    text = status.inner_text()
    assert text.startswith("✕ diverged at t=3: f is not defined where it went")
    assert "log of a negative number in 'log(x)' (column 1)" in text
