"""The compiled backend's kernel module, generated from the registries.

numba resolves what a compiled function calls when it compiles it, so a loop
whose rows may each follow any optimiser needs a dispatch written out: "op 5 is
Adam: call its rule with two state slots and four hyper-parameters". This module
writes that dispatch from ``OPTIMIZERS`` and ``PROBLEMS``, reading each rule's
layout from its spec (which read it from the function's signature), so no table
of ids, arities or argument orders is kept by hand: adding a rule to the
registry is all the compiled backend needs.

``render`` writes the module's source, in this order:

1. a docstring that lists every id: ``op`` is the optimiser's index in
   ``OPTIMIZERS`` (the engine numbers rows the same way); ``problem`` numbers the
   surfaces, then the regressions, in ``PROBLEMS`` order, then the family of
   interpreted surfaces (the formulas users type);
2. the imports of the modules that define the rules and problems, and each of
   their functions compiled with ``inline="always"`` (with the helpers a function
   calls from its own module, compiled too and seen under their names);
3. the dispatch, each function a plain if-chain on an id (``update``,
   ``lookahead``, ``effective_rate``, ``surface_gradient``, ``surface_value``, ``sample_dloss``,
   ``sample_loss``), ``FIRST_REGRESSION``, and ``load_state`` / ``store_state`` /
   ``load_hyper`` / ``record_state``, which move a row's slots between the arrays
   and tuples;
   ``STATE_SLOTS`` and ``HYPER_SLOTS`` are the widths of those arrays;
   ``evaluate_program``, the interpreter of a typed formula's program (one
   function for every formula: the formula is data);
4. the loops, copied from ``kernel_loops.py``, which call only the names above.

``load`` writes the source to ``descentlab_kernels_<hash>.py``, where the hash is
the SHA-256 of the source and of every module it takes a rule or a problem from.
numba checks a cached function against its own file only, not against the
functions it inlined: a new file name for any change to a rule is what keeps it
from loading a kernel compiled against the old rule. The file goes under
``NUMBA_CACHE_DIR`` when it is set (as in the Docker image), else in this
package's ``__pycache__``; numba caches the compiled loops beside it. The module
is put in ``sys.modules`` under its file's name *before* it runs: numba's cache
imports the module of a cached function by name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numba

from app.optim.base import PREVIOUS, OptimizerSpec
from app.optim.registry import hyper_slots, state_slots
from app.problems.base import Interpreted, Problem, Regression, Surface

LOOPS = Path(__file__).with_name("kernel_loops.py")
LOOPS_MARKER = "# -- copied into the generated kernel module from here on"
MODULE_PREFIX = "descentlab_kernels_"


def problem_ids(problems: Mapping[str, Problem]) -> dict[str, int]:
    """Surfaces first, then regressions (a regression is any id ≥ FIRST_REGRESSION, in
    the built-in loops), then the family of interpreted surfaces (typed formulas,
    which have loops of their own)."""
    ordered = [p for p in problems.values() if isinstance(p, Surface)]
    ordered += [p for p in problems.values() if isinstance(p, Regression)]
    ordered += [p for p in problems.values() if isinstance(p, Interpreted)]
    return {problem.name: index for index, problem in enumerate(ordered)}


def _interpreter(problems: Mapping[str, Problem], functions) -> list[str]:
    """``evaluate_program(code, registers, count)``: the interpreter of the registry's
    family of typed formulas (a stub the loops never call, when there is none)."""
    interpreted = [p for p in problems.values() if isinstance(p, Interpreted)]
    if len(interpreted) > 1:
        raise ValueError("the kernels run one family of interpreted surfaces")
    if not interpreted:
        return [
            '@numba.njit(inline="always", cache=True)',
            "def evaluate_program(code, registers, count):",
            '    """No typed formulas in the registry: run_typed is never called."""',
            "    pass",
        ]
    family = interpreted[0]
    # Called, not inlined: the loops call it at three places, and each inlined copy of
    # its 24 operations cost seconds of compiling at start-up; a call costs a few
    # nanoseconds per block of rows.
    name = functions.name(family.interpreter, inline=False)
    return [f"evaluate_program = {name}  # {family.name}"]


def helpers_of(function: Callable[..., Any]) -> list[Callable[..., Any]]:
    """The functions of ``function``'s own module that it calls by name (a rule's update
    and its effective rate may share a helper): numba resolves a name when it compiles
    the caller, so each must be compiled too and seen there under that name."""
    module = function.__module__
    found = (function.__globals__.get(name) for name in function.__code__.co_names)
    return [f for f in found if inspect.isfunction(f) and f.__module__ == module]


class _Functions:
    """The Python functions the kernels compile, each under one name in the module."""

    def __init__(self) -> None:
        self.names: dict[Callable[..., Any], str] = {}
        self.called: set[Callable[..., Any]] = set()
        self.helpers: dict[Callable[..., Any], list[Callable[..., Any]]] = {}

    def name(self, function: Callable[..., Any], inline: bool = True) -> str:
        """The function's name in the module; compiled ``inline="always"`` unless
        ``inline`` is false (then one machine-code copy serves every caller)."""
        if not inline:
            self.called.add(function)
        if function not in self.names:
            # Its helpers first: the module defines them before the function that uses them.
            self.helpers[function] = helpers_of(function)
            for helper in self.helpers[function]:
                self.name(helper)
            module = sys.modules.get(function.__module__)
            if getattr(module, function.__qualname__, None) is not function:
                raise ValueError(
                    f"{function.__module__}.{function.__qualname__}: the compiled backend "
                    "imports rules and problems by name, so they must be module-level functions"
                )
            name, n = function.__name__, 1
            while name in self.names.values():
                n += 1
                name = f"{function.__name__}_{n}"
            self.names[function] = name
        return self.names[function]

    def modules(self) -> list[ModuleType]:
        return [sys.modules[f.__module__] for f in self.names]

    def imports(self) -> list[str]:
        return [f"import {m}" for m in sorted({f.__module__ for f in self.names})]

    def definitions(self) -> list[str]:
        lines = []
        for f, name in self.names.items():
            source = f"{f.__module__}.{f.__qualname__}"
            if self.helpers[f]:
                compiled = ", ".join(f"{h.__name__}={self.names[h]}" for h in self.helpers[f])
                source = f"_calling({source}, {compiled})"
            lines.append(f"{name} = {'_call' if f in self.called else '_jit'}({source})")
        return lines


def _tuple(names: Sequence[str]) -> str:
    """``(a, b)``, ``(a,)`` or ``()``: a tuple display of ``names``."""
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _targets(names: Sequence[str]) -> str:
    """The left side of an assignment that unpacks a tuple into ``names``."""
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


def _header(function: str, doc: str) -> list[str]:
    return ["", "", '@numba.njit(inline="always", cache=True)', function, f'    """{doc}"""']


def _branches(optimizers: Mapping[str, OptimizerSpec]):
    """Each rule's branch of a dispatch on ``op``: ``(test, comment, spec)``. Rules that
    share an update function (momentum and Nesterov) share a branch."""
    grouped: dict[Callable[..., Any], list[int]] = {}
    for op, spec in enumerate(optimizers.values()):
        grouped.setdefault(spec.update, []).append(op)
    specs = list(optimizers.values())
    for number, ops in enumerate(grouped.values()):
        spec = specs[ops[0]]
        test = " or ".join(f"op == {op}" for op in ops)
        if number == 0:
            test = f"if {test}:"
        elif number < len(grouped) - 1:
            test = f"elif {test}:"
        else:
            # The last rule without a test (ids are the registry's, always in range):
            # LLVM lays out the chain better, 3-5 % off a loop of mixed rules.
            test = "else:"
        names = ", ".join(f"{op} {specs[op].name}" for op in ops)
        signature = ", ".join(("x", "g", *spec.state, "t", "lr", *spec.hyper_names))
        yield test, f"# {names}: {spec.update.__name__}({signature})", spec


def _update(optimizers: Mapping[str, OptimizerSpec], functions: _Functions, s: int, h: int):
    slots = [f"s{j}" for j in range(s)]
    hypers = [f"h{j}" for j in range(h)]
    lines = _header(
        "def update(op, x, g, s, t, lr, h):",
        "One coordinate of one update of optimiser ``op``: returns ``(x, s)``.\n\n"
        "    ``s`` holds the state slots and ``h`` the hyper-parameter slots; a rule reads\n"
        "    the first of each that its signature names, in its order.",
    )
    lines += [
        f"    {_targets(names)} = {tuple_}"
        for names, tuple_ in ((slots, "s"), (hypers, "h"))
        if names
    ]
    for test, comment, spec in _branches(optimizers):
        state = slots[: len(spec.state)]
        outputs = ["x", *state]
        arguments = ["x", "g", *state, "t", "lr", *hypers[: len(spec.hyper_names)]]
        lines += [
            f"    {test}",
            f"        {comment}",
            f"        {_targets(outputs)} = {functions.name(spec.update)}({', '.join(arguments)})",
        ]
    lines.append(f"    return x, {_tuple(slots)}")
    return lines


def _effective_rate(
    optimizers: Mapping[str, OptimizerSpec], functions: _Functions, s: int, h: int
) -> list[str]:
    after, before = [f"s{j}" for j in range(s)], [f"b{j}" for j in range(s)]
    hypers = [f"h{j}" for j in range(h)]
    lines = _header(
        "def effective_rate(op, g, s, before, t, lr, h):",
        "One coordinate's effective learning rate of optimiser ``op`` at its update, from\n"
        "    its state slots after the update (``s``) and before it (``before``).",
    )
    lines += [
        f"    {_targets(names)} = {tuple_}"
        for names, tuple_ in ((after, "s"), (before, "before"), (hypers, "h"))
        if names
    ]
    # Rules whose calls read the same (momentum and Nesterov) share a branch.
    branches: dict[tuple[Callable[..., Any], tuple[str, ...]], list[int]] = {}
    for op, spec in enumerate(optimizers.values()):
        reads = spec.reads["effective_lr"]
        arguments = ["g"]
        for name in reads.state:
            previous = name.startswith(PREVIOUS)
            slot = spec.state.index(name.removeprefix(PREVIOUS))
            arguments.append((before if previous else after)[slot])
        arguments += ["t", "lr", *(hypers[spec.hyper_names.index(n)] for n in reads.hyper)]
        branches.setdefault((spec.effective_lr, tuple(arguments)), []).append(op)
    specs = list(optimizers.values())
    for number, ((rate, arguments), ops) in enumerate(branches.items()):
        test = " or ".join(f"op == {op}" for op in ops)
        test = (
            "else:" if number == len(branches) - 1 else f"{'if' if number == 0 else 'elif'} {test}:"
        )
        reads = specs[ops[0]].reads["effective_lr"]
        signature = ", ".join(("g", *reads.state, "t", "lr", *reads.hyper))
        lines += [
            f"    {test}",
            f"        # {', '.join(specs[op].name for op in ops)}: {rate.__name__}({signature})",
            f"        return {functions.name(rate)}({', '.join(arguments)})",
        ]
    return lines


def _lookahead(optimizers: Mapping[str, OptimizerSpec], functions: _Functions):
    lines = _header(
        "def lookahead(op, x, y, sx, sy, t, lr, h):",
        "Where optimiser ``op`` takes its gradient: its look-ahead point, else ``(x, y)``.",
    )
    for op, spec in enumerate(optimizers.values()):
        if spec.lookahead is None:
            continue
        hyper = [f"h[{spec.hyper_names.index(name)}]" for name in spec.lookahead_hyper]
        signature = ", ".join(("x", *spec.lookahead_state, "t", "lr", *spec.lookahead_hyper))
        calls = []
        for coordinate, slots in (("x", "sx"), ("y", "sy")):
            state = [f"{slots}[{spec.state.index(name)}]" for name in spec.lookahead_state]
            arguments = ", ".join([coordinate, *state, "t", "lr", *hyper])
            calls.append(f"{functions.name(spec.lookahead)}({arguments})")
        lines += [
            f"    if op == {op}:",
            f"        # {spec.name}: {spec.lookahead.__name__}({signature})",
            f"        return {calls[0]}, {calls[1]}",
        ]
    lines.append("    return x, y")
    return lines


def _chain(
    function: str,
    doc: str,
    cases: Sequence[tuple[int, str, Callable[..., Any]]],
    arguments: str,
    functions: _Functions,
) -> list[str]:
    """``if problem == id: return f(arguments)`` for each case; the last one unconditional
    (numba needs every path to return the same type)."""
    lines = _header(function, doc)
    for index, (problem, name, target) in enumerate(cases):
        call = f"return {functions.name(target)}({arguments})"
        if index < len(cases) - 1:
            lines += [f"    if problem == {problem}:  # {name}", f"        {call}"]
        else:
            lines.append(f"    {call}  # {problem} {name}")
    return lines


def _columns_header(name: str, arguments: str, h: int, doc: str) -> list[str]:
    """The head of a column function of rows ``first … first+n-1`` of a block, which
    share the hyper-parameter slots ``h`` (unpacked into ``h0 …``)."""
    lines = _header(f"def {name}(op, first, n, {arguments}, h):", doc)
    # An unsigned row index: numba tests a signed one for being negative on every
    # access, and that test keeps LLVM from vectorising the loop.
    lines.append("    first = np.uint64(first)")
    if h:
        lines.append(f"    {_targets([f'h{j}' for j in range(h)])} = h")
    return lines


# Rows outside, the two coordinates inside: LLVM unrolls the coordinates, vectorises
# over the rows, and computes what a rule takes from t and the hyper-parameters alone
# (β**t) once for the whole loop, which reads them from h, not from the rows.
_ROWS_AND_COORDINATES = [
    "        for row in range(n):",
    "            r = first + np.uint64(row)",
    "            for c in range(2):",
]


def _update_columns(
    optimizers: Mapping[str, OptimizerSpec], functions: _Functions, h: int
) -> list[str]:
    lines = _columns_header(
        "update_columns",
        "pos, grad, state, new_pos, new_state, t, rates, k",
        h,
        "One update of optimiser ``op``, both coordinates, of rows ``first … first+n-1``\n"
        "    of a block held as columns: reads ``pos[c, r]``, ``grad[c, r]``,\n"
        "    ``state[slot, c, r]`` and α_t ``rates[k, r]``; writes ``new_pos`` and\n"
        "    ``new_state`` (a slot the rule lacks is not written).",
    )
    for test, comment, spec in _branches(optimizers):
        slots = range(len(spec.state))
        outputs = ["new_pos[c, r]", *(f"new_state[{j}, c, r]" for j in slots)]
        arguments = [
            "pos[c, r]",
            "grad[c, r]",
            *(f"state[{j}, c, r]" for j in slots),
            "t",
            "rates[k, r]",
            *(f"h{j}" for j in range(len(spec.hyper_names))),
        ]
        lines += [
            f"    {test}",
            f"        {comment}",
            *_ROWS_AND_COORDINATES,
            f"                {_targets(outputs)} = {functions.name(spec.update)}(",
            f"                    {', '.join(arguments)}",
            "                )",
        ]
    return lines


def _lookahead_columns(
    optimizers: Mapping[str, OptimizerSpec], functions: _Functions, h: int
) -> list[str]:
    lines = _columns_header(
        "lookahead_columns",
        "pos, state, points, t, rates, k",
        h,
        "Where optimiser ``op`` takes the gradient of rows ``first … first+n-1`` of a\n"
        "    block: into ``points[c, r]``, returning True, or False for a rule that takes\n"
        "    it at ``pos``.",
    )
    for op, spec in enumerate(optimizers.values()):
        if spec.lookahead is None:
            continue
        hyper = [f"h{spec.hyper_names.index(name)}" for name in spec.lookahead_hyper]
        state = [f"state[{spec.state.index(name)}, c, r]" for name in spec.lookahead_state]
        arguments = ", ".join(["pos[c, r]", *state, "t", "rates[k, r]", *hyper])
        signature = ", ".join(("x", *spec.lookahead_state, "t", "lr", *spec.lookahead_hyper))
        lines += [
            f"    if op == {op}:",
            f"        # {spec.name}: {spec.lookahead.__name__}({signature})",
            *_ROWS_AND_COORDINATES,
            f"                points[c, r] = {functions.name(spec.lookahead)}({arguments})",
            "        return True",
        ]
    lines.append("    return False")
    return lines


def _columns_chain(
    function: str,
    doc: str,
    cases: Sequence[tuple[int, str, Callable[..., Any]]],
    statement: str,
    functions: _Functions,
) -> list[str]:
    """``_chain`` with a loop over the rows of a block in each branch: the lines of
    ``statement``, ``{f}`` the case's function, for ``r`` in ``range(n)``."""
    lines = _header(function, doc)
    for index, (problem, name, target) in enumerate(cases):
        if index == 0:
            test = f"if problem == {problem}:"
        elif index < len(cases) - 1:
            test = f"elif problem == {problem}:"
        else:
            test = "else:"
        lines += [
            f"    {test}  # {problem} {name}",
            "        for r in range(n):",
            *(
                f"            {line}"
                for line in statement.format(f=functions.name(target)).split("\n")
            ),
        ]
    return lines


