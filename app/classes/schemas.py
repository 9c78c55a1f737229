"""The bodies of the class routes and messages (docs/API.md, Classes), and the checks
that go beyond their shape: a scene's ``request`` and a challenge's run are checked
by the engine exactly as ``POST /api/runs`` checks a body."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from app.api.fields import Number, Start, whole_number
from app.api.schemas import Entries, RunsRequest, _Closed
from app.classes.rules import Goal, clean_text, name_problem
from app.engine import Simulation, build_simulation
from app.errors import InvalidSpec
from app.limits import (
    MAX_ALLOWED_PARAMS,
    MAX_CHALLENGE_SECONDS,
    MAX_CLASS_TITLE,
    MAX_ID_LENGTH,
    MAX_SCENE_BYTES,
    MAX_SCENE_T,
    MAX_SCENE_VIEW_KEY,
    MAX_SCENE_VIEW_KEYS,
    MAX_SCENE_VIEW_TEXT,
    MIN_CHALLENGE_SECONDS,
)
from app.optim.registry import get_optimizer
from app.settings import Settings

# A token as sent is read only this far (one is 43 characters).
MAX_TOKEN_TEXT = 200


def _view(value: Any) -> Any:
    if not isinstance(value, dict):
        return value  # the type check below says what is wrong
    if len(value) > MAX_SCENE_VIEW_KEYS:
        raise PydanticCustomError(
            "too_many_keys",
            "a view may have at most {limit} keys (this one has {count})",
            {"limit": MAX_SCENE_VIEW_KEYS, "count": len(value)},
        )
    for key in value:
        if len(key) > MAX_SCENE_VIEW_KEY:
            raise PydanticCustomError(
                "key_too_long",
                "a view's keys are at most {limit} characters",
                {"limit": MAX_SCENE_VIEW_KEY},
            )
    return value


ViewValue = Annotated[str, Field(max_length=MAX_SCENE_VIEW_TEXT)] | Number | bool | None
View = Annotated[dict[str, ViewValue], BeforeValidator(_view)]
SceneT = whole_number(0, MAX_SCENE_T, "the playback position")


class Scene(_Closed):
    """What the page shows: the runs' request, the page's other settings, the lesson
    and the playback position."""

    request: RunsRequest
    view: View = Field(default_factory=dict)
    lesson: Annotated[str, Field(max_length=MAX_ID_LENGTH)] | None = None
    t: SceneT = 0

    @model_validator(mode="before")
    @classmethod
    def _small(cls, data: Any) -> Any:
        size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_SCENE_BYTES:
            raise PydanticCustomError(
                "too_large",
                "a scene is at most {limit} bytes of JSON (this one is {size})",
                {"limit": MAX_SCENE_BYTES, "size": size},
            )
        return data

    def stored(self) -> dict[str, Any]:
        """The scene as kept and sent: the request as given, the rest completed."""
        return {
            "request": self.request.engine_body(),
            "view": self.view,
            "lesson": self.lesson,
            "t": self.t,
        }


def simulation_of(body: dict[str, Any], settings: Settings) -> Simulation:
    """The engine's simulation of a request body, within the operator's limits."""
    return build_simulation(body, max_steps=settings.max_steps, max_runs=settings.max_runs)


def check_scene(scene: Scene, settings: Settings, loc: tuple[str | int, ...] = ("scene",)) -> None:
    """Raise InvalidSpec (at ``loc`` + request's path) when the engine refuses the
    scene's request, as POST /api/runs would."""
    try:
        simulation_of(scene.request.engine_body(), settings)
    except InvalidSpec as exc:
        raise InvalidSpec((*loc, "request", *exc.loc), exc.message, exc.context) from None


def _unicode(value: str) -> str:
    """Text that can be stored and sent: JSON's ``\\ud800`` escape reads as a lone
    surrogate, which no UTF-8 encoder takes."""
    if any(unicodedata.category(c) == "Cs" for c in value):
        raise PydanticCustomError(
            "invalid_unicode", "must be valid Unicode text, without lone surrogates"
        )
    return value


def _title(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    title = clean_text(_unicode(value))
    if len(title) > MAX_CLASS_TITLE:
        raise PydanticCustomError(
            "too_long",
            "must be at most {limit} characters (this one has {count})",
            {"limit": MAX_CLASS_TITLE, "count": len(title)},
        )
    return title


def _name(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name = clean_text(_unicode(value))
    problem = name_problem(name)
    if problem:
        raise PydanticCustomError("invalid_name", problem)
    return name


class NewClass(_Closed):
    title: Annotated[str, AfterValidator(_title)] = ""


class Join(_Closed):
    name: Annotated[str, AfterValidator(_name)]


class SceneBody(_Closed):
    scene: Scene


class GoalSpec(_Closed):
    kind: Goal


TimeLimit = whole_number(MIN_CHALLENGE_SECONDS, MAX_CHALLENGE_SECONDS, "seconds to submit")


class NewChallenge(_Closed):
    scene: Scene
    optimizer: str
    params: Entries | None = None
    schedule: Entries | None = None
    start: Start | None = None
    allowed: list[Annotated[str, Field(max_length=MAX_ID_LENGTH)]] = Field(
        min_length=1, max_length=MAX_ALLOWED_PARAMS
    )
    goal: GoalSpec
    time_limit_s: TimeLimit

    def run(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run a submission makes: the challenge's, the student's params over its own."""
        run: dict[str, Any] = {"optimizer": self.optimizer}
        merged = {**(self.params or {}), **(params or {})}
        if merged:
            run["params"] = merged
        if self.schedule is not None:
            run["schedule"] = self.schedule
        if self.start is not None:
            run["start"] = list(self.start)
        return run

    def spec(self) -> dict[str, Any]:
        """The challenge as stored (its id and times are the database's)."""
        return {
            "scene": self.scene.stored(),
            "optimizer": self.optimizer,
            "params": self.params or {},
            "schedule": self.schedule or {"name": "constant"},
            "start": list(self.start) if self.start is not None else None,
            "allowed": list(dict.fromkeys(self.allowed)),
            "goal": {"kind": self.goal.kind},
            "time_limit_s": self.time_limit_s,
        }


def submission_request(spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The POST /api/runs body a submission is: the challenge scene's problem, steps and
    seed, and the challenge's one run with the student's parameters."""
    scene_request = spec["scene"]["request"]
    run: dict[str, Any] = {
        "optimizer": spec["optimizer"],
        "params": {**spec["params"], **params},
        "schedule": spec["schedule"],
    }
    if spec["start"] is not None:
        run["start"] = spec["start"]
    body = {"problem": scene_request["problem"], "runs": [run]}
    for key in ("steps", "seed"):
        if key in scene_request:
            body[key] = scene_request[key]
    return body


def check_challenge(challenge: NewChallenge, settings: Settings) -> None:
    """Raise InvalidSpec naming the field when the challenge's run cannot be made."""
    check_scene(challenge.scene, settings)
    spec = challenge.spec()
    optimizer = get_optimizer(challenge.optimizer, ("optimizer",))
    names = [param.name for param in optimizer.params]
    for index, name in enumerate(challenge.allowed):
        if name not in names:
            raise InvalidSpec(
                ("allowed", index),
                f"{challenge.optimizer} has no hyper-parameter {name!r}; "
                f"its hyper-parameters: {', '.join(names)}",
            )
    try:
        simulation_of(submission_request(spec, {}), settings)
    except InvalidSpec as exc:
        loc = exc.loc
        if loc[:2] == ("runs", 0):
            loc = loc[2:]
        elif loc[:1] in (("problem",), ("steps",), ("seed",)):
            loc = ("scene", "request", *loc)
        raise InvalidSpec(loc, exc.message, exc.context) from None


class Submission(_Closed):
    params: Entries


def check_submission(
    spec: dict[str, Any], params: dict[str, Any], settings: Settings
) -> Simulation:
    """The run these params make, or InvalidSpec naming the param."""
    allowed = spec["allowed"]
    for name in params:
        if name not in allowed:
            raise InvalidSpec(
                ("params", name),
                f"may not be set in this challenge; allowed: {', '.join(allowed)}",
            )
    try:
        return simulation_of(submission_request(spec, params), settings)
    except InvalidSpec as exc:
        loc = exc.loc[3:] if exc.loc[:3] == ("runs", 0, "params") else exc.loc
        raise InvalidSpec(("params", *loc), exc.message, exc.context) from None


class Hello(_Closed):
    type: Literal["hello"]
    token: Annotated[str, Field(max_length=MAX_TOKEN_TEXT)] | None = None


class SceneMessage(_Closed):
    type: Literal["scene"]
    scene: Scene


class Ping(_Closed):
    type: Literal["ping"]
