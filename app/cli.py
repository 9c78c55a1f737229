"""``descentlab serve`` serves the app; ``descentlab run`` prints one trajectory."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence

from app.errors import InvalidSpec
from app.optim.registry import OPTIMIZERS
from app.optim.schedules import SCHEDULES
from app.problems.registry import PROBLEMS


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="descentlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the playground and the API")
    serve.add_argument("--host", help="default: DESCENTLAB_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: DESCENTLAB_PORT or 8000")
    serve.add_argument("--reload", action="store_true", help="restart on code changes")

    run = commands.add_parser("run", help="print one optimiser's trajectory")
    run.add_argument("--problem", default="rosenbrock", help=f"one of: {', '.join(PROBLEMS)}")
    run.add_argument("--optimizer", default="adam", help=f"one of: {', '.join(OPTIMIZERS)}")
    run.add_argument("--steps", type=int, default=200)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--start", type=float, nargs=2, metavar=("X", "Y"))
    run.add_argument("--schedule", default="constant", help=f"one of: {', '.join(SCHEDULES)}")
    run.add_argument(
        "--schedule-param", type=_key_value, action="append", default=[], metavar="NAME=VALUE"
    )
    run.add_argument(
        "--problem-param",
        type=_key_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="e.g. noise=0.5, batch_size=1",
    )
    run.add_argument(
        "--expression",
        help="the formula f(x, y) of --problem custom, e.g. 'x^2 + 10*sin(y)' "
        "(docs/API.md, Problems)",
    )
    run.add_argument("--format", choices=("csv", "json"), default="csv")
    kinds = {p.name: p.kind for spec in OPTIMIZERS.values() for p in spec.params}
    for name in sorted(kinds):
        run.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"param_{name}",
            type=_boolean if kinds[name] == "bool" else _number,
        )
    return parser


def _run(args: argparse.Namespace) -> int:
    from app.engine import build_simulation, simulate

    spec = OPTIMIZERS.get(args.optimizer)
    given = {k[len("param_") :]: v for k, v in vars(args).items() if k.startswith("param_")}
    given = {k: v for k, v in given.items() if v is not None}
    if spec is not None:
        foreign = sorted(set(given) - {p.name for p in spec.params})
        if foreign:
            valid = ", ".join(p.name for p in spec.params)
            print(
                f"descentlab: --{foreign[0].replace('_', '-')} is not a parameter of "
                f"{spec.name}; valid: {valid}",
                file=sys.stderr,
            )
            return 2
    request = {
        "problem": {
            "name": args.problem,
            **dict(args.problem_param),
            **({} if args.expression is None else {"expression": args.expression}),
            # A typed formula's own start must be a point where it is defined too.
            **({"start": args.start} if args.problem == "custom" and args.start else {}),
        },
        "steps": args.steps,
        "seed": args.seed,
        "runs": [
            {
                "optimizer": args.optimizer,
                "params": given,
                "schedule": {"name": args.schedule, **dict(args.schedule_param)},
                "start": args.start,
            }
        ],
    }
    try:
        result = simulate(build_simulation(request))
    except InvalidSpec as error:
        print(f"descentlab: {error}", file=sys.stderr)
        return 2
    path, loss = result.paths[0], result.losses[0]
    if args.format == "json":
        run = result.simulation.runs[0].as_json()
        run.update(
            path=path.tolist(),
            loss=loss.tolist(),
            diverged_at=result.diverged_at[0],
            diverged_reason=result.diverged_reason[0],
            converged_at=result.converged_at[0],
            blew_up_at=result.blew_up_at[0],
        )
        json.dump(
            {"problem": result.simulation.problem, "steps": args.steps, "run": run}, sys.stdout
        )
        sys.stdout.write("\n")
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["t", "x", "y", "loss"])
        for t, ((x, y), value) in enumerate(zip(path, loss, strict=True)):
            writer.writerow([t, repr(float(x)), repr(float(y)), repr(float(value))])
        if result.blew_up_at[0] is not None:
            print(f"descentlab: blew up at update {result.blew_up_at[0]}", file=sys.stderr)
        if result.diverged_at[0] is not None:
            print(
                f"descentlab: diverged at update {result.diverged_at[0]}: "
                f"{result.diverged_reason[0]}",
                file=sys.stderr,
            )
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve ``app.main:app`` with uvicorn, configured from the settings: the one
    command line of the server (the Dockerfile's CMD runs it too)."""
    import uvicorn

    from app.settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        reload=args.reload,
        workers=None if args.reload else settings.workers,
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
