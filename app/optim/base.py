"""What an update rule is described by, and the check that keeps its parts in step.

A rule is an *elementwise* function: it takes the position, the gradient, its
state, the update index ``t`` and the scheduled learning rate ``lr``, and
returns the new position and state. Written with arithmetic and ``np.sqrt`` /
``np.maximum`` / ``np.abs`` only, the same function runs on numpy arrays (a
whole batch of rows at once, the readable reference) and compiles with numba
for the fast step loop (one scalar coordinate at a time).

The function's signature is the one statement of a rule's layout::

    update(x, g, *state, t, lr, *hyper) -> (x, *state)
    lookahead(x, *state, t, lr, *hyper) -> the point where the gradient is taken
    direction(g, *state, t, lr, *hyper) -> the vector the step follows
    effective_lr(g, *state, t, lr, *hyper) -> per coordinate, step = −effective_lr · direction

The names between ``g`` and ``t`` are the rule's state (each starts at 0 and is
carried from update to update); the names after ``lr`` are its hyper-parameters,
which must be the spec's ``params`` after ``alpha``, in the same order (``alpha``
only ever enters through the scheduled ``lr``). A look-ahead may read any of the
rule's state and hyper-parameters, by name.

``direction`` and ``effective_lr`` say *why* an update moved as it did (a step's
anatomy, docs/API.md): ``x_t − x_{t−1} = −effective_lr · direction``, both read
from the gradient ``g`` the rule used at update ``t`` and its state after that
update, by name; a name ``prev_<state>`` reads that state before the update
(AdaDelta's step scales by its ``d`` from before). ``direction`` may also read
``x``, the position the update started from (weight decay pulls it towards 0);
``effective_lr`` may not: the compiled loop computes it, and the rate a rule
gives a coordinate depends on its state, not on where the point is.
``symbols`` gives each state name the symbol of the rule's equations
(``velocity`` is ``v``), which is how the API and the page name the state.

A rule whose step has a weight-decay part ``−α_t λ x_{t−1}`` of its own (λ its
``weight_decay``; decoupled as in AdamW, or L2 that nothing rescales, as in SGD)
names it in ``decay_term`` (LaTeX), as a momentum rule names its velocity term:
the page draws each part of the step as an arrow.

``OptimizerSpec`` reads all of this from the signatures and refuses a spec whose
``params``, symbols or functions disagree with the update, so both backends,
which call the functions with the arguments in this order, get the layout from
the same place.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.hyperparams import HyperParam

UPDATE_FORM = "update(x, g, *state, t, lr, *hyper)"
LOOKAHEAD_FORM = "lookahead(x, *state, t, lr, *hyper)"
ANATOMY_FORM = "{name}(g, *state, t, lr, *hyper)"
# A state name with this prefix reads the state before the update (see the docstring).
PREVIOUS = "prev_"
# The name by which a direction reads the position before the update.
POSITION = "x"
# The hyper-parameter a decay term scales x by.
WEIGHT_DECAY = "weight_decay"


def split_signature(
    function: Callable[..., Any], leading: tuple[str, ...], form: str, owner: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The state and hyper-parameter names of ``function(*leading, *state, t, lr, *hyper)``,
    or a ValueError that shows the expected form."""
    where = f"{owner}: {function.__name__}{inspect.signature(function)}"
    parameters = list(inspect.signature(function).parameters.values())
    plain = all(
        p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.default is inspect.Parameter.empty
        for p in parameters
    )
    names = [p.name for p in parameters]
    if not plain or names[: len(leading)] != list(leading) or "t" not in names:
        raise ValueError(f"{where} must have the form {form}, with plain positional arguments")
    at = names.index("t")
    if names[at + 1 : at + 2] != ["lr"]:
        raise ValueError(f"{where} must have the form {form}: lr right after t")
    return tuple(names[len(leading) : at]), tuple(names[at + 2 :])


@dataclass(frozen=True)
class Reads:
    """What one of a rule's helper functions reads, by name: state (after the update,
    or before it for ``prev_<name>``) and hyper-parameters."""

    state: tuple[str, ...]
    hyper: tuple[str, ...]


