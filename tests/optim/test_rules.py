"""Every update rule against docs/API.md's table computed independently, plus hand-worked steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.optim.registry import OPTIMIZERS
from tests.engine_helpers import assert_paths_close, path_of
from tests.optim.reference import DEFAULTS, reference_path, rosenbrock_grad, steep_valley_grad

BACKENDS = ("compiled", "numpy")

# Non-default settings exercise every hyper-parameter away from its default.
NON_DEFAULT = {
    "sgd": {"alpha": 0.0005, "weight_decay": 0.3},
    "momentum": {"alpha": 0.0004, "beta": 0.75, "beta_warmup_steps": 5, "weight_decay": 0.2},
    "nesterov": {"alpha": 0.0004, "beta": 0.95, "beta_warmup_steps": 3, "weight_decay": 0.5},
    "adagrad": {"alpha": 0.3, "eps": 1e-3},
    "rmsprop": {"alpha": 0.002, "gamma": 0.5, "eps": 1e-4},
    "adam": {
        "alpha": 0.05,
        "beta1": 0.7,
        "beta2": 0.99,
        "eps": 1e-6,
        "bias_correction": False,
        "weight_decay": 0.05,
    },
    "amsgrad": {"alpha": 0.05, "beta1": 0.5, "beta2": 0.9, "eps": 1e-6},
    "adamax": {"alpha": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-5},
    "nadam": {"alpha": 0.03, "beta1": 0.8, "beta2": 0.95, "eps": 1e-7},
    "adadelta": {"alpha": 0.5, "rho": 0.8, "eps": 1e-4},
    "adamw": {"alpha": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.2},
    # β2 = 0.9: ρ_∞ = 19, so the rectification starts at t = 6 of these 60 updates.
    "radam": {"alpha": 0.05, "beta1": 0.8, "beta2": 0.9, "eps": 1e-6},
    "adabelief": {"alpha": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6},
    "lion": {"alpha": 0.03, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.3},
}


def test_every_optimizer_has_a_reference():
    assert set(DEFAULTS) == set(OPTIMIZERS) == set(NON_DEFAULT)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(DEFAULTS))
def test_defaults_match_the_spec_on_rosenbrock(name, backend):
    # Rosenbrock's gradients span orders of magnitude; 40 steps stay finite for all.
    params = {**DEFAULTS[name], "alpha": min(DEFAULTS[name]["alpha"], 1e-4)}
    if name == "adadelta":
        params["alpha"] = 1.0
    actual = path_of("rosenbrock", name, params, steps=40, backend=backend)
    expected = reference_path(name, params, rosenbrock_grad, (-1.5, 2.0), 40)
    assert_paths_close(actual, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(NON_DEFAULT))
def test_non_default_settings_match_the_spec(name, backend):
    params = NON_DEFAULT[name]
    actual = path_of("steep_valley", name, params, steps=60, backend=backend)
    expected = reference_path(
        name, {**DEFAULTS[name], **params}, steep_valley_grad, (-4.5, 1.5), 60
    )
    assert_paths_close(actual, expected)


def test_every_rule_with_an_eps_says_where_it_sits():
    # Frameworks put ε in different places: the card's last lines say where this one does.
    for name, spec in OPTIMIZERS.items():
        if "eps" in spec.hyper_names:
            assert any(line.startswith(r"\varepsilon \text") for line in spec.equations), name


def test_defaults_are_the_spec_defaults():
    for name, spec in OPTIMIZERS.items():
        defaults = {p.name: p.default for p in spec.params}
        assert defaults == {k: float(v) for k, v in DEFAULTS[name].items()}, name


def test_sgd_first_steps_by_hand():
    path = path_of("steep_valley", "sgd", steps=2)
    # ∇f(-4.5, 1.5) = (0.2·-4.5, 4·1.5) = (-0.9, 6); x1 = x0 - 0.01·∇f
    assert path[1] == pytest.approx((-4.491, 1.44), rel=1e-15)
    # ∇f(x1) = (-0.8982, 5.76)
    assert path[2] == pytest.approx((-4.491 + 0.008982, 1.44 - 0.0576), rel=1e-15)


def test_momentum_second_step_by_hand():
    path = path_of("steep_valley", "momentum", steps=2)
    # v1 = g1 = (-0.9, 6); v2 = 0.9·v1 + g2 = (-0.81 - 0.8982, 5.4 + 5.76)
    assert path[2] == pytest.approx((-4.491 + 0.017082, 1.44 - 0.1116), rel=1e-14)


def test_momentum_warmup_uses_half_beta_then_beta():
    params = {"beta": 0.9, "beta_warmup_steps": 1}
    path = path_of("steep_valley", "momentum", params, steps=3)
    g1 = np.array([-0.9, 6.0])
    x1 = np.array([-4.5, 1.5]) - 0.01 * g1
    g2 = np.array([0.2 * x1[0], 4 * x1[1]])
    v2 = 0.9 * g1 + g2  # t = 2 > 1: β itself
    with_warm = path_of("steep_valley", "momentum", {"beta": 0.9, "beta_warmup_steps": 2}, steps=2)
    v2_warm = 0.5 * g1 + g2  # t = 2 ≤ 2: β = 0.5
    assert path[2] == pytest.approx(x1 - 0.01 * v2, rel=1e-14)
    assert with_warm[2] == pytest.approx(x1 - 0.01 * v2_warm, rel=1e-14)


def test_nesterov_takes_the_gradient_at_the_look_ahead_point():
    path = path_of("steep_valley", "nesterov", steps=2)
    v1 = np.array([-0.9, 6.0])
    x1 = np.array([-4.5, 1.5]) - 0.01 * v1
    look = x1 - 0.01 * 0.9 * v1
    v2 = 0.9 * v1 + np.array([0.2 * look[0], 4 * look[1]])
    assert path[2] == pytest.approx(x1 - 0.01 * v2, rel=1e-14)


def test_adam_first_step_is_alpha_in_every_coordinate():
    path = path_of("steep_valley", "adam", steps=1)
    # v̂ = g, ŝ = g²: the first step is α·g/√(g²+ε) ≈ α·sign(g)
    g = np.array([-0.9, 6.0])
    expected = np.array([-4.5, 1.5]) - 0.01 * g / np.sqrt(g * g + 1e-8)
    assert path[1] == pytest.approx(expected, rel=1e-15)


def test_adam_without_bias_correction_first_step_is_longer_by_the_predicted_factor():
    corrected = path_of("steep_valley", "adam", steps=1)
    raw = path_of("steep_valley", "adam", {"bias_correction": False}, steps=1)
    start = np.array([-4.5, 1.5])
    ratio = np.abs(raw[1] - start) / np.abs(corrected[1] - start)
    # (1-β1)/√(1-β2) ≈ 3.16 when ε is negligible against g²; with ε exactly:
    g = np.array([-0.9, 6.0])
    exact = (0.1 / np.sqrt(0.001 * g * g + 1e-8)) / (1 / np.sqrt(g * g + 1e-8))
    assert ratio == pytest.approx(exact, rel=1e-12)
    assert ratio == pytest.approx((1 - 0.9) / math.sqrt(1 - 0.999), rel=1e-5)


def test_sgd_with_weight_decay_first_steps_by_hand():
    # λ = 0.5: g1 = (-0.9, 6) + 0.5·(-4.5, 1.5) = (-3.15, 6.75); x1 = x0 − 0.01·g1
    path = path_of("steep_valley", "sgd", {"weight_decay": 0.5}, steps=2)
    assert path[1] == pytest.approx((-4.4685, 1.4325), rel=1e-15)
    # g2 = (0.2·-4.4685, 4·1.4325) + 0.5·x1 = (-0.8937 - 2.23425, 5.73 + 0.71625)
    assert path[2] == pytest.approx((-4.4685 + 0.0312795, 1.4325 - 0.0644625), rel=1e-14)


def test_adams_l2_decay_is_divided_like_the_gradient():
    # At the first update v̂ = G and ŝ = G², G = g + λx: the step is α·G/√(G² + ε) ≈
    # α·sign(G) in each coordinate, whatever λ: Adam divides the decay away with the
    # gradient. λ = 1: G = (−0.9 − 4.5, 6 + 1.5), the signs of g, so the same step.
    start = np.array([-4.5, 1.5])
    decayed = path_of("steep_valley", "adam", {"weight_decay": 1.0}, steps=1)
    G = np.array([-5.4, 7.5])
    assert decayed[1] == pytest.approx(start - 0.01 * G / np.sqrt(G * G + 1e-8), rel=1e-15)
    np.testing.assert_allclose(np.abs(decayed[1] - start), [0.01, 0.01], rtol=1e-9)


def test_adamax_first_step_is_alpha():
    path = path_of("steep_valley", "adamax", steps=1)
    # v = 0.1 g, u = |g|: step = α/(1-0.9) · 0.1 g / (|g| + ε) ≈ α·sign(g)
    assert path[1] == pytest.approx((-4.5 + 0.002, 1.5 - 0.002), rel=1e-7)


def test_adamw_first_step_by_hand():
    # v̂ = g, ŝ = g²: Adam's step α·g/(|g| + ε) ≈ α·sign(g), plus the decay −αλx0 that
    # nothing divides. λ = 0.5: −0.01·0.5·(−4.5, 1.5) = (0.0225, −0.0075).
    path = path_of("steep_valley", "adamw", {"weight_decay": 0.5}, steps=1)
    g = np.array([-0.9, 6.0])
    adam_step = -0.01 * g / (np.abs(g) + 1e-8)
    assert path[1] == pytest.approx(
        np.array([-4.5, 1.5]) + (0.0225, -0.0075) + adam_step, rel=1e-15
    )
    assert path[1] == pytest.approx((-4.5 + 0.0225 + 0.01, 1.5 - 0.0075 - 0.01), rel=1e-8)


def test_radam_steps_as_corrected_momentum_until_rho_exceeds_five():
    # β2 = 0.9: ρ_t = 1, 1.95, 2.86, 3.74, 4.58 for t ≤ 5, so x_t = x_{t−1} − α v̂_t there;
    # ρ_6 = 5.39 > 5 rectifies the sixth step.
    params = {"alpha": 0.05, "beta1": 0.8, "beta2": 0.9}
    path = path_of("steep_valley", "radam", params, steps=6)
    x, v = np.array([-4.5, 1.5]), np.zeros(2)
    s = np.zeros(2)
    for t in range(1, 6):
        g = np.array([0.2 * x[0], 4.0 * x[1]])
        v = 0.8 * v + 0.2 * g
        s = 0.9 * s + 0.1 * g * g
        x = x - 0.05 * v / (1 - 0.8**t)
        np.testing.assert_allclose(path[t], x, rtol=1e-14)
    g = np.array([0.2 * x[0], 4.0 * x[1]])
    v, s = 0.8 * v + 0.2 * g, 0.9 * s + 0.1 * g * g
    rho = 19 - 12 * 0.9**6 / (1 - 0.9**6)
    r = math.sqrt((rho - 4) * (rho - 2) * 19 / (15 * 17 * rho))
    rate = 0.05 * r * math.sqrt(1 - 0.9**6) / (np.sqrt(s) + 1e-8)
    np.testing.assert_allclose(path[6], x - rate * v / (1 - 0.8**6), rtol=1e-14)


def test_adabelief_first_step_is_long_where_the_gradient_is_what_it_expected():
    # t = 1: v = 0.1 g, so g − v = 0.9 g and s = 0.001·0.81 g² + ε; ŝ = 0.81 g² + 1000 ε:
    # the step is α·g/(0.9|g|) ≈ α/0.9 per coordinate, a ninth longer than Adam's.
    path = path_of("steep_valley", "adabelief", steps=1)
    g = np.array([-0.9, 6.0])
    s_hat = (0.001 * 0.81 * g * g + 1e-8) / 0.001
    assert path[1] == pytest.approx(
        np.array([-4.5, 1.5]) - 0.01 * g / (np.sqrt(s_hat) + 1e-8), rel=1e-15
    )
    # (ε under the root is 1e-5 of 0.81 g² here: ≈ α/0.9 to 1e-5)
    np.testing.assert_allclose(np.abs(path[1] - (-4.5, 1.5)), 0.01 / 0.9, rtol=1e-5)


def test_lion_moves_every_coordinate_by_exactly_alpha():
    # sign(c) is ±1 whatever the gradient's size: every step is α in each coordinate.
    path = path_of("steep_valley", "lion", steps=30)
    np.testing.assert_allclose(np.abs(np.diff(path, axis=0)), 0.01, rtol=1e-12)
    assert path[1] == pytest.approx((-4.49, 1.49), rel=1e-15)
