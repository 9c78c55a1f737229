"""Every lesson's claim is true in the app: its scene, run through the engine."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from app.cloud import build_cloud, cloud
from app.engine import build_simulation, simulate
from app.lessons import BY_SLUG, LESSONS, catalog


def play(slug, **problem_change):
    """The lesson's scene through the engine, with every update's anatomy (the arrows
    and the Rate chart the lessons point at: docs/API.md, Anatomy)."""
    scene = dict(BY_SLUG[slug].scene)
    if problem_change:
        scene["problem"] = {**scene["problem"], **problem_change}
    return simulate(build_simulation({**scene, "anatomy": True}))


def first_below(losses, threshold):
    hits = np.flatnonzero(losses < threshold)
    return int(hits[0]) if len(hits) else None


def marked(lesson_slug, *figures):
    """The lesson marks exactly these (run, update) pairs on the charts, in this order."""
    assert [(mark.run, mark.t) for mark in BY_SLUG[lesson_slug].marks] == list(figures)


def quoted(lesson_slug, *figures):
    """The lesson's text quotes exactly the figures the engine produces."""
    lesson = BY_SLUG[lesson_slug]
    text = " ".join([lesson.idea, lesson.notice, lesson.try_this]).replace("\u202f", " ")
    for figure in figures:
        assert f"{figure:,}".replace(",", " ") in text, (lesson_slug, figure)


def test_every_scene_is_a_valid_request_and_the_catalog_lists_them_in_order():
    for lesson in LESSONS:
        build_simulation(lesson.scene)
        runs = len(lesson.scene["runs"])
        assert 0 <= lesson.focus < runs, lesson.slug
        for mark in lesson.marks:
            assert 0 <= mark.run < runs and 0 <= mark.t <= lesson.scene["steps"], lesson.slug
    assert [entry["number"] for entry in catalog()] == list(range(1, len(LESSONS) + 1))
    assert len(LESSONS) >= 9


def test_1_per_epoch_small_batches_progress_more_but_jitter_more():
    result = play("batch-size")
    full, mini, single = result.losses
    updates_per_epoch = (1, math.ceil(200 / 16), 200)
    after_one_epoch = [loss[n] for loss, n in zip(result.losses, updates_per_epoch, strict=True)]
    marked("batch-size", *enumerate(updates_per_epoch))
    assert after_one_epoch[2] < after_one_epoch[1] < after_one_epoch[0]
    jitter = [np.std(np.diff(loss[-100:])) for loss in (full, mini, single)]
    assert jitter[0] < jitter[1] < jitter[2]
    assert result.converged_at[0] is not None  # full batch settles exactly on the best fit
    # The cloud (the arrows) at each run's start: the spread of a batch size's gradients
    # around the full one, weighted by each minibatch's size.
    scene = BY_SLUG["batch-size"].scene

    def spread(row):
        body = {"problem": scene["problem"], "seed": scene["seed"], "t": 1}
        body.update(batch_size=scene["runs"][row]["batch_size"], at=result.paths[row][0].tolist())
        answer = cloud(build_cloud(body))
        distances = ((answer["gradients"] - answer["full"]) ** 2).sum(axis=1)
        return math.sqrt((answer["sizes"] * distances).sum() / answer["sizes"].sum())

    assert spread(0) == 0  # one batch: the full one
    assert BY_SLUG["batch-size"].view["anatomy"] and BY_SLUG["batch-size"].focus == 0
    quoted("batch-size", round(spread(2) / spread(1), 1))


def test_2_a_large_rate_is_fast_but_noisy_and_decay_gets_both():
    small, large, decayed = play("sgd-noise").losses
    assert large[50] < small[50] / 10
    marked("sgd-noise", (0, 50), (1, 50))
    quoted("sgd-noise", 50)
    late = [loss[-200:].mean() for loss in (small, large, decayed)]
    assert late[1] > 5 * late[2]
    assert late[2] < late[0]


def test_3_momentum_rolls_where_sgd_zig_zags():
    result = play("momentum")
    sgd_path = result.paths[0]
    signs = np.sign(sgd_path[1:11, 1])
    assert np.all(signs[1:] != signs[:-1])  # SGD crosses the valley floor every update
    reach = result.converged_at
    assert reach[1] < reach[0] / 2  # β = 0.5 rolls down the valley
    assert reach[2] > reach[0]  # β = 0.9 overshoots and swings across the valley
    assert result.paths[2][:, 0].max() > 0.5  # ... past the bottom at x = 0
    assert reach[3] < reach[2] / 2  # warm-up tames it
    quoted("momentum", *reach)


