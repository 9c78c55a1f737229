"""The story from gradient descent to Adam and its modern relatives, one preset scene per idea.

Each lesson is a scene (a body of ``POST /api/runs`` plus a playback speed)
with a short explanation, what to notice and something to try, and how the page
should show it: the run it is about (``focus``: selected, so drawn on top), the
loss chart's view (``view``: e.g. a log update axis) and the figures it quotes
marked where they happen (``marks``). Every claim a lesson makes is checked
against the engine by ``tests/test_lessons.py``: the numbers quoted in the text
and marked on the charts are the ones those tests measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mark:
    """A figure the lesson quotes, at the update of one run where it happens."""

    run: int
    t: int
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"run": self.run, "t": self.t, "text": self.text}


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    idea: str
    notice: str
    try_this: str
    scene: dict[str, Any]
    speed: int = 60
    highlights: tuple[str, ...] = field(default=())
    focus: int = 0  # the run the lesson is about: selected, drawn on top
    # The page's view fields the lesson sets, e.g. {"xlog": True} (static/js/state.js FIELDS).
    view: dict[str, Any] = field(default_factory=dict)
    marks: tuple[Mark, ...] = field(default=())

    def as_json(self, number: int) -> dict[str, Any]:
        return {
            "number": number,
            "slug": self.slug,
            "title": self.title,
            "idea": self.idea,
            "notice": self.notice,
            "try": self.try_this,
            "scene": self.scene,
            "speed": self.speed,
            "highlights": list(self.highlights),
            "focus": self.focus,
            "view": self.view,
            "marks": [mark.as_json() for mark in self.marks],
        }


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        slug="batch-size",
        title="Batch, mini-batch and stochastic gradient descent",
        idea=(
            "Fitting a line to 200 noisy points, the full-batch gradient averages all 200 "
            "samples, a mini-batch 16 and stochastic gradient descent just one. Each update of "
            "SGD is 200 times cheaper and 200 times noisier; in one pass over the data it makes "
            "200 updates where full batch makes one."
        ),
        notice=(
            "After one epoch (1, 13 and 200 updates) SGD is already near the best fit while "
            "full batch has barely moved; at the end, full batch sits still on the minimum and "
            "SGD keeps jittering around it."
        ),
        try_this=(
            "Raise the learning rate of the SGD run: it reaches the bottom sooner but jitters "
            "more. Lower the noise of the data and the jitter shrinks. Select a run and scrub "
            "with the arrows (Anatomy) on: every mini-batch's gradient of that epoch scatters "
            "around the full one (dashed); at the start, single samples scatter 5.3 times "
            "wider than mini-batches of 16."
        ),
        scene={
            "problem": {"name": "linear_regression", "n_samples": 200, "noise": 0.5},
            "steps": 600,
            "seed": 0,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": 0.05}, "batch_size": 200},
                {"optimizer": "sgd", "params": {"alpha": 0.05}, "batch_size": 16},
                {"optimizer": "sgd", "params": {"alpha": 0.05}, "batch_size": 1},
            ],
        },
        speed=120,
        highlights=("batch_size",),
        # Epochs run to 3 (batch 1) and to 600 (full batch): a log axis shows the first and last.
        view={"lossx": "epochs", "xlog": True, "anatomy": True},
        marks=(Mark(0, 1, "1 epoch"), Mark(1, 13, "1 epoch"), Mark(2, 200, "1 epoch")),
    ),
    Lesson(
        slug="sgd-noise",
        title="The noise of SGD helps and hurts",
        idea=(
            "Noisy gradients are what minibatches give us. A large learning rate races down "
            "the bowl but then rattles around the bottom, a small one is calm but slow. "
            "Decaying the rate gets both: big steps early, small steps late."
        ),
        notice=(
            "By update 50 the large rate is close to the bottom while the small one is far "
            "away; over the last 200 updates the large constant rate's loss is about ten "
            "times the decayed one's."
        ),
        try_this="Change the noise σ of the bowl, or the decay k, and watch the late jitter.",
        marks=(Mark(0, 50, "t=50"), Mark(1, 50, "t=50")),
        scene={
            "problem": {"name": "noisy_bowl", "noise": 1.0},
            "steps": 1000,
            "seed": 0,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": 0.01}},
                {"optimizer": "sgd", "params": {"alpha": 0.1}},
                {
                    "optimizer": "sgd",
                    "params": {"alpha": 0.1},
                    "schedule": {"name": "inverse_time", "k": 0.02},
                },
            ],
        },
        speed=120,
        highlights=("schedule",),
        focus=2,
    ),
    Lesson(
        slug="momentum",
        title="Momentum in a steep valley",
        idea=(
            "The valley is twenty times steeper across than along. Gradient descent with a "
            "rate large enough to move along it bounces from wall to wall. Momentum keeps an "
            "exponentially weighted sum of past gradients: the bounces cancel, the pushes "
            "along the valley add up."
        ),
        notice=(
            "SGD zig-zags and needs 77 updates to converge (the ✓ in the legend: from there on "
            "the loss stays within 10⁻⁶ of the minimum); momentum with β = 0.5 needs 25. With "
            "β = 0.9 it overshoots the bottom and swings from one side of the valley to the "
            "other (147 updates); a warm-up with β = 0.5 for the first 25 updates tames it (33)."
        ),
        try_this=(
            "Drag β from 0 to 0.99 and watch the path go from zig-zag to a smooth roll to ever "
            "wider swings. Scrub β = 0.5 with the arrows on: along the valley its velocity "
            "term points with the gradient term at every update after the first (by update 10 "
            "v is 2.8 times the gradient); across it, it points against it in 21 of the first "
            "29 updates, and after 10 updates |v| across is 1 % of the |g| that went into it."
        ),
        scene={
            "problem": {"name": "steep_valley"},
            "steps": 150,
            "seed": 0,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": 0.45}},
                {"optimizer": "momentum", "params": {"alpha": 0.45, "beta": 0.5}},
                {"optimizer": "momentum", "params": {"alpha": 0.45, "beta": 0.9}},
                {
                    "optimizer": "momentum",
                    "params": {"alpha": 0.45, "beta": 0.9, "beta_warmup_steps": 25},
                },
            ],
        },
        speed=20,
        highlights=("beta", "beta_warmup_steps"),
        focus=1,  # β = 0.5: the warm-up run follows it for 25 updates, drawn around it
        view={"anatomy": True},
    ),
    Lesson(
        slug="nesterov",
        title="Nesterov's look-ahead",
        idea=(
            "Classical momentum takes the gradient where it is, then lets the velocity carry "
            "it on. Nesterov first looks where the velocity is about to carry it and takes the "
            "gradient there, so it starts braking before it overshoots."
        ),
        notice=(
            "With the same α = 0.1 and β = 0.9, momentum swings across the valley almost as "
            "far as it started (|y| up to 1.2) and needs 59 updates to reach a loss of 0.001; "
            "Nesterov's swings are a third as wide (0.39) and it needs 15. To converge fully "
            "(the ✓ in the legend) they need 148 and 107."
        ),
        try_this=(
            "Raise β towards 0.99: both oscillate more, but Nesterov stays calmer. Scrub "
            "Nesterov to update 3 with the arrows on: its look-ahead point (◇) is already 0.4 "
            "below the valley floor while the point is 0.22 above it, so −α g taken there "
            "points back up (g_y is −1.6): it brakes before the overshoot."
        ),
        marks=(Mark(0, 59, "t=59"), Mark(1, 15, "t=15")),
        scene={
            "problem": {"name": "steep_valley"},
            "steps": 200,
            "seed": 0,
            "runs": [
                {"optimizer": "momentum", "params": {"alpha": 0.1, "beta": 0.9}},
                {"optimizer": "nesterov", "params": {"alpha": 0.1, "beta": 0.9}},
            ],
        },
        speed=20,
        highlights=("beta",),
        focus=1,
        view={"anatomy": True},
    ),
    Lesson(
        slug="decay",
        title="Learning-rate decay: step, exponential, inverse time",
        idea=(
            "A schedule shrinks the learning rate as training goes on: step decay halves it "
            "every so often, exponential decay multiplies it by e^(−k) each epoch, inverse-time "
            "decay divides it by 1 + k·e. On noisy gradients, the shrinking steps average the "
            "noise away."
        ),
        notice=(
            "All three decayed runs end with a loss several times lower than the constant "
            "rate's, which keeps bouncing. The α(t) chart shows how differently they get there."
        ),
        try_this=(
            "Make the step decay cut more often, or raise k, and see when the rate dies "
            "before the run reaches the bottom."
        ),
        scene={
            "problem": {"name": "noisy_bowl", "noise": 1.0},
            "steps": 1000,
            "seed": 0,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": 0.1}},
                {
                    "optimizer": "sgd",
                    "params": {"alpha": 0.1},
                    "schedule": {"name": "step", "every": 100, "factor": 0.5},
                },
                {
                    "optimizer": "sgd",
                    "params": {"alpha": 0.1},
                    "schedule": {"name": "exponential", "k": 0.01},
                },
                {
                    "optimizer": "sgd",
                    "params": {"alpha": 0.1},
                    "schedule": {"name": "inverse_time", "k": 0.02},
                },
            ],
        },
        speed=120,
        highlights=("schedule",),
        focus=3,  # the decayed runs over the constant rate's wider cloud
    ),
    Lesson(
        slug="adagrad-rmsprop",
        title="Adagrad's rate dies away; RMSProp keeps it alive",
        idea=(
            "Adagrad divides each coordinate's step by the root of the sum of all its past "
            "squared gradients. The steep early gradients never leave that sum, so the rate "
            "only falls. RMSProp uses a moving average instead, which forgets them."
        ),
        notice=(
            "Same α = 0.1: on the Rate chart, from update 100 on, Adagrad's effective rate "
            "α/√G is less than a hundredth of RMSProp's in both coordinates, and it is still "
            "far from the bottom after "
            "1 000 updates; RMSProp reaches the bottom in 70 (a loss below 10⁻⁶). But RMSProp's "
            "rate never dies, even there: it climbs back out and hops across the valley floor "
            "for good (loss 0.005), so it never earns the ✓."
        ),
        try_this=(
            "Raise Adagrad's α to 1: now it converges, in 53 updates. Adagrad works when its "
            "α is tuned to the problem. Give RMSProp an exponential decay (k = 0.01) and it "
            "settles on the bottom for good (✓ 418)."
        ),
        scene={
            "problem": {"name": "steep_valley"},
            "steps": 1000,
            "seed": 0,
            "runs": [
                {"optimizer": "adagrad", "params": {"alpha": 0.1}},
                {"optimizer": "rmsprop", "params": {"alpha": 0.1}},
            ],
        },
        speed=60,
        highlights=("gamma",),
        focus=1,
        view={"chart": "rate"},
        marks=(Mark(1, 70, "t=70: loss < 10⁻⁶"),),
    ),
    Lesson(
        slug="adam",
        title="Adam = momentum + RMSProp, and bias correction",
        idea=(
            "Adam keeps momentum's moving average of gradients and RMSProp's moving average of "
            "squared gradients. Both start at zero, so early on they are too small; dividing by "
            "1 − βᵗ corrects that. Without the correction the two biases do not cancel: the "
            "first step is (1 − β1)/√(1 − β2) ≈ 3.2 times longer."
        ),
        notice=(
            "Adam without bias correction jumps 3.2 times further on its first step; with "
            "it, the first step is α in each coordinate, whatever the gradient's size. On the "
            "Rate chart the uncorrected effective rate starts 31.6 times higher (1/√(1 − β2): "
            "s is still (1 − β2) g²), its direction v only (1 − β1) g; at t = 10 the rate is "
            "still 12.6 to 14.5 times higher."
        ),
        try_this="Set β2 to 0.99 and compare the first steps again: the ratio becomes 1.0.",
        scene={
            "problem": {"name": "steep_valley"},
            "steps": 300,
            "seed": 0,
            "runs": [
                {"optimizer": "momentum", "params": {"alpha": 0.04, "beta": 0.9}},
                {"optimizer": "rmsprop", "params": {"alpha": 0.1}},
                {"optimizer": "adam", "params": {"alpha": 0.1}},
                {"optimizer": "adam", "params": {"alpha": 0.1, "bias_correction": False}},
            ],
        },
        speed=30,
        highlights=("bias_correction", "beta1", "beta2"),
        focus=3,
        view={"chart": "rate"},
        marks=(Mark(2, 1, "first step"), Mark(3, 1, "first step")),
    ),
    Lesson(
        slug="saddle",
        title="Escaping a saddle",
        idea=(
            "At a saddle the gradient is zero, and near it tiny: plain gradient descent "
            "lingers. Momentum builds up speed as it leaves; adaptive methods divide the tiny "
            "gradient by its own size and leave at full speed."
        ),
        notice=(
            "Starting 0.01 off the ridge, SGD needs 83 updates to get half-way to a minimum "
            "(|y| > 0.5), momentum 24, Adam 11 and RMSProp 4."
        ),
        try_this=(
            "Add gradient noise σ = 0.3: the noise kicks SGD off the saddle sooner (59 updates)."
        ),
        scene={
            "problem": {"name": "saddle"},
            "steps": 400,
            "seed": 0,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": 0.05}},
                {"optimizer": "momentum", "params": {"alpha": 0.05}},
                {"optimizer": "adam", "params": {"alpha": 0.05}},
                {"optimizer": "rmsprop", "params": {"alpha": 0.05}},
            ],
        },
        speed=30,
        # Escapes at 4 … 83 updates of 400: a log axis spreads them out.
        view={"xlog": True},
        marks=(
            Mark(0, 83, "t=83"),
            Mark(1, 24, "t=24"),
            Mark(2, 11, "t=11"),
            Mark(3, 4, "t=4"),
        ),
    ),
    Lesson(
        slug="zoo",
        title="The zoo: AdaDelta, Nadam, AdaMax and AMSGrad against Adam",
        idea=(
            "Adam's relatives change one piece each: AdaDelta needs no learning rate, Nadam "
            "adds Nesterov's look-ahead, AdaMax uses the largest recent gradient instead of the "
            "root mean square, AMSGrad never lets its denominator shrink."
        ),
        notice=(
            "Along Rosenbrock's curved valley with α = 0.02, Nadam reaches the minimum first "
            "(a loss below 10⁻⁶ at update 1 906), but its look-ahead carries it off again: "
            "the loss is back up to 0.1 at update 2 589, so no ✓. Adam arrives later and stays "
            "(✓ 2 286); AMSGrad and AdaMax are still creeping along the valley, and AdaDelta is "
            "slowest of all."
        ),
        try_this=(
            "Switch to Himmelblau: Adam, Nadam, AdaMax and AMSGrad converge by update 327. "
            "AdaDelta reaches a minimum at update 376 but drifts off it, its loss climbing "
            "back to 0.05."
        ),
        scene={
            "problem": {"name": "rosenbrock"},
            "steps": 3000,
            "seed": 0,
            "runs": [
                {"optimizer": "adam", "params": {"alpha": 0.02}},
                {"optimizer": "adadelta"},
                {"optimizer": "nadam", "params": {"alpha": 0.02}},
                {"optimizer": "adamax", "params": {"alpha": 0.02}},
                {"optimizer": "amsgrad", "params": {"alpha": 0.02}},
            ],
        },
        speed=240,
        focus=2,  # Nadam: first to the minimum, and first to leave it
        marks=(Mark(2, 1906, "t=1 906: loss < 10⁻⁶"), Mark(2, 2589, "t=2 589: back up to 0.1")),
    ),
    Lesson(
        slug="plateau",
        title="Your own surface: a well in a flat plain",
        idea=(
            "Any formula in x and y can be a surface: pick “Your own f(x, y)” and type one. "
            "This one is a well in a flat plain. Where the runs start the slope is 4·10⁻⁶, "
            "and a gradient step is the slope times α: gradient descent barely moves. "
            "Adam divides the slope by its own size, so its steps stay about α long wherever "
            "it is."
        ),
        notice=(
            "In 400 updates SGD moves 0.00016 and momentum ten times as far, 0.0015, while Adam "
            "crosses the plain: its loss is below −0.99 by update 174. SGD and momentum are "
            "marked ✓ from the start: on a typed formula converged means the gradient stayed "
            "below 1.4·10⁻³, and on a plateau it does. The gradient cannot tell a plain from a "
            "bottom."
        ),
        try_this=(
            "Widen the well: divide by 20 instead of 2. The plain now slopes gently all the "
            "way: momentum is first down (loss below −0.99 at update 40) and even SGD gets "
            "there, at update 353."
        ),
        scene={
            "problem": {
                "name": "custom",
                "expression": "-exp(-((x - 1)^2 + (y - 1)^2)/2)",
                "start": [-3.0, -2.5],
            },
            "steps": 400,
            "seed": 0,
            "runs": [
                {"optimizer": "sgd", "params": {"alpha": 0.1}},
                {"optimizer": "momentum", "params": {"alpha": 0.1, "beta": 0.9}},
                {"optimizer": "adam", "params": {"alpha": 0.05}},
            ],
        },
        speed=60,
        highlights=("expression",),
        focus=2,  # Adam: the one that crosses the plain
        marks=(Mark(2, 174, "t=174: loss < −0.99"),),
    ),
    Lesson(
        slug="weight-decay",
        title="Weight decay is not L2 for Adam",
        idea=(
            "Weight decay pulls x towards 0 every update. As L2 (Adam's weight_decay) it is "
            "added to the gradient, so Adam settles where the gradient and λx cancel: the "
            "minimum of f + λ|x|²/2. AdamW takes α_t λ x off x apart from the gradient, "
            "and Adam's step, about α whatever the slope, holds out against it."
        ),
        notice=(
            "f's minimum is at (4, 2), flat along x, steep along y. With λ = 0.1 Adam + L2 "
            "ends at (2, 1.905): halfway to 0 along the flat x, hardly moved along the steep "
            "y. AdamW ends at (3.74, 1.95), near the true minimum in both."
        ),
        try_this=(
            "Raise λ to 0.3 on both: Adam + L2 goes to (1, 1.739), AdamW only to (2.768, 1.795)."
        ),
        scene={
            "problem": {
                "name": "custom",
                "expression": "0.05*(x - 4)^2 + (y - 2)^2",
                "start": [-1.0, -1.0],
            },
            "steps": 1500,
            "seed": 0,
            "runs": [
                {"optimizer": "adam", "params": {"alpha": 0.05, "weight_decay": 0.1}},
                {"optimizer": "adamw", "params": {"alpha": 0.05, "weight_decay": 0.1}},
                {"optimizer": "adam", "params": {"alpha": 0.05}},
            ],
        },
        speed=240,
        highlights=("weight_decay",),
        focus=1,  # AdamW: the decay that is not divided away
        marks=(Mark(0, 1500, "Adam + L2: (2, 1.905)"), Mark(1, 1500, "AdamW: (3.74, 1.95)")),
    ),
    Lesson(
        slug="sign-descent",
        title="Sign descent: Lion against Adam",
        idea=(
            "Lion steps along the sign of a blend of its momentum and the gradient: every "
            "coordinate moves by exactly α, however steep or flat the surface. Adam's steps "
            "are about α at first, then shrink as the gradient falls below the root mean "
            "square it remembers."
        ),
        notice=(
            "With α = 0.02 every one of Lion's 400 steps is 0.02 in each coordinate. It reaches "
            "a loss below 10⁻³ at update 221, Adam not at all: its steps shrink on the way. "
            "But Lion cannot stop: its momentum carries it past the minimum, and it ends at a "
            "loss of 0.022, Adam's at 0.0045."
        ),
        try_this=(
            "Set Lion's β1 and β2 to 0: plain sign descent, x ← x − α sign(g). It hops between "
            "the minimum and (0.02, 0.02) for ever."
        ),
        scene={
            "problem": {"name": "steep_valley"},
            "steps": 400,
            "seed": 0,
            "runs": [
                {"optimizer": "lion", "params": {"alpha": 0.02}},
                {"optimizer": "adam", "params": {"alpha": 0.02}},
            ],
        },
        speed=60,
        highlights=("beta1", "beta2"),
        focus=0,
        marks=(Mark(0, 221, "t=221: loss < 10⁻³"),),
    ),
    Lesson(
        slug="warm-up",
        title="Warm-up: small steps while Adam learns the gradient's size",
        idea=(
            "Adam's first step is α in every coordinate, whatever the gradient: its first "
            "v̂/√ŝ is the gradient's sign. With a large α that first step can land far up a "
            "wall. A linear warm-up starts at α/W and reaches α at update W, while Adam's "
            "averages fill in."
        ),
        notice=(
            "With α = 0.5 on Rosenbrock, Adam's first step climbs the valley wall: the loss "
            "jumps from 12.5 to 229. With 50 updates of warm-up the loss never rises above "
            "where it started and is below 10⁻³ by update 259; without, it is still 0.064 at "
            "the end."
        ),
        try_this=(
            "Shorten the warm-up to 10 updates: a small overshoot again, to 13.5 at update 3."
        ),
        scene={
            "problem": {"name": "rosenbrock"},
            "steps": 300,
            "seed": 0,
            "runs": [
                {"optimizer": "adam", "params": {"alpha": 0.5}},
                {
                    "optimizer": "adam",
                    "params": {"alpha": 0.5},
                    "schedule": {"name": "constant", "warmup_steps": 50},
                },
            ],
        },
        speed=30,
        highlights=("warmup_steps",),
        focus=1,
        marks=(Mark(0, 1, "t=1: loss 229"), Mark(1, 259, "t=259: loss < 10⁻³")),
    ),
)

BY_SLUG = {lesson.slug: lesson for lesson in LESSONS}


def catalog() -> list[dict[str, Any]]:
    return [lesson.as_json(number) for number, lesson in enumerate(LESSONS, start=1)]