def _slots(s: int, h: int) -> list[str]:
    lines = _header(
        "def load_state(state, row, coordinate):",
        "The state slots of one coordinate of one row, as a tuple.",
    )
    lines.append(
        f"    return {_tuple([f'state[row, {j}, coordinate]' for j in range(s)])}",
    )
    lines += _header(
        "def store_state(state, row, coordinate, s):",
        "Write back what ``load_state`` read.",
    )
    lines += [f"    state[row, {j}, coordinate] = s[{j}]" for j in range(s)] or ["    pass"]
    lines += _header(
        "def record_state(out_state, row, column, coordinate, s):",
        "Write the state slots into a recording's column.",
    )
    lines += [f"    out_state[row, column, {j}, coordinate] = s[{j}]" for j in range(s)] or [
        "    pass"
    ]
    lines += _header("def load_hyper(hyper, row):", "The hyper-parameter slots of one row.")
    lines.append(f"    return {_tuple([f'hyper[row, {j}]' for j in range(h)])}")
    return lines


def _loops() -> tuple[list[str], str]:
    """The loops file's imports and its text below the marker."""
    text = LOOPS.read_text()
    head, marker, body = text.partition(LOOPS_MARKER)
    if not marker:
        raise RuntimeError(f"{LOOPS} has lost its marker line {LOOPS_MARKER!r}")
    imports = [line for line in head.splitlines() if line.startswith(("import ", "from "))]
    return imports, body.split("\n", 1)[1].strip("\n")


