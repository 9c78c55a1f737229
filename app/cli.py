"""``descentlab serve`` serves the app; ``descentlab run`` prints runs as the API answers them.

``descentlab run`` prints exactly what ``POST /api/runs`` answers for the same
request: the same JSON (``--format json``, byte for byte) or the same CSV (the
default). It imports neither the web framework nor the server, and loads the
compiled engine from numba's cache on disk (filled by the first run, or by the
server's warm-up), so it starts in about a second; the very first run on a
machine compiles the engine, once.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from app.errors import InvalidSpec
from app.hyperparams import HyperParam
from app.limits import DEFAULT_STEPS, MAX_STEPS
from app.optim.registry import OPTIMIZERS
from app.optim.schedules import DEFAULT_SCHEDULE, SCHEDULES
from app.problems.registry import PROBLEMS

DEFAULT_PROBLEM = "rosenbrock"
DEFAULT_OPTIMIZER = "adam"


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


_BOOLEANS = {"true": True, "on": True, "yes": True, "1": True}
_BOOLEANS |= {"false": False, "off": False, "no": False, "0": False}


def _boolean(text: str) -> bool:
    # The API takes JSON true/false only (docs/API.md, Errors); a shell has only words.
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}") from None


def _key_value(text: str) -> tuple[str, float | int]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return key, _number(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{key}: {value!r} is not a number") from None


def _shown(param: HyperParam, value: float) -> str:
    if param.kind == "bool":
        return "true" if value else "false"
    return f"{value:g}"


def _param_help(name: str) -> str:
    """What a hyper-parameter is and its default for each optimiser that has it: the
    most common default first, then the optimisers whose default differs."""
    having = {spec.name: p for spec in OPTIMIZERS.values() for p in spec.params if p.name == name}
    first = next(iter(having.values()))
    defaults = {optimizer: _shown(p, p.default) for optimizer, p in having.items()}
    common, _ = Counter(defaults.values()).most_common(1)[0]
    others = [f"{optimizer} {value}" for optimizer, value in defaults.items() if value != common]
    default = common + (f"; {', '.join(others)}" if others else "")
    scope = "" if len(having) == len(OPTIMIZERS) else f" ({', '.join(having)})"
    return f"{first.description}{scope}; one value, or one per --optimizer (default: {default})"


def _names_help(params: dict[str, Sequence[HyperParam]]) -> str:
    """Names with their parameters' defaults; names with the same ones share an entry."""
    groups: dict[str, list[str]] = {}
    for name, specs in params.items():
        settings = ", ".join(f"{p.name}={_shown(p, p.default)}" for p in specs)
        groups.setdefault(settings, []).append(name)
    return "; ".join(
        f"{', '.join(names)} ({settings})" if settings else ", ".join(names)
        for settings, names in groups.items()
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="descentlab", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the playground and the API")
    serve.add_argument("--host", help="default: DESCENTLAB_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: DESCENTLAB_PORT or 8000")
    serve.add_argument("--reload", action="store_true", help="restart on code changes")

    run = commands.add_parser(
        "run",
        help="print runs as POST /api/runs answers them (CSV or JSON)",
        description="Step one or more optimisers on a problem and print the answer of "
        "POST /api/runs for that request: CSV (one row per run and point) or its JSON.",
    )
    run.add_argument(
        "--problem",
        default=DEFAULT_PROBLEM,
        metavar="NAME",
        help=f"one of: {', '.join(PROBLEMS)} (default: %(default)s)",
    )
    run.add_argument(
        "--optimizer",
        action="extend",
        nargs="+",
        metavar="NAME",
        help=f"one run per name, in order: {', '.join(OPTIMIZERS)} (default: {DEFAULT_OPTIMIZER})",
    )
    run.add_argument(
        "--steps",
        type=int,
        metavar="N",
        default=DEFAULT_STEPS,
        help=f"updates per run, 1 … {MAX_STEPS} (default: %(default)s)",
    )
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        default=0,
        help="draws the gradient noise and the regression data (default: %(default)s)",
    )
    run.add_argument(
        "--stride",
        type=int,
        metavar="N",
        default=1,
        help="print every stride-th point of each run and its last (default: %(default)s)",
    )
    run.add_argument(
        "--start",
        type=float,
        nargs=2,
        metavar=("X", "Y"),
        help="where every run starts (default: the problem's start)",
    )
    run.add_argument(
        "--schedule",
        default=DEFAULT_SCHEDULE,
        metavar="NAME",
        help="learning-rate schedule of every run: "
        + _names_help({name: schedule.params for name, schedule in SCHEDULES.items()})
        + " (default: %(default)s)",
    )
    run.add_argument(
        "--schedule-param",
        type=_key_value,
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="parameters of the schedule, e.g. every=100 factor=0.5",
    )
    run.add_argument(
        "--problem-param",
        type=_key_value,
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="parameters of the problem, e.g. noise=0.5 batch_size=1: "
        + _names_help({name: problem.params for name, problem in PROBLEMS.items()}),
    )
    run.add_argument(
        "--batch-size",
        type=int,
        nargs="+",
        metavar="N",
        help="regression: each run's minibatch size, one value or one per --optimizer "
        "(default: the problem's batch_size)",
    )
    run.add_argument(
        "--expression",
        help="the formula f(x, y) of --problem custom, e.g. 'x^2 + 10*sin(y)' "
        "(docs/API.md, Problems)",
    )
    run.add_argument(
        "--format",
        choices=("csv", "json"),
        default="csv",
        help="CSV in long format, or the JSON of POST /api/runs (default: %(default)s)",
    )
    kinds = {p.name: p.kind for spec in OPTIMIZERS.values() for p in spec.params}
    for name in kinds:
        run.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"param_{name}",
            nargs="+",
            type=_boolean if kinds[name] == "bool" else _number,
            metavar="{true,false}" if kinds[name] == "bool" else "V",
            help=_param_help(name),
        )
    return parser


