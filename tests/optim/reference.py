"""docs/API.md's update rules, line by line in plain Python floats, one coordinate at a time.

Independent of app.optim: no numpy, no shared helpers, no vectorisation. The
tests compare the engine's paths with these, and its anatomy (docs/API.md,
Anatomy: the gradient used, the look-ahead point, α_t, the state after each
update by its symbols, the effective learning rate) with ``reference_run``'s.
"""

from __future__ import annotations

import math


def _beta_t(t, beta, warmup):
    return 0.5 if t <= warmup else beta


# The symbols docs/API.md names each rule's state by, in the order of the slots
# ``state[0]``, ``state[1]``, ``state[2]`` below.
SYMBOLS = {
    "sgd": (),
    "momentum": ("v",),
    "nesterov": ("v",),
    "adagrad": ("G",),
    "rmsprop": ("s",),
    "adam": ("v", "s"),
    "amsgrad": ("v", "s", "m"),
    "adamax": ("v", "u"),
    "nadam": ("v", "s"),
    "adadelta": ("s", "d"),
    "adamw": ("v", "s"),
    "radam": ("v", "s"),
    "adabelief": ("v", "s"),
    "lion": ("v",),
}


def _sign(value):
    return 1.0 if value > 0 else -1.0 if value < 0 else 0.0


def reference_path(name, params, grad, start, steps, lr_of=None):
    """Positions after 0 … ``steps`` updates of optimiser ``name``.

    ``grad(x, y)`` returns the gradient (with any noise of update t already
    folded in by the caller through ``grad(x, y, t)`` if it takes three args).
    ``lr_of(t)`` gives α_t (defaults to the constant ``params["alpha"]``).
    """
    return reference_run(name, params, grad, start, steps, lr_of)[0]


