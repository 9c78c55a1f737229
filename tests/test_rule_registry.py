"""A rule is its function and one registry entry: both backends pick up a new one (its
anatomy too), and a spec that disagrees with its function's signature is refused."""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys

import numpy as np
import pytest

from app.api.routes.catalog import anatomy_info
from app.backends import kernel_source
from app.backends.numpy import evaluate
from app.engine import build_simulation, simulate
from app.hyperparams import HyperParam
from app.optim import params
from app.optim.base import OptimizerSpec
from app.optim.registry import OPTIMIZERS, hyper_slots, state_slots
from app.optim.sgd import gradient_direction
from app.problems.registry import PROBLEMS

# -- two rules that are not in the app -------------------------------------------------


def leaky_update(x, g, average, t, lr, leak):
    """A leaky sum of gradients, stepped along with a 1/√t rate."""
    average = leak * average + g
    return x - lr * average / np.sqrt(t), average


def leaky_lookahead(x, average, t, lr, leak):
    """Take the gradient where the leaky sum is about to carry the point."""
    return x - lr * leak * average


def leaky_direction(g, average, t, lr):
    return average


def leaky_effective_lr(g, t, lr):
    return lr / np.sqrt(t)


def echo_update(x, g, g1, g2, g3, count, t, lr, w0, w1, w2, w3, shrink):
    """A weighted sum of the last four gradients (wider state and more hyper-parameters
    than any rule of the app)."""
    direction = w0 * g + w1 * g1 + w2 * g2 + w3 * g3
    return x - lr * shrink * direction, g, g1, g2, count + 1.0


def echo_direction(g, prev_g1, prev_g2, prev_g3, t, lr, w0, w1, w2, w3):
    """The state before the update holds the three gradients the step weighs."""
    return w0 * g + w1 * prev_g1 + w2 * prev_g2 + w3 * prev_g3


def echo_effective_lr(g, t, lr, shrink):
    return lr * shrink


def sgd_rate(g, t, lr):
    return lr


def shrink_update(x, g, t, lr, weight_decay):
    """Gradient descent whose decay is decoupled: x shrinks apart from the gradient step."""
    return (x - lr * weight_decay * x - lr * g,)


def shrink_direction(g, x, t, lr, weight_decay):
    """The direction reads where the update started: the decay pulls x towards 0."""
    return g + weight_decay * x


def _weight(name, default):
    return HyperParam(name, name, default, 0.0, 1.0, description="weight of a past gradient")


LEAKY = OptimizerSpec(
    name="leaky",
    label="Leaky",
    params=(params.alpha(0.001), HyperParam("leak", r"\lambda", 0.8, 0.0, 1.0)),
    update=leaky_update,
    lookahead=leaky_lookahead,
    symbols={"average": "m"},
    direction=leaky_direction,
    effective_lr=leaky_effective_lr,
    direction_equation="m",
    effective_lr_equation=r"\alpha_t / \sqrt{t}",
    equations=(r"m \leftarrow \lambda m + g",),
    description="A test rule with a look-ahead.",
)
ECHO = OptimizerSpec(
    name="echo",
    label="Echo",
    params=(
        params.alpha(0.001),
        _weight("w0", 0.4),
        _weight("w1", 0.3),
        _weight("w2", 0.2),
        _weight("w3", 0.1),
        HyperParam("shrink", "s", 0.5, 0.0, 1.0),
    ),
    update=echo_update,
    symbols={"g1": "g_1", "g2": "g_2", "g3": "g_3", "count": "n"},
    direction=echo_direction,
    effective_lr=echo_effective_lr,
    direction_equation=r"\sum_i w_i g_{t-i}",
    effective_lr_equation=r"\alpha_t s",
    equations=(r"x \leftarrow x - \alpha s \sum_i w_i g_{t-i}",),
    description="A test rule with four state slots and five hyper-parameters.",
)


