"""Just enough of a Dockerfile reader for the tests to run what the image runs."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    """One ``FROM`` stage: its instructions and the ENV it sees (inherited ones included)."""

    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def last(self, keyword: str) -> str:
        found = [args for kw, args in self.instructions if kw == keyword]
        assert found, f"the Dockerfile's final stage has no {keyword}"
        return found[-1]

    def runs(self) -> list[str]:
        return [args for kw, args in self.instructions if kw == "RUN"]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and pending):
            continue  # Docker drops comment lines, even inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line:
            keyword, _, args = line.partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def _env_pairs(args: str) -> dict[str, str]:
    tokens = shlex.split(args)
    if "=" not in tokens[0]:  # legacy form: ENV KEY value with spaces
        return {tokens[0]: " ".join(tokens[1:])}
    return dict(token.split("=", 1) for token in tokens)


def stages(path: Path = REPO / "Dockerfile") -> dict[str, Stage]:
    """The named stages, and the final one under the key ``""``."""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in instructions(path.read_text()):
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            parent = stages.get(words[0].lower())
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else ""
            current = Stage(name, env=dict(parent.env) if parent else {})
            if name:
                stages[name] = current
        elif current is not None:
            current.instructions.append((keyword, args))
            if keyword == "ENV":
                current.env.update(_env_pairs(args))
    assert current is not None, "the Dockerfile has no FROM"
    stages[""] = current
    return stages


def final_stage(path: Path = REPO / "Dockerfile") -> Stage:
    return stages(path)[""]


def exec_form(args: str) -> list[str]:
    """A CMD / HEALTHCHECK CMD argument in exec (JSON) form, as a list."""
    command = json.loads(args)
    assert isinstance(command, list) and all(isinstance(a, str) for a in command), args
    return command


def cmd(stage: Stage) -> list[str]:
    return exec_form(stage.last("CMD"))


def healthcheck(stage: Stage) -> list[str]:
    options, sep, command = stage.last("HEALTHCHECK").partition("CMD ")
    assert sep, "HEALTHCHECK has no CMD"
    return exec_form(command)


def context_entries(path: Path = REPO / ".dockerignore") -> list[str]:
    """The paths the allowlist-style .dockerignore lets into the build context."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    assert "*" in lines, ".dockerignore should exclude everything, then allow what it needs"
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]