class UsageError(Exception):
    """A command line that cannot become a request: the message says which flag."""


def _per_run(flag: str, values: Sequence[Any] | None, runs: int) -> list[Any]:
    """A flag's values spread over the runs: one value for all, or one per run."""
    if values is None:
        return [None] * runs
    if len(values) == 1:
        return list(values) * runs
    if len(values) != runs:
        raise UsageError(f"{flag}: give one value, or one per --optimizer ({runs})")
    return list(values)


def request_from(args: argparse.Namespace) -> dict[str, Any]:
    """The body of ``POST /api/runs`` that the command line describes."""
    optimizers = args.optimizer or [DEFAULT_OPTIMIZER]
    schedule = {"name": args.schedule, **dict(args.schedule_param)}
    runs: list[dict[str, Any]] = [
        {"optimizer": name, "params": {}, "schedule": schedule} for name in optimizers
    ]
    for name in dict.fromkeys(p.name for spec in OPTIMIZERS.values() for p in spec.params):
        flag = f"--{name.replace('_', '-')}"
        values = getattr(args, f"param_{name}")
        if values is None:
            continue
        having = [
            name in {p.name for p in OPTIMIZERS[run["optimizer"]].params}
            if run["optimizer"] in OPTIMIZERS
            else True  # an unknown name is the engine's to refuse, with the valid ones
            for run in runs
        ]
        if not any(having):
            valid = ", ".join(p.name for p in OPTIMIZERS[optimizers[0]].params)
            of = optimizers[0] if len(set(optimizers)) == 1 else ", ".join(optimizers)
            message = f"{flag} is not a parameter of {of}"
            raise UsageError(message + (f"; valid: {valid}" if len(set(optimizers)) == 1 else ""))
        for index, (run, value, has) in enumerate(
            zip(runs, _per_run(flag, values, len(runs)), having, strict=True)
        ):
            if has:
                run["params"][name] = value
            elif len(values) > 1:
                raise UsageError(f"{flag}: run {index} ({run['optimizer']}) has no {name}")
    sizes = _per_run("--batch-size", args.batch_size, len(runs))
    for run, size in zip(runs, sizes, strict=True):
        if args.start is not None:
            run["start"] = list(args.start)
        if size is not None:
            run["batch_size"] = size
    return {
        "problem": {
            "name": args.problem,
            **dict(args.problem_param),
            **({} if args.expression is None else {"expression": args.expression}),
            # A typed formula's own start must be a point where it is defined too.
            **({"start": list(args.start)} if args.problem == "custom" and args.start else {}),
        },
        "steps": args.steps,
        "seed": args.seed,
        "stride": args.stride,
        "runs": runs,
    }