SHRINK = OptimizerSpec(
    name="shrink",
    label="Shrink",
    params=(
        params.alpha(0.01),
        HyperParam("weight_decay", r"\lambda", 0.0, 0.0, 1.0, description="decay"),
    ),
    update=shrink_update,
    symbols={},
    direction=shrink_direction,
    effective_lr=sgd_rate,
    direction_equation=r"g + \lambda x",
    effective_lr_equation=r"\alpha_t",
    decay_term=r"-\alpha_t \lambda\, x_{t-1}",
    equations=(r"x \leftarrow x - \alpha_t (g + \lambda x)",),
    description="A test rule whose direction reads x and whose step has a decay term.",
)


def damped_rate(t, lr):
    """A helper that a rule's update and its effective rate share: α_t / (1 + t/10)."""
    return lr / (1.0 + 0.1 * t)


def damped_update(x, g, t, lr):
    return (x - damped_rate(t, lr) * g,)


def damped_effective_lr(g, t, lr):
    return damped_rate(t, lr)


DAMPED = OptimizerSpec(
    name="damped",
    label="Damped",
    params=(params.alpha(0.1),),
    update=damped_update,
    symbols={},
    direction=gradient_direction,
    effective_lr=damped_effective_lr,
    direction_equation="g",
    effective_lr_equation=r"\alpha_t / (1 + t/10)",
    equations=(r"x \leftarrow x - \frac{\alpha_t}{1 + t/10} g",),
    description="A test rule whose update calls a helper of its module.",
)


def reference(name, values, gradient, start, steps, noise):
    """Positions after 0 … ``steps`` updates, one coordinate at a time in plain floats."""
    x = list(start)
    state = [[0.0, 0.0, 0.0, 0.0] for _ in range(2)]
    path = [tuple(x)]
    for t in range(1, steps + 1):
        lr = values["alpha"]
        if name == "leaky":
            at = [x[i] - lr * values["leak"] * state[i][0] for i in range(2)]
        else:
            at = list(x)
        g = [a + n for a, n in zip(gradient(*at), noise[t - 1], strict=True)]
        for i in range(2):
            if name == "leaky":
                state[i][0] = values["leak"] * state[i][0] + g[i]
                x[i] -= lr * state[i][0] / math.sqrt(t)
            else:
                g1, g2, g3, count = state[i]
                weights = values["w0"], values["w1"], values["w2"], values["w3"]
                direction = sum(w * v for w, v in zip(weights, (g[i], g1, g2, g3), strict=True))
                x[i] -= lr * values["shrink"] * direction
                state[i] = [g[i], g1, g2, count + 1.0]
        path.append(tuple(x))
    return np.array(path)


def steep_valley_gradient(x, y):
    return 0.2 * x, 4.0 * y


@pytest.fixture
def registered(monkeypatch):
    """The registry with both test rules added, as one line each would add them."""
    monkeypatch.setitem(OPTIMIZERS, LEAKY.name, LEAKY)
    monkeypatch.setitem(OPTIMIZERS, ECHO.name, ECHO)