def reference_run(name, params, grad, start, steps, lr_of=None):
    """``reference_path``'s positions, and every update's anatomy: a dict of lists,
    entry t − 1 for update t (``grad``, ``lookahead`` for Nesterov, ``alpha_t``,
    ``state`` by symbol, ``effective_lr``)."""
    p = dict(params)
    alpha = p["alpha"]
    lr_of = lr_of or (lambda t: alpha)
    x = list(start)
    state = [[0.0, 0.0] for _ in range(3)]
    path = [tuple(x)]
    anatomy = {"grad": [], "alpha_t": [], "effective_lr": [], "state": {}}
    anatomy["state"] = {symbol: [] for symbol in SYMBOLS[name]}
    if name == "nesterov":
        anatomy["lookahead"] = []
    for t in range(1, steps + 1):
        lr = lr_of(t)
        if name == "nesterov":
            b = _beta_t(t, p["beta"], p["beta_warmup_steps"])
            look = [x[i] - lr * b * state[0][i] for i in range(2)]
            g = grad(look[0], look[1], t)
            anatomy["lookahead"].append(tuple(look))
        else:
            g = grad(x[0], x[1], t)
        rate = [0.0, 0.0]
        for i in range(2):
            v, s, m = state[0][i], state[1][i], state[2][i]
            gi = g[i]
            if name in ("sgd", "momentum", "nesterov", "adam"):
                gi = gi + p["weight_decay"] * x[i]  # L2: the loss gains λ|x|²/2
            if name == "sgd":
                x[i] = x[i] - lr * gi
                rate[i] = lr
            elif name in ("momentum", "nesterov"):
                v = _beta_t(t, p["beta"], p["beta_warmup_steps"]) * v + gi
                x[i] = x[i] - lr * v
                rate[i] = lr
            elif name == "adagrad":
                v = v + gi**2
                x[i] = x[i] - lr * gi / math.sqrt(v + p["eps"])
                rate[i] = lr / math.sqrt(v + p["eps"])
            elif name == "rmsprop":
                v = p["gamma"] * v + (1 - p["gamma"]) * gi**2
                x[i] = x[i] - lr * gi / math.sqrt(v + p["eps"])
                rate[i] = lr / math.sqrt(v + p["eps"])
            elif name in ("adam", "amsgrad", "nadam"):
                b1, b2 = p["beta1"], p["beta2"]
                v = b1 * v + (1 - b1) * gi
                s = b2 * s + (1 - b2) * gi**2
                if name == "amsgrad":
                    m = max(m, s)
                    v_hat, s_hat = v / (1 - b1**t), m / (1 - b2**t)
                elif p.get("bias_correction", True):
                    v_hat, s_hat = v / (1 - b1**t), s / (1 - b2**t)
                else:
                    v_hat, s_hat = v, s
                if name == "nadam":
                    direction = b1 * v_hat + (1 - b1) * gi / (1 - b1**t)
                    x[i] = x[i] - lr * direction / math.sqrt(s_hat + p["eps"])
                else:
                    x[i] = x[i] - lr * v_hat / math.sqrt(s_hat + p["eps"])
                rate[i] = lr / math.sqrt(s_hat + p["eps"])
            elif name == "adamax":
                b1, b2 = p["beta1"], p["beta2"]
                v = b1 * v + (1 - b1) * gi
                s = max(b2 * s, abs(gi))
                x[i] = x[i] - (lr / (1 - b1**t)) * v / (s + p["eps"])
                rate[i] = lr / (s + p["eps"])
            elif name == "adamw":
                # torch.optim.AdamW: shrink x, then Adam's step with ε outside the root.
                b1, b2, lam = p["beta1"], p["beta2"], p["weight_decay"]
                v = b1 * v + (1 - b1) * gi
                s = b2 * s + (1 - b2) * gi**2
                denominator = math.sqrt(s / (1 - b2**t)) + p["eps"]
                x[i] = x[i] * (1 - lr * lam) - lr * (v / (1 - b1**t)) / denominator
                rate[i] = lr / denominator
            elif name == "radam":
                # torch.optim.RAdam: SGD with corrected momentum while ρ_t ≤ 5.
                b1, b2 = p["beta1"], p["beta2"]
                v = b1 * v + (1 - b1) * gi
                s = b2 * s + (1 - b2) * gi**2
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
                if rho_t > 5:
                    r = math.sqrt(
                        (rho_t - 4)
                        * (rho_t - 2)
                        * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                    )
                    rate[i] = lr * r * math.sqrt(1 - b2**t) / (math.sqrt(s) + p["eps"])
                else:
                    rate[i] = lr
                x[i] = x[i] - rate[i] * v / (1 - b1**t)
            elif name == "adabelief":
                # The paper's Algorithm 2: s tracks (g − v)², ε added to s and to √ŝ.
                b1, b2, eps = p["beta1"], p["beta2"], p["eps"]
                v = b1 * v + (1 - b1) * gi
                s = b2 * s + (1 - b2) * (gi - v) ** 2 + eps
                rate[i] = lr / (math.sqrt(s / (1 - b2**t)) + eps)
                x[i] = x[i] - rate[i] * v / (1 - b1**t)
            elif name == "lion":
                b1, b2 = p["beta1"], p["beta2"]
                c = b1 * v + (1 - b1) * gi
                x[i] = x[i] - lr * (_sign(c) + p["weight_decay"] * x[i])
                v = b2 * v + (1 - b2) * gi
                rate[i] = lr
            elif name == "adadelta":
                rho, eps = p["rho"], p["eps"]
                v = rho * v + (1 - rho) * gi**2
                rate[i] = lr * math.sqrt(s + eps) / math.sqrt(v + eps)  # d before the update
                delta = math.sqrt(s + eps) / math.sqrt(v + eps) * gi
                s = rho * s + (1 - rho) * delta**2
                x[i] = x[i] - lr * delta
            else:
                raise ValueError(name)
            state[0][i], state[1][i], state[2][i] = v, s, m
        path.append(tuple(x))
        anatomy["grad"].append(tuple(g))
        anatomy["alpha_t"].append(lr)
        anatomy["effective_lr"].append(tuple(rate))
        for slot, symbol in enumerate(SYMBOLS[name]):
            anatomy["state"][symbol].append(tuple(state[slot]))
    return path, anatomy


DEFAULTS = {
    "sgd": {"alpha": 0.01, "weight_decay": 0.0},
    "momentum": {"alpha": 0.01, "beta": 0.9, "beta_warmup_steps": 0, "weight_decay": 0.0},
    "nesterov": {"alpha": 0.01, "beta": 0.9, "beta_warmup_steps": 0, "weight_decay": 0.0},
    "adagrad": {"alpha": 0.1, "eps": 1e-8},
    "rmsprop": {"alpha": 0.01, "gamma": 0.9, "eps": 1e-8},
    "adam": {
        "alpha": 0.01,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "bias_correction": True,
        "weight_decay": 0.0,
    },
    "amsgrad": {"alpha": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adamax": {"alpha": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "nadam": {"alpha": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adadelta": {"alpha": 1.0, "rho": 0.9, "eps": 1e-6},
    "adamw": {"alpha": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
    "radam": {"alpha": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adabelief": {"alpha": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "lion": {"alpha": 0.01, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0},
}


def rosenbrock_grad(x, y, t=None):
    return (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x))


def steep_valley_grad(x, y, t=None):
    return (0.2 * x, 4 * y)