def _flag_of(error: InvalidSpec, request: dict[str, Any]) -> str:
    """The command-line flag behind a field of the request (docs/API.md names the fields)."""
    loc = error.loc
    if loc[:1] == ("problem",):
        if loc[1:2] == ("expression",):
            return "--expression"
        if loc[1:2] == ("start",):
            return "--start"
        return "--problem" if loc[1:] in ((), ("name",)) else f"--problem-param {loc[1]}"
    if loc == ("runs",):
        return "--optimizer"
    if loc[:1] != ("runs",) or len(loc) < 3:
        return f"--{str(loc[0]).replace('_', '-')}" if loc else "descentlab run"
    index, field = loc[1], loc[2]
    if field == "params" and len(loc) > 3:
        flag = f"--{str(loc[3]).replace('_', '-')}"
    elif field == "schedule":
        flag = "--schedule" if loc[3:] in ((), ("name",)) else f"--schedule-param {loc[3]}"
    else:
        flag = f"--{str(field).replace('_', '-')}"
    runs = request["runs"]
    if len(runs) > 1 and field not in ("schedule", "start"):
        flag += f" (run {index}, {runs[index]['optimizer']})"
    return flag


def _run(args: argparse.Namespace) -> int:
    try:
        request = request_from(args)
    except UsageError as error:
        print(f"descentlab: {error}", file=sys.stderr)
        return 2
    # The engine is imported only now: --help and bad flags answer at once.
    from app.engine import build_simulation, simulate
    from app.formats import csv_blocks, dumps, result_json

    try:
        simulation = build_simulation(request)
    except InvalidSpec as error:
        print(f"descentlab: {_flag_of(error, request)}: {error.message}", file=sys.stderr)
        return 2
    result = simulate(simulation)
    out = sys.stdout.buffer
    if args.format == "json":
        out.write(dumps(result_json(result)) + b"\n")
    else:
        for block in csv_blocks(result):
            out.write(block)
    out.flush()
    for index, config in enumerate(simulation.runs):
        for event, update, why in (
            ("blew up", result.blew_up_at[index], None),
            ("diverged", result.diverged_at[index], result.diverged_reason[index]),
        ):
            if update is not None:
                print(
                    f"descentlab: run {index} ({config.optimizer}) {event} at update {update}"
                    + (f": {why}" if why else ""),
                    file=sys.stderr,
                )
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve ``app.main:app`` with uvicorn, configured from the settings: the one
    command line of the server (the Dockerfile's CMD runs it too)."""
    import uvicorn

    from app.server import HTTP_PROTOCOL, WEBSOCKET_PROTOCOL
    from app.settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        reload=args.reload,
        workers=None if args.reload else settings.workers,
        # h11 bounds a request's head (httptools does not), and app/server.py's classes
        # add what uvicorn lacks: a deadline for the head, a client that stops reading
        # is dropped, security headers on uvicorn's own 400 (docs/DEPLOY.md).
        http=HTTP_PROTOCOL,
        ws=WEBSOCKET_PROTOCOL,
        h11_max_incomplete_event_size=settings.http_max_head_bytes,
        timeout_keep_alive=settings.http_keep_alive,
        limit_concurrency=settings.http_max_connections,
        ws_max_size=settings.ws_read_bytes,
        ws_per_message_deflate=settings.ws_deflate,
        # A stopping server gives open streams 10 s to end, then closes them.
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command == "serve":
        return _serve(args)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