def test_rules_added_to_the_registry_run_on_both_backends(registered):
    # One request: both test rules (ECHO widens every row's state and hyper-parameter
    # slots) beside rules of the app, on a surface with gradient noise.
    assert (state_slots(), hyper_slots()) == (4, 5)
    sigma, seed, steps = 0.3, 4, 60
    runs = [
        {"optimizer": "leaky", "params": {"alpha": 0.02, "leak": 0.7}},
        {"optimizer": "echo", "start": [3.0, -1.0]},
        {"optimizer": "nesterov", "params": {"alpha": 0.01}},
        {"optimizer": "amsgrad"},
    ]
    request = {"problem": {"name": "steep_valley", "noise": sigma}, "steps": steps, "seed": seed}
    noise = sigma * np.random.default_rng(seed).standard_normal((steps, 2))
    simulation = build_simulation({**request, "runs": runs})
    results = {backend: simulate(simulation, backend) for backend in ("compiled", "numpy")}
    for backend, result in results.items():
        for row in (0, 1):
            spec = OPTIMIZERS[runs[row]["optimizer"]]
            values = result.simulation.runs[row].params
            expected = reference(
                spec.name, values, steep_valley_gradient, result.simulation.runs[row].start,
                steps, noise,
            )  # fmt: skip
            np.testing.assert_allclose(result.paths[row], expected, rtol=1e-12, err_msg=backend)
    for a, b in zip(results["compiled"].paths, results["numpy"].paths, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)

    # The app's rules step exactly as in a request without the test rules.
    alone = simulate(build_simulation({**request, "runs": runs[2:]}))
    for a, b in zip(results["compiled"].paths[2:], alone.paths, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_an_added_rules_anatomy_comes_with_it(registered, backend):
    # Named by its symbols; its look-ahead point kept; its step −effective_lr · direction,
    # with ECHO's direction read from the state before the update (prev_g1 …).
    runs = [{"optimizer": "leaky", "params": {"alpha": 0.02}}, {"optimizer": "echo"}]
    body = {"problem": {"name": "steep_valley", "noise": 0.2}, "steps": 30, "runs": runs}
    simulation = build_simulation({**body, "anatomy": True})
    result = simulate(simulation, backend)
    leaky, echo = result.anatomy
    assert set(leaky.state) == {"m"} and set(echo.state) == {"g_1", "g_2", "g_3", "n"}
    t = np.arange(1, 31)
    np.testing.assert_allclose(leaky.effective_lr, (0.02 / np.sqrt(t))[:, None] * [1, 1])
    np.testing.assert_allclose(echo.effective_lr, np.full((30, 2), 0.001 * 0.5))
    np.testing.assert_array_equal(echo.state["n"], np.arange(1, 31)[:, None] * [1.0, 1.0])
    previous = [np.zeros(2)] + list(leaky.state["m"][:-1])
    np.testing.assert_allclose(
        leaky.lookahead, result.paths[0][:-1] - 0.02 * 0.8 * np.array(previous), rtol=1e-12
    )
    before = np.vstack([np.zeros((1, 2)), echo.state["g_1"][:-1]])
    weights = (0.4, 0.3, 0.2, 0.1)
    older = [np.vstack([np.zeros((k, 2)), echo.grad[:-k]]) for k in (1, 2, 3)]
    direction = sum(w * g for w, g in zip(weights, [echo.grad, *older], strict=True))
    np.testing.assert_array_equal(before, older[0])
    step = np.diff(result.paths[1], axis=0)
    np.testing.assert_allclose(step, -echo.effective_lr * direction, rtol=1e-10)


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_an_added_rule_runs_alike_rows_and_minibatches(registered, backend):
    # Rows alike take the compiled backend's blocked loop; each must equal its run alone.
    problem = {"name": "linear_regression", "n_samples": 30, "batch_size": 4}
    starts = [[-1.0, 2.0], [0.5, 0.5], [3.0, -2.0]]
    runs = [{"optimizer": "leaky", "params": {"alpha": 0.01}, "start": s} for s in starts]
    body = {"problem": problem, "steps": 80, "seed": 2}
    together = simulate(build_simulation({**body, "runs": runs}), backend)
    for row, run in enumerate(runs):
        alone = simulate(build_simulation({**body, "runs": [run]}), backend)
        np.testing.assert_array_equal(together.paths[row], alone.paths[0])
    assert together.losses[0][-1] < 0.5 * together.losses[0][0]


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_a_direction_may_read_where_the_update_started(monkeypatch, backend):
    # The decay part −α_t λ x_{t−1} of the step: its direction g + λ x, read at the
    # point each update started from, times α_t is the step; the catalog names the term.
    monkeypatch.setitem(OPTIMIZERS, SHRINK.name, SHRINK)
    runs = [{"optimizer": "shrink", "params": {"alpha": 0.05, "weight_decay": 0.3}}]
    body = {"problem": {"name": "steep_valley", "noise": 0.2}, "steps": 25, "runs": runs}
    result = simulate(build_simulation({**body, "anatomy": True}), backend)
    path, anatomy = result.paths[0], result.anatomy[0]
    hyper = np.zeros((1, hyper_slots()))
    hyper[0, 0] = 0.3
    slots = np.zeros((1, 25, state_slots(), 2))
    arguments = (anatomy.grad[None], slots, slots[:, 0], 1, anatomy.alpha_t[None], hyper)
    direction = evaluate(SHRINK, "direction", *arguments, points=path[None, :-1])[0]
    np.testing.assert_allclose(direction, anatomy.grad + 0.3 * path[:-1], rtol=1e-14)
    np.testing.assert_allclose(np.diff(path, axis=0), -0.05 * direction, rtol=1e-12)
    with pytest.raises(ValueError, match="reads x: give the points"):
        evaluate(SHRINK, "direction", *arguments)
    info = anatomy_info(SHRINK)
    assert (
        info["decay_term"] == r"-\alpha_t \lambda\, x_{t-1}"
        and "<math" in info["decay_term_mathml"]
    )
    assert anatomy_info(OPTIMIZERS["adagrad"])["decay_term"] is None


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_a_rule_may_call_a_helper_of_its_module(monkeypatch, backend):
    # The compiled backend compiles the helper too and hands it to the rule by name.
    monkeypatch.setitem(OPTIMIZERS, DAMPED.name, DAMPED)
    body = {"problem": {"name": "steep_valley"}, "steps": 20, "runs": [{"optimizer": "damped"}]}
    result = simulate(build_simulation({**body, "anatomy": True}), backend)
    x = [-4.5, 1.5]
    expected = [tuple(x)]
    for t in range(1, 21):
        rate = 0.1 / (1 + t / 10)
        x = [x[0] - rate * 0.2 * x[0], x[1] - rate * 4.0 * x[1]]
        expected.append(tuple(x))
    np.testing.assert_allclose(result.paths[0], expected, rtol=1e-13)
    rates = [0.1 / (1 + t / 10) for t in range(1, 21)]
    np.testing.assert_allclose(result.anatomy[0].effective_lr[:, 0], rates, rtol=1e-13)


# -- the registry check ------------------------------------------------------------------


MOMENTUM_PARAMS = (params.alpha(0.01), params.BETA)


def momentumish(x, g, velocity, t, lr, beta):
    return x - lr * velocity, beta * velocity + g


def along_velocity(g, velocity, t, lr):
    return velocity


def along_gradient(g, t, lr):
    return g


def plain_rate(g, t, lr):
    return lr


def _spec(
    update,
    params_=MOMENTUM_PARAMS,
    lookahead=None,
    symbols=None,
    direction=along_velocity,
    effective_lr=plain_rate,
):
    return OptimizerSpec(
        name="broken",
        label="Broken",
        params=params_,
        update=update,
        lookahead=lookahead,
        symbols={"velocity": "v"} if symbols is None else symbols,
        direction=direction,
        effective_lr=effective_lr,
        direction_equation="v",
        effective_lr_equation=r"\alpha_t",
        equations=(),
        description="",
    )


def test_a_spec_whose_params_differ_from_its_signature_is_refused():
    def two_hypers(x, g, velocity, t, lr, beta, gamma):
        return x, velocity

    with pytest.raises(ValueError, match=r"takes \(beta, gamma\) after lr, but params after "
                       r"alpha are \(beta\)"):  # fmt: skip
        _spec(two_hypers)
    with pytest.raises(ValueError, match="must match in name and order"):
        _spec(momentumish, (params.alpha(0.01), params.GAMMA))
    with pytest.raises(ValueError, match="must include alpha"):
        _spec(momentumish, (params.BETA,))


@pytest.mark.parametrize(
    "update",
    [
        lambda x, g, velocity, lr, t, beta: (x, velocity),  # lr before t
        lambda x, velocity, g, t, lr, beta: (x, velocity),  # g not second
        lambda x, g, *state, t, lr, beta: (x, *state),  # no fixed state
        lambda x, g, velocity, t, lr, beta=0.9: (x, velocity),  # a default
    ],
)
def test_an_update_not_of_the_documented_form_is_refused(update):
    with pytest.raises(ValueError, match=r"update\(x, g, \*state, t, lr, \*hyper\)"):
        _spec(update)


def test_a_lookahead_that_reads_what_the_rule_lacks_is_refused():
    def peeks_at_gamma(x, velocity, t, lr, gamma):
        return x

    with pytest.raises(ValueError, match="reads gamma"):
        _spec(momentumish, lookahead=peeks_at_gamma)


def test_an_anatomy_that_reads_what_the_rule_lacks_is_refused():
    def by_gamma(g, velocity, t, lr, gamma):
        return lr * gamma

    def before_nothing(g, prev_average, t, lr):
        return g

    with pytest.raises(ValueError, match="by_gamma reads gamma, which momentumish does not"):
        _spec(momentumish, effective_lr=by_gamma)
    with pytest.raises(ValueError, match="reads prev_average"):
        _spec(momentumish, direction=before_nothing)
    with pytest.raises(ValueError, match=r"effective_lr\(g, \*state, t, lr, \*hyper\)"):
        _spec(momentumish, effective_lr=lambda velocity, t, lr: lr)


def test_only_a_direction_reads_the_position_and_a_decay_term_needs_a_weight_decay():
    def by_position(g, x, t, lr):
        return lr * x

    with pytest.raises(ValueError, match="by_position reads x, which momentumish does not"):
        _spec(momentumish, effective_lr=by_position)
    _spec(momentumish, direction=lambda g, x, velocity, t, lr: velocity)  # accepted
    with pytest.raises(ValueError, match="λ the rule's weight_decay, which momentumish"):
        dataclasses.replace(_spec(momentumish), decay_term=r"-\alpha_t \lambda x")


@pytest.mark.parametrize("symbols", [{}, {"velocity": "v", "speed": "s"}, {"speed": "v"}])
def test_symbols_must_name_each_state_once(symbols):
    with pytest.raises(ValueError, match="symbols must name each state of momentumish"):
        _spec(momentumish, symbols=symbols)


def test_the_compiled_backend_refuses_a_rule_it_cannot_import():
    def local_rule(x, g, velocity, t, lr, beta):
        return x, velocity

    with pytest.raises(ValueError, match="module-level functions"):
        kernel_source.render({**OPTIMIZERS, "broken": _spec(local_rule)}, PROBLEMS)


# -- the generated module ----------------------------------------------------------------


def test_editing_a_rule_names_a_new_kernel_module(tmp_path, monkeypatch):
    # numba checks a cached kernel against its own file only: the generated file's
    # name must change with the source of any rule it compiles.
    rule_file = tmp_path / "edited_rule.py"
    rule_file.write_text("def edited_update(x, g, t, lr):\n    return (x - lr * g,)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_rule")
    monkeypatch.setitem(sys.modules, "edited_rule", module)

    def digest():
        spec = _spec(
            module.edited_update, (params.alpha(0.01),), symbols={}, direction=along_gradient
        )
        source, modules = kernel_source.render({**OPTIMIZERS, "edited": spec}, PROBLEMS)
        return source, kernel_source.digest(source, modules)

    before_source, before = digest()
    rule_file.write_text("def edited_update(x, g, t, lr):\n    return (x - 2.0 * lr * g,)\n")
    importlib.reload(module)
    after_source, after = digest()
    assert after_source == before_source and after != before


def test_a_kernel_module_loaded_by_many_threads_at_once_is_whole_in_each(tmp_path, monkeypatch):
    """Requests that arrive together before warm-up all load the generated module; a
    thread must never get it half-run (its kernels not yet defined)."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(kernel_source, "kernel_dir", lambda: tmp_path)
    # A module whose body takes a while, as compiling decorators does.
    source = f"import time\ntime.sleep(0.3)\nfinished = {tmp_path.name!r}\n"
    try:
        with ThreadPoolExecutor(8) as pool:
            modules = list(pool.map(lambda _: kernel_source.load(source, []), range(8)))
        assert all(getattr(m, "finished", None) == tmp_path.name for m in modules)
    finally:
        sys.modules.pop(kernel_source.MODULE_PREFIX + kernel_source.digest(source, []), None)