def render(
    optimizers: Mapping[str, OptimizerSpec], problems: Mapping[str, Problem]
) -> tuple[str, list[ModuleType]]:
    """The kernel module's source, and the modules whose functions it compiles."""
    functions = _Functions()
    s, h = state_slots(optimizers), hyper_slots(optimizers)
    ids = problem_ids(problems)
    surfaces = [p for p in problems.values() if isinstance(p, Surface)]
    regressions = [p for p in problems.values() if isinstance(p, Regression)]
    if not surfaces or not regressions:
        raise ValueError("the kernels need at least one surface and one regression")
    body = _update(optimizers, functions, s, h) + _lookahead(optimizers, functions)
    body += _effective_rate(optimizers, functions, s, h)
    body += _update_columns(optimizers, functions, h)
    body += _lookahead_columns(optimizers, functions, h)
    for function, doc, attribute, kind in (
        ("surface_gradient", "The gradient of surface ``problem``.", "grad", surfaces),
        ("surface_value", "The value of surface ``problem``.", "value", surfaces),
        ("sample_dloss", "d loss / dz of one sample of regression ``problem``.", "sample_dloss",
         regressions),
        ("sample_loss", "The loss of one sample of regression ``problem``.", "sample_loss",
         regressions),
    ):  # fmt: skip
        arguments = "x, y" if kind is surfaces else "z, y"
        cases = [(ids[p.name], p.name, getattr(p, attribute)) for p in kind]
        body += _chain(f"def {function}(problem, {arguments}):", doc, cases, arguments, functions)
    surface_cases = [(ids[p.name], p.name, p) for p in surfaces]
    body += _columns_chain(
        "def surface_gradient_columns(problem, n, points, grad, noise_x, noise_y):",
        "Rows ``0 … n-1`` of a block: the gradient of surface ``problem`` at\n"
        "    ``points[c, r]``, plus the update's noise, into ``grad[c, r]``.",
        [(number, name, p.grad) for number, name, p in surface_cases],
        "gx, gy = {f}(points[0, r], points[1, r])\n"
        "grad[0, r] = gx + noise_x\n"
        "grad[1, r] = gy + noise_y",
        functions,
    )
    body += _columns_chain(
        "def surface_value_columns(problem, n, pos, values, k):",
        "Rows ``0 … n-1`` of a block: the value of surface ``problem`` at ``pos[c, r]``,\n"
        "    into ``values[k, r]``.",
        [(number, name, p.value) for number, name, p in surface_cases],
        "values[k, r] = {f}(pos[0, r], pos[1, r])",
        functions,
    )
    body += _slots(s, h)
    program = _interpreter(problems, functions)
    loop_imports, loops = _loops()

    listing = [f"    {op:>2}  {name}" for op, name in enumerate(optimizers)]
    problem_listing = [f"    {number:>2}  {name}" for name, number in ids.items()]
    docstring = [
        '"""The compiled engine\'s kernels: generated by app/backends/kernel_source.py from',
        "the optimiser and problem registries. Do not edit: change a rule, a problem,",
        "kernel_loops.py or the generator, and a new file (a new hash) replaces this one.",
        "",
        "Optimisers (op):",
        *listing,
        "Problems (problem):",
        *problem_listing,
        '"""',
    ]
    source = [
        *docstring,
        "",
        "import types",
        *loop_imports,
        "",
        *functions.imports(),
        "",
        f"STATE_SLOTS = {s}",
        f"HYPER_SLOTS = {h}",
        f"FIRST_REGRESSION = {len(surfaces)}",
        f"OPTIMIZER_NAMES = {tuple(optimizers)!r}",
        f"PROBLEM_IDS = {ids!r}",
        "",
        "",
        "def _jit(function):",
        '    return numba.njit(inline="always", cache=True)(function)',
        "",
        "",
        "def _call(function):",
        "    return numba.njit(cache=True, nogil=True)(function)",
        "",
        "",
        "def _calling(function, **compiled):",
        '    """``function`` seeing the compiled ``compiled`` under its helpers\' names."""',
        "    namespace = {**function.__globals__, **compiled}",
        "    return types.FunctionType(",
        "        function.__code__, namespace, function.__name__, function.__defaults__,",
        "        function.__closure__,",
        "    )",
        "",
        "",
        "# -- the rules and problems, compiled as they are " + "-" * 39,
        "",
        *functions.definitions(),
        "",
        "",
        "# -- dispatch, generated from the registries " + "-" * 44,
        *body,
        "",
        "",
        "# -- interpreted surfaces (a formula typed by a user) " + "-" * 35,
        "",
        *program,
        "",
        "",
        "# -- the loops, from app/backends/kernel_loops.py " + "-" * 39,
        "",
        "",
        loops,
        "",
    ]
    return "\n".join(source), functions.modules()