def test_3_the_arrows_show_momentum_piling_up_along_the_valley_and_cancelling_across():
    result = play("momentum")
    assert BY_SLUG["momentum"].view["anatomy"] and BY_SLUG["momentum"].focus == 1
    anatomy = result.anatomy[1]  # β = 0.5
    v = anatomy.state["v"]
    before = np.vstack([np.zeros((1, 2)), v[:-1]])
    velocity_term = -anatomy.alpha_t[:, None] * 0.5 * before  # −α_t β_t v_{t−1}
    gradient_term = -anatomy.alpha_t[:, None] * anatomy.grad
    np.testing.assert_allclose(
        np.diff(result.paths[1], axis=0), velocity_term + gradient_term, rtol=1e-9, atol=1e-300
    )
    first = slice(1, 29)  # updates 2 … 29 (update 1 has no velocity yet)
    assert (np.sign(velocity_term[first, 0]) == np.sign(gradient_term[first, 0])).all()
    against = int((np.sign(velocity_term[:29, 1]) == -np.sign(gradient_term[:29, 1])).sum())
    piled = v[9, 0] / anatomy.grad[9, 0]
    left = abs(v[9, 1]) / np.abs(anatomy.grad[:10, 1]).sum()
    assert 0.005 < left < 0.015 and "is 1 % of the |g|" in BY_SLUG["momentum"].try_this
    quoted("momentum", against, 29, round(piled, 1))


def test_4_nesterov_brakes_before_it_overshoots():
    result = play("nesterov")
    momentum, nesterov = (first_below(loss, 1e-3) for loss in result.losses)
    assert nesterov < momentum / 2
    marked("nesterov", (0, momentum), (1, nesterov))
    # Swings across the steep direction, after the first update has left the start.
    swing = [np.abs(path[2:, 1]).max() for path in result.paths]
    assert swing[1] < swing[0] / 2
    quoted("nesterov", momentum, nesterov, round(swing[0], 1), round(swing[1], 2))
    assert result.converged_at[1] < result.converged_at[0]
    quoted("nesterov", *result.converged_at)


def test_4_nesterovs_look_ahead_point_crosses_the_floor_first_and_its_gradient_brakes():
    result = play("nesterov")
    assert BY_SLUG["nesterov"].view["anatomy"]
    path, anatomy = result.paths[1], result.anatomy[1]
    assert result.anatomy[0].lookahead is None  # momentum takes its gradient where it is
    across = [
        t for t in range(1, 60) if np.sign(anatomy.lookahead[t - 1, 1]) != np.sign(path[t - 1, 1])
    ]
    t = across[0]
    ahead, here, pull = anatomy.lookahead[t - 1, 1], path[t - 1, 1], anatomy.grad[t - 1, 1]
    assert ahead < 0 < here and pull < 0  # below the floor, so −α g points back up
    quoted("nesterov", t, round(-ahead, 1), round(here, 2), round(-pull, 1))


def test_4_try_a_larger_beta_both_swing_more_and_nesterov_stays_calmer():
    scene = copy.deepcopy(BY_SLUG["nesterov"].scene)
    for run in scene["runs"]:
        run["params"]["beta"] = 0.99
    default_swing = [np.abs(path[2:, 1]).max() for path in play("nesterov").paths]
    swing = [np.abs(path[2:, 1]).max() for path in simulate(build_simulation(scene)).paths]
    assert swing[0] > default_swing[0] and swing[1] > default_swing[1]
    assert swing[1] < swing[0] / 2


def test_5_every_decay_settles_lower_than_a_constant_rate():
    result = play("decay")
    late = [loss[-200:].mean() for loss in result.losses]
    for decayed in late[1:]:
        assert decayed < late[0] / 3


def test_6_adagrads_effective_rate_falls_below_a_hundredth_of_rmsprops():
    result = play("adagrad-rmsprop")
    assert BY_SLUG["adagrad-rmsprop"].view["chart"] == "rate"
    adagrad, rmsprop = (anatomy.effective_lr for anatomy in result.anatomy)
    ratio = adagrad[99:] / rmsprop[99:]  # updates 100 …, both coordinates
    assert ratio.max() < 0.01
    assert "less than a hundredth" in BY_SLUG["adagrad-rmsprop"].notice
    assert result.converged_at == [None, None]
    # RMSProp touches the bottom, then hops across the floor for the rest of the run.
    arrived = first_below(result.losses[1], 1e-6)
    hopping = result.losses[1][-300:]
    assert hopping.min() > 1e3 * 1e-6
    quoted("adagrad-rmsprop", arrived, round(hopping.mean(), 3))
    marked("adagrad-rmsprop", (1, arrived))
    assert first_below(result.losses[0], 1e-2) is None  # Adagrad: still far from the bottom
    scene = copy.deepcopy(BY_SLUG["adagrad-rmsprop"].scene)
    scene["runs"][0]["params"]["alpha"] = 1.0
    scene["runs"][1]["schedule"] = {"name": "exponential", "k": 0.01}
    tuned = simulate(build_simulation(scene))
    assert None not in tuned.converged_at
    quoted("adagrad-rmsprop", *tuned.converged_at)