def _reads(
    function: Callable[..., Any],
    leading: tuple[str, ...],
    form: str,
    owner: str,
    update: Callable[..., Any],
    previous: bool = False,
    position: bool = False,
) -> Reads:
    """The names ``function`` reads, or a ValueError naming any ``update`` lacks
    (``previous``: ``prev_<state>`` too; ``position``: ``x`` too)."""
    state, hyper = split_signature(update, ("x", "g"), UPDATE_FORM, owner)
    seen_state, seen_hyper = split_signature(function, leading, form, owner)
    known = set(state) | ({PREVIOUS + name for name in state} if previous else set())
    known |= {POSITION} if position else set()
    unknown = [n for n in seen_state if n not in known] + [n for n in seen_hyper if n not in hyper]
    if unknown:
        raise ValueError(
            f"{owner}: {function.__name__} reads {', '.join(unknown)}, which "
            f"{update.__name__} does not have"
        )
    return Reads(seen_state, seen_hyper)


@dataclass(frozen=True, kw_only=True)
class OptimizerSpec:
    """An update rule with everything the catalog, the engine and the page need.

    ``state`` and ``hyper_names`` are read from ``update``'s signature (see the
    module's docstring); ``lookahead_state`` and ``lookahead_hyper`` from
    ``lookahead``'s, when it is set; ``reads`` holds what ``direction`` and
    ``effective_lr`` read. ``direction_equation`` and ``effective_lr_equation`` are
    their LaTeX; ``velocity_term`` (LaTeX), for a rule whose step is
    ``−α_t g`` plus a term carried by its velocity, names that term;
    ``decay_term`` (LaTeX) names the step's own weight-decay part ``−α_t λ x_{t−1}``
    (the module's docstring).
    """

    name: str
    label: str
    params: tuple[HyperParam, ...]
    update: Callable[..., tuple[Any, ...]]
    equations: tuple[str, ...]
    description: str
    symbols: Mapping[str, str]
    direction: Callable[..., Any]
    effective_lr: Callable[..., Any]
    direction_equation: str
    effective_lr_equation: str
    velocity_term: str | None = None
    decay_term: str | None = None
    lookahead: Callable[..., Any] | None = None
    state: tuple[str, ...] = field(init=False)
    hyper_names: tuple[str, ...] = field(init=False)
    lookahead_state: tuple[str, ...] = field(init=False)
    lookahead_hyper: tuple[str, ...] = field(init=False)
    reads: Mapping[str, Reads] = field(init=False)

    def __post_init__(self) -> None:
        owner = f"optimizer {self.name!r}"
        state, hyper = split_signature(self.update, ("x", "g"), UPDATE_FORM, owner)
        declared = tuple(p.name for p in self.params)
        if "alpha" not in declared:
            raise ValueError(f"{owner}: params must include alpha, the learning rate")
        after_alpha = tuple(name for name in declared if name != "alpha")
        if hyper != after_alpha:
            raise ValueError(
                f"{owner}: {self.update.__name__} takes ({', '.join(hyper)}) after lr, but "
                f"params after alpha are ({', '.join(after_alpha)}); they must match in "
                "name and order"
            )
        if set(self.symbols) != set(state) or len(set(self.symbols.values())) != len(state):
            raise ValueError(
                f"{owner}: symbols must name each state of {self.update.__name__} "
                f"({', '.join(state) or 'none'}) once, with symbols of their own; got "
                f"{dict(self.symbols)}"
            )
        looks = Reads((), ())
        if self.lookahead is not None:
            looks = _reads(self.lookahead, ("x",), LOOKAHEAD_FORM, owner, self.update)
        reads = {
            role: _reads(
                getattr(self, role),
                ("g",),
                ANATOMY_FORM.format(name=role),
                owner,
                self.update,
                previous=True,
                position=role == "direction",
            )
            for role in ("direction", "effective_lr")
        }
        if self.decay_term is not None and WEIGHT_DECAY not in hyper:
            raise ValueError(
                f"{owner}: a decay term is −α_t λ x with λ the rule's {WEIGHT_DECAY}, "
                f"which {self.update.__name__} does not take"
            )
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "hyper_names", hyper)
        object.__setattr__(self, "lookahead_state", looks.state)
        object.__setattr__(self, "lookahead_hyper", looks.hyper)
        object.__setattr__(self, "reads", reads)