def digest(source: str, modules: Sequence[ModuleType]) -> str:
    """A hash of the source and of every module it compiles functions from."""
    sha = hashlib.sha256(source.encode())
    for module in sorted(set(modules), key=lambda m: m.__name__):
        sha.update(module.__name__.encode())
        sha.update(inspect.getsource(module).encode())
    return sha.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def kernel_dir() -> Path:
    """Where generated kernel modules go: NUMBA_CACHE_DIR, else this package's
    ``__pycache__``, else a folder of this user's own under the temporary directory."""
    candidates = []
    if numba.config.CACHE_DIR:
        candidates.append(Path(numba.config.CACHE_DIR) / "descentlab-kernels")
    candidates.append(Path(__file__).parent / "__pycache__")
    for folder in candidates:
        if _writable(folder):
            return folder
    # Only a folder that this user owns and no one else may write: we import from it.
    folder = Path(tempfile.gettempdir()) / f"descentlab-kernels-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    status = folder.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        return Path(tempfile.mkdtemp(prefix="descentlab-kernels-"))
    return folder


# One load at a time: a module is in sys.modules before its body has run, so a
# second thread must wait for the first rather than take the half-made module.
_LOADING = threading.Lock()


def load(source: str, modules: Sequence[ModuleType]) -> ModuleType:
    """The module of ``source``, written to its hash-named file and imported from there."""
    with _LOADING:
        return _load(source, modules)


def _load(source: str, modules: Sequence[ModuleType]) -> ModuleType:
    name = MODULE_PREFIX + digest(source, modules)
    if name in sys.modules:
        return sys.modules[name]
    path = kernel_dir() / f"{name}.py"
    if not path.is_file() or path.read_text() != source:
        # Written aside, then renamed: a process starting meanwhile sees all or nothing.
        partial = path.with_name(f"{name}.{os.getpid()}.tmp")
        partial.write_text(source)
        os.replace(partial, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