def test_7_without_bias_correction_the_first_step_is_longer_by_the_predicted_factor():
    result = play("adam")
    corrected, raw = result.paths[2], result.paths[3]
    ratio = np.abs(raw[1] - raw[0]) / np.abs(corrected[1] - corrected[0])
    assert ratio == pytest.approx((1 - 0.9) / math.sqrt(1 - 0.999), rel=1e-4)
    assert np.abs(corrected[1] - corrected[0]) == pytest.approx([0.1, 0.1], rel=1e-6)
    marked("adam", (2, 1), (3, 1))  # the first steps, side by side
    # The Rate chart: the uncorrected rate starts 1/√(1 − β2) higher, still > 12× at t = 10.
    assert BY_SLUG["adam"].view["chart"] == "rate"
    rates = result.anatomy[3].effective_lr / result.anatomy[2].effective_lr
    np.testing.assert_allclose(rates[0], 1 / math.sqrt(1 - 0.999), rtol=1e-4)
    quoted("adam", round(rates[0, 0], 1), round(rates[9].min(), 1), round(rates[9].max(), 1))
    raw = result.anatomy[3]
    np.testing.assert_allclose(raw.state["v"][0], (1 - 0.9) * raw.grad[0])  # v = (1 − β1) g
    # The "try": with β2 = 0.99 the two biases cancel and the first steps agree.
    scene = copy.deepcopy(BY_SLUG["adam"].scene)
    for run in scene["runs"][2:]:
        run["params"]["beta2"] = 0.99
    corrected, raw = simulate(build_simulation(scene)).paths[2:]
    ratio = np.abs(raw[1] - raw[0]) / np.abs(corrected[1] - corrected[0])
    assert ratio == pytest.approx([1.0, 1.0], rel=1e-4)


def test_8_adaptive_methods_leave_the_saddle_first_and_noise_helps_sgd():
    result = play("saddle")
    escape = [int(np.argmax(np.abs(path[:, 1]) > 0.5)) for path in result.paths]
    sgd, momentum, adam, rmsprop = escape
    assert rmsprop < adam < momentum < sgd
    noisy = play("saddle", noise=0.3)
    noisy_sgd = int(np.argmax(np.abs(noisy.paths[0][:, 1]) > 0.5))
    assert noisy_sgd < sgd
    quoted("saddle", *escape, noisy_sgd)
    marked("saddle", *enumerate(escape))


def test_9_the_zoo_on_rosenbrock():
    result = play("zoo")
    adam, adadelta, nadam, adamax, amsgrad = result.converged_at
    assert adam is not None and [adadelta, nadam, adamax, amsgrad] == [None] * 4
    # Nadam gets there first, then overshoots: the highest loss after its arrival.
    nadam_loss = result.losses[2]
    arrived = first_below(nadam_loss, 1e-6)
    assert arrived < adam
    peak = arrived + int(np.argmax(nadam_loss[arrived:]))
    assert nadam_loss[peak] > 1e4 * 1e-6
    quoted("zoo", arrived, peak, round(nadam_loss[peak], 1))
    marked("zoo", (2, arrived), (2, peak))
    final = dict(
        zip(
            ("adam", "adadelta", "nadam", "adamax", "amsgrad"),
            (loss[-1] for loss in result.losses),
            strict=True,
        )
    )
    assert max(final, key=final.get) == "adadelta"
    start_loss = result.losses[0][0]
    assert all(value < start_loss / 10 for value in final.values())
    quoted("zoo", adam)
    himmelblau = simulate(
        build_simulation({**BY_SLUG["zoo"].scene, "problem": {"name": "himmelblau"}})
    )
    adam, adadelta, nadam, adamax, amsgrad = himmelblau.converged_at
    assert adadelta is None and None not in (adam, nadam, adamax, amsgrad)
    quoted("zoo", max(adam, nadam, adamax, amsgrad))
    # AdaDelta touches a minimum, then drifts off it: its last loss is orders above.
    adadelta_loss = himmelblau.losses[1]
    arrived = first_below(adadelta_loss, 1e-6)
    assert adadelta_loss[-1] > 1e4 * adadelta_loss[arrived:].min()
    quoted("zoo", arrived, round(adadelta_loss[-1], 2))


