"""Every documented example is valid against its own schema: the request and response
examples of ``/openapi.json`` and the JSON examples of docs/API.md."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import orjson
import pytest

from app.engine import build_simulation, simulate
from app.formats import csv_blocks, dumps, result_json
from app.main import create_app

DOCUMENT = create_app().openapi()
CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def _check(schema: dict[str, Any], example: Any) -> None:
    # The schema's references point into the document's components.
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": DOCUMENT["components"]})
    errors = [f"{list(e.instance_path)}: {e.message[:300]}" for e in validator.iter_errors(example)]
    assert not errors, errors


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def _openapi_examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    for name, operation in _operations():
        contents = [("request", operation.get("requestBody", {}).get("content", {}))]
        contents += [(status, r.get("content", {})) for status, r in operation["responses"].items()]
        for where, content in contents:
            for media_type, media in content.items():
                # JSON is every route's; another media type is named.
                at = f"{name} {where}" + (
                    "" if media_type == "application/json" else f" {media_type}"
                )
                if "example" in media:
                    yield at, media["schema"], media["example"]
                for key, example in media.get("examples", {}).items():
                    yield f"{at} {key}", media["schema"], example["value"]


OPENAPI_EXAMPLES = {name: (schema, example) for name, schema, example in _openapi_examples()}


@pytest.mark.parametrize("name", OPENAPI_EXAMPLES)
def test_openapi_example_is_valid(name: str) -> None:
    _check(*OPENAPI_EXAMPLES[name])


@pytest.mark.parametrize("name", [name for name, _ in _operations()])
def test_every_route_documents_its_answer_with_an_example(name: str) -> None:
    operation = dict(_operations())[name]
    ok = operation["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] not in ({}, {"title": "Response"}), "no response schema"
    assert f"{name} 200" in OPENAPI_EXAMPLES
    if "requestBody" in operation:
        assert operation["requestBody"]["content"]["application/json"].get("examples")


def test_the_runs_example_keeps_its_nulls() -> None:
    """FastAPI drops null from the document; the examples are put back as written."""
    (run, *_) = OPENAPI_EXAMPLES["POST /api/runs 200"][1]["runs"]
    assert run["diverged_at"] is None and run["converged_at"] is None


# -- docs/API.md -----------------------------------------------------------------------


def _schema(route: str, part: str) -> dict[str, Any]:
    operation = dict(_operations())[route]
    if part == "run":  # one run of the answer
        return {"$ref": "#/components/schemas/RunResult"}
    if part == "request":
        return operation["requestBody"]["content"]["application/json"]["schema"]
    return operation["responses"][part]["content"]["application/json"]["schema"]


# The JSON blocks of each section, in order, and the schema each one shows. The
# stream's messages are left out: OpenAPI does not describe the WebSocket.
CONTRACT_BLOCKS = {
    "Errors": [("POST /api/runs", "422")],
    "GET /api/catalog": [("GET /api/catalog", "200")],
    "POST /api/runs": [("POST /api/runs", "request"), ("POST /api/runs", "200")],
    "POST /api/surface": [("POST /api/surface", "request"), ("POST /api/surface", "200")],
    "Anatomy": [("POST /api/runs", "run")],
    "POST /api/cloud": [("POST /api/cloud", "request"), ("POST /api/cloud", "200")],
    "POST /api/sweeps": [("POST /api/sweeps", "request")],
    "Your own surface: `custom`": [("POST /api/surface", "request"), ("POST /api/runs", "422")],
}


def _contract_blocks() -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    section = ""
    text = CONTRACT.read_text()
    for heading, block in re.findall(r"^#+ ([^\n]*)$|^```json\n(.*?)^```", text, re.S | re.M):
        section = heading or section
        if block:
            blocks.setdefault(section, []).append(block)
    return blocks


def _without_elisions(block: str) -> Any:
    """The block as JSON, its elided items (``, …``, ``[…]``, ``{…}``) left out."""
    text = re.sub(r",\s*…", "", block)
    return json.loads(text.replace("[…]", "[]").replace("{…}", "{}"))


@pytest.mark.parametrize("section", CONTRACT_BLOCKS)
def test_the_contracts_json_examples_are_valid(section: str) -> None:
    blocks = _contract_blocks()[section]
    assert len(blocks) == len(CONTRACT_BLOCKS[section]), "a new example: say what it shows"
    for block, (route, part) in zip(blocks, CONTRACT_BLOCKS[section], strict=True):
        _check(_schema(route, part), _without_elisions(block))


def _section_blocks(section: str, language: str) -> list[str]:
    text = CONTRACT.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.index("\n## ", start + 1)
    return re.findall(rf"^```{language}\n(.*?)^```", text[start:end], re.S | re.M)


def test_the_runs_example_shows_the_numbers_the_server_computes() -> None:
    """docs/API.md's POST /api/runs answer is its request's, rounded as written; its
    CSV is the same request with a stride of 100, character for character."""
    request, shown = (
        _without_elisions(block) for block in _section_blocks("POST /api/runs", "json")
    )
    computed = orjson.loads(dumps(result_json(simulate(build_simulation(request)))))
    assert {k: v for k, v in shown.items() if k != "runs"} == {
        k: v for k, v in computed.items() if k != "runs"
    }
    (run,), (real,) = shown["runs"], computed["runs"]
    for key in ("path", "loss"):
        # The first points as listed, then (after the elision) the last.
        expected = real[key][: len(run[key]) - 1] + real[key][-1:]
        np.testing.assert_allclose(run[key], expected, rtol=5e-7, err_msg=key)
    assert {k: v for k, v in run.items() if k not in ("path", "loss")} == {
        k: v for k, v in real.items() if k not in ("path", "loss")
    }
    (table,) = _section_blocks("POST /api/runs", "csv")
    strided = simulate(build_simulation({**request, "stride": 100}))
    assert table == b"".join(csv_blocks(strided)).decode()
