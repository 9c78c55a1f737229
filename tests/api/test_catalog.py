"""GET /healthz, /api/catalog, the Plotly bundle, /docs and the security headers."""

from __future__ import annotations

import httpx
import pytest

from app import __version__
from tests.api.helpers import OPTIMIZERS

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'"
)


def test_healthz(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_head_on_the_page_and_health_answers_like_get_without_a_body(http: httpx.Client):
    for path in ("/", "/healthz"):
        head, get = http.head(path), http.get(path)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


def test_readyz_once_the_engine_is_warm(http: httpx.Client) -> None:
    # live_server waited for it: the compiled engine is warm.
    assert http.get("/readyz").json() == {"status": "ready"}


def test_catalog_lists_every_optimizer_with_its_equations(http: httpx.Client) -> None:
    catalog = http.get("/api/catalog").json()
    assert [o["name"] for o in catalog["optimizers"]] == OPTIMIZERS
    adam = next(o for o in catalog["optimizers"] if o["name"] == "adam")
    assert adam["label"] and adam["description"]
    names = [p["name"] for p in adam["params"]]
    assert names == ["alpha", "beta1", "beta2", "eps", "bias_correction", "weight_decay"]
    alpha = adam["params"][0]
    assert {"default", "min", "max", "scale", "symbol", "step", "kind"} <= set(alpha)
    assert adam["params"][4]["default"] is True
    assert adam["params"][5]["default"] == 0.0  # weight decay: off unless asked for
    assert len(adam["equations"]) == len(adam["equations_mathml"]) >= 1
    assert all(m.startswith("<math") and 'display="block"' in m for m in adam["equations_mathml"])


def test_catalog_says_how_each_rules_anatomy_reads(http: httpx.Client) -> None:
    optimizers = {o["name"]: o["anatomy"] for o in http.get("/api/catalog").json()["optimizers"]}
    assert optimizers["amsgrad"]["state"] == ["v", "s", "m"]
    assert optimizers["adadelta"]["state"] == ["s", "d"]
    assert optimizers["sgd"]["state"] == []
    # Only the momentum rules' step has a velocity term beside −α_t g.
    with_velocity = [name for name, a in optimizers.items() if a["velocity_term"]]
    assert with_velocity == ["momentum", "nesterov"]
    # A weight-decay part of its own: where nothing rescales the L2 term, and the
    # decoupled decay of AdamW and Lion.
    with_decay = [name for name, a in optimizers.items() if a["decay_term"]]
    assert with_decay == ["sgd", "momentum", "nesterov", "adamw", "lion"]
    assert optimizers["sgd"]["decay_term_mathml"].startswith("<math")
    for anatomy in optimizers.values():
        for key in ("direction", "effective_lr"):
            assert anatomy[f"{key}_mathml"].startswith("<math"), key


def test_catalog_schedules_problems_and_limits(http: httpx.Client) -> None:
    catalog = http.get("/api/catalog").json()
    schedules = {s["name"]: s for s in catalog["schedules"]}
    assert list(schedules) == [
        "constant", "step", "exponential", "inverse_time", "cosine", "one_cycle", "wsd",
    ]  # fmt: skip
    # Warm-up goes in front of every schedule.
    assert [p["name"] for p in schedules["step"]["params"]] == ["every", "factor", "warmup_steps"]
    assert all(s["params"][-1]["name"] == "warmup_steps" for s in schedules.values())
    assert schedules["step"]["equation_mathml"].startswith("<math")
    problems = {p["name"]: p for p in catalog["problems"]}
    for name in ("steep_valley", "saddle", "noisy_bowl", "rosenbrock", "himmelblau",
                 "linear_regression", "logistic_regression"):  # fmt: skip
        assert name in problems
    rosenbrock = problems["rosenbrock"]
    assert rosenbrock["kind"] == "surface"
    assert rosenbrock["start"] == [-1.5, 2.0]
    assert rosenbrock["minima"] == [[1.0, 1.0]]
    assert set(rosenbrock["bounds"]) == {"x", "y"}
    assert rosenbrock["formula_mathml"].startswith("<math")
    assert problems["linear_regression"]["kind"] == "regression"
    assert catalog["limits"]["max_steps"] == 10_000
    assert catalog["limits"]["max_runs"] == 64


def test_security_headers_on_every_response(http: httpx.Client) -> None:
    for response in (http.get("/healthz"), http.get("/api/catalog"), http.get("/nowhere")):
        assert response.headers["content-security-policy"] == PAGE_CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_docs_page_gets_its_own_policy(http: httpx.Client) -> None:
    response = http.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" in csp and "https:" not in csp
    assert "frame-ancestors 'none'" in csp
    # Swagger UI's own files come from this server, so /docs works offline too.
    for asset in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css"):
        assert asset in response.text
        assert http.get(asset).status_code == 200
    assert "cdn." not in response.text
    schema = http.get("/openapi.json").json()
    assert {"/healthz", "/api/catalog", "/api/runs", "/api/surface"} <= set(schema["paths"])


def test_plotly_is_served_offline_and_cached(http: httpx.Client) -> None:
    response = http.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age=" in response.headers["cache-control"]
    assert "etag" in response.headers
    assert len(response.content) > 1_000_000
    again = http.get(
        "/static/vendor/plotly.min.js", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_plotly_travels_gzipped_and_decodes_to_the_bundle(http: httpx.Client) -> None:
    plain = http.get("/static/vendor/plotly.min.js", headers={"accept-encoding": "identity"})
    zipped = http.get("/static/vendor/plotly.min.js", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.content == plain.content  # httpx decodes it


def test_large_json_answers_are_gzipped(http: httpx.Client) -> None:
    body = {"problem": {"name": "rosenbrock"}, "steps": 2000, "runs": [{"optimizer": "adam"}]}
    response = http.post("/api/runs", json=body, headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["runs"][0]["path"]) == 2001


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate, br, zstd", "zstd"),  # what Chromium sends
        ("zstd", "zstd"),
        ("zstd;q=0, gzip", "gzip"),
        ("gzip;q=0.5", "gzip"),
        ("identity", None),
        ("br", None),
    ],
)
def test_an_answer_comes_in_the_fastest_coding_the_client_takes(
    http: httpx.Client, accept: str, coding: str | None
) -> None:
    body = {"problem": {"name": "rosenbrock"}, "steps": 2000, "runs": [{"optimizer": "adam"}]}
    plain = http.post("/api/runs", json=body, headers={"accept-encoding": "identity"})
    response = http.post("/api/runs", json=body, headers={"accept-encoding": accept})
    assert response.headers.get("content-encoding") == coding
    assert "accept-encoding" in response.headers["vary"].lower()
    if coding:
        assert response.num_bytes_downloaded < len(plain.content) / 2
    assert response.content == plain.content  # httpx decodes both codings


def test_the_catalogs_sweep_limits_are_the_ones_a_sweep_meets(http: httpx.Client) -> None:
    sweep = http.get("/api/catalog").json()["limits"]["sweep"]
    body = {
        "problem": {"name": "steep_valley"},
        "optimizer": "sgd",
        "x_axis": {"param": "alpha"},
        "y_axis": {"param": "start_x", "count": 2},
    }
    defaults = http.post("/api/sweeps", json=body).json()
    assert defaults["steps"] == sweep["default_steps"]
    assert len(defaults["x_axis"]["values"]) == sweep["default_axis_cells"]

    longest = {**body, "steps": sweep["max_steps"], "x_axis": {"param": "alpha", "count": 2}}
    assert http.post("/api/sweeps", json=longest).status_code == 200
    refused = http.post("/api/sweeps", json={**longest, "steps": sweep["max_steps"] + 1})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "steps"]

    widest = {**body, "x_axis": {"param": "alpha", "count": sweep["max_axis_cells"] + 1}}
    refused = http.post("/api/sweeps", json=widest)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "x_axis", "count"]

    # The widest grid at the most steps is within the cell budget: no sweep the
    # other limits allow is refused for its size.
    side = sweep["max_axis_cells"]
    assert sweep["max_cell_updates"] >= side * side * sweep["max_steps"]