def test_10_on_a_plateau_only_steps_that_do_not_scale_with_the_slope_cross_it():
    result = play("plateau")
    moved = [float(np.hypot(*(path[-1] - path[0]))) for path in result.paths]
    sgd, momentum, adam = moved
    # The slope where the runs start, by hand: 4·10⁻⁶.
    x, y = -3.0, -2.5
    slope = math.hypot(x - 1, y - 1) * math.exp(-((x - 1) ** 2 + (y - 1) ** 2) / 2)
    assert round(slope, 6) == 4e-6
    assert momentum == pytest.approx(10 * sgd, rel=0.05)  # 1/(1 − β) times as far
    crossed = first_below(result.losses[2], -0.99)
    assert adam == pytest.approx(math.hypot(4.0, 3.5), rel=1e-3)  # all the way to (1, 1)
    # Converged by the gradient rule: SGD and momentum from the start, Adam at the bottom.
    assert result.converged_at[:2] == [0, 0] and result.converged_at[2] > crossed
    quoted("plateau", round(sgd, 5), round(momentum, 4), crossed)
    assert "the slope is 4·10⁻⁶" in BY_SLUG["plateau"].idea
    marked("plateau", (2, crossed))
    wider = play("plateau", expression="-exp(-((x - 1)^2 + (y - 1)^2)/20)")
    arrivals = [first_below(loss, -0.99) for loss in wider.losses]
    assert arrivals[1] == min(arrivals)
    quoted("plateau", arrivals[1], arrivals[0])


def test_11_adam_with_l2_settles_at_the_regularised_minimum_and_adamw_near_the_true_one():
    result = play("weight-decay")
    l2, decoupled, plain = (path[-1] for path in result.paths)
    # f + λ|x|²/2 with f = 0.05 (x − 4)² + (y − 2)², λ = 0.1, by hand: 0.1 (x − 4) + 0.1 x = 0
    # and 2 (y − 2) + 0.1 y = 0.
    np.testing.assert_allclose(l2, (2.0, 4 / 2.1), atol=1e-6)
    np.testing.assert_allclose(plain, (4.0, 2.0), atol=1e-6)
    assert 3.5 < decoupled[0] < 4.0 and 1.9 < decoupled[1] < 2.0
    quoted("weight-decay", round(float(l2[1]), 3), round(float(decoupled[0]), 2))
    quoted("weight-decay", round(float(decoupled[1]), 2))
    marked("weight-decay", (0, 1500), (1, 1500))
    heavier = copy.deepcopy(BY_SLUG["weight-decay"].scene)
    for run in heavier["runs"][:2]:
        run["params"]["weight_decay"] = 0.3
    l2, decoupled, _ = (path[-1] for path in simulate(build_simulation(heavier)).paths)
    np.testing.assert_allclose(l2, (1.0, 4 / 2.3), atol=1e-6)
    quoted("weight-decay", round(float(l2[1]), 3), round(float(decoupled[0]), 3))
    quoted("weight-decay", round(float(decoupled[1]), 3))


def test_12_lions_steps_are_all_alpha_and_it_arrives_first_but_cannot_stop():
    result = play("sign-descent")
    lion, adam = result.paths
    np.testing.assert_allclose(np.abs(np.diff(lion, axis=0)), 0.02, rtol=1e-12)
    assert np.abs(np.diff(adam, axis=0)).min() < 1e-6  # Adam's steps shrink
    arrived = first_below(result.losses[0], 1e-3)
    assert first_below(result.losses[1], 1e-3) is None
    lion_end, adam_end = (float(loss[-1]) for loss in result.losses)
    assert lion_end > adam_end
    quoted("sign-descent", arrived, round(lion_end, 3), round(adam_end, 4))
    marked("sign-descent", (0, arrived))
    scene = copy.deepcopy(BY_SLUG["sign-descent"].scene)
    scene["runs"][0]["params"].update(beta1=0.0, beta2=0.0)
    sign = simulate(build_simulation(scene)).paths[0]
    ends = {tuple(np.round(point, 9) + 0.0) for point in sign[-50:]}
    assert ends == {(0.0, 0.0), (0.02, 0.02)}


def test_13_adam_overshoots_without_warm_up_and_not_with_it():
    result = play("warm-up")
    cold, warm = result.losses
    start = float(cold[0])
    peak = int(np.argmax(cold))
    assert cold[peak] > 10 * start and warm.max() == start  # warm never rises above its start
    arrived = first_below(warm, 1e-3)
    assert first_below(cold, 1e-3) is None
    quoted("warm-up", start, round(float(cold[peak])), arrived, round(float(cold[-1]), 3))
    marked("warm-up", (0, peak), (1, arrived))
    shorter = copy.deepcopy(BY_SLUG["warm-up"].scene)
    shorter["runs"][1]["schedule"]["warmup_steps"] = 10
    loss = simulate(build_simulation(shorter)).losses[1]
    assert loss.max() > start
    quoted("warm-up", round(float(loss.max()), 1), int(np.argmax(loss)))
