"""Every update rule by its API name, and the checks a run's spec must pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.errors import InvalidSpec
from app.hyperparams import export_value, resolve
from app.optim.adabelief import ADABELIEF
from app.optim.adadelta import ADADELTA
from app.optim.adagrad import ADAGRAD
from app.optim.adam import ADAM, ADAMAX, AMSGRAD, NADAM
from app.optim.adamw import ADAMW
from app.optim.base import OptimizerSpec
from app.optim.lion import LION
from app.optim.momentum import MOMENTUM, NESTEROV
from app.optim.radam import RADAM
from app.optim.rmsprop import RMSPROP
from app.optim.sgd import SGD

# The order is the story the page tells, from gradient descent to Adam and beyond.
# Adding a rule is its module in app/optim/ and one line here: the engine, both
# backends, the catalog, the schemas and the page all follow.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        SGD,
        MOMENTUM,
        NESTEROV,
        ADAGRAD,
        RMSPROP,
        ADAM,
        ADADELTA,
        NADAM,
        ADAMAX,
        AMSGRAD,
        ADAMW,
        RADAM,
        ADABELIEF,
        LION,
    )
}


def state_slots(optimizers: Mapping[str, OptimizerSpec] = OPTIMIZERS) -> int:
    """The widest state of any rule: how many state slots each row has."""
    return max([len(spec.state) for spec in optimizers.values()])


def hyper_slots(optimizers: Mapping[str, OptimizerSpec] = OPTIMIZERS) -> int:
    """The most hyper-parameters after alpha of any rule: each row's hyper slots."""
    return max([len(spec.hyper_names) for spec in optimizers.values()])


def get_optimizer(name: Any, loc: tuple[str | int, ...]) -> OptimizerSpec:
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise InvalidSpec(
            loc, f"unknown optimizer {name!r}; valid optimizers: {', '.join(OPTIMIZERS)}"
        )
    return OPTIMIZERS[name]


def resolve_params(
    spec: OptimizerSpec, given: Mapping[str, Any] | None, loc: tuple[str | int, ...]
) -> dict[str, float]:
    """Every hyper-parameter of ``spec`` as a float, defaults filled in, ranges checked."""
    return resolve(spec.params, given, loc, f"optimizer {spec.name!r}")


def export_params(spec: OptimizerSpec, values: Mapping[str, float]) -> dict[str, Any]:
    """The JSON form: ``bias_correction`` as a bool, step counts as ints."""
    return {p.name: export_value(p, values[p.name]) for p in spec.params}
