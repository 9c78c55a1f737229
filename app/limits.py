"""Every limit of the service, and the request defaults that go with them: one place.

The engine, the request schemas, the sweeps, the settings and the catalog
(``GET /api/catalog``'s ``limits``, which the page reads) all take them from
here, so a limit changed here changes everywhere (docs/API.md states them).
"""

from __future__ import annotations

# -- runs: POST /api/runs and a stream `run` ---------------------------------------------
MAX_STEPS = 10_000  # the settings may lower it, never raise it
DEFAULT_STEPS = 200
MAX_RUNS = 64  # the settings may lower it, never raise it
# A start coordinate, a sweep's start axis, and where a run counts as diverged.
MAX_COORDINATE = 1e6
MAX_SEED = 2**32 - 1
# Regression datasets: at most this many samples (and so this batch size).
MAX_SAMPLES = 5_000
# A regression run evaluates the loss over every sample at every update, so a
# request's cost grows with runs × steps × n_samples. This cap keeps the worst
# request to a few seconds of one core (logistic loss ≈ 10 ns a sample here);
# past it the answer is a 422 that says what to reduce, not a minute of compute.
MAX_SAMPLE_WORK = 200_000_000

# -- sweeps: POST /api/sweeps and a stream `sweep` ---------------------------------------
MAX_AXIS_CELLS = 256
DEFAULT_AXIS_CELLS = 32
MAX_SWEEP_STEPS = 5_000
DEFAULT_SWEEP_STEPS = 1_000
# Cell·updates of one sweep: every grid at every step count. The vectorised loop on
# every core makes the largest (256 × 256 × 5 000) about 2 s of a 2-core server at Adam on
# Rosenbrock (6 ns a cell·update), 8 s at the slowest surface (Rastrigin's sines and
# cosines, ≈ 50 ns on one core); it runs in chunks that can be stopped (app/sweeps.py).
MAX_CELL_UPDATES = MAX_AXIS_CELLS * MAX_AXIS_CELLS * MAX_SWEEP_STEPS

# -- POST /api/surface: grid points along each axis --------------------------------------
MIN_RESOLUTION = 10
MAX_RESOLUTION = 200
DEFAULT_RESOLUTION = 80

# -- the stream, /api/stream -------------------------------------------------------------
# Updates per second of a paced run (0: as fast as the engine goes).
MAX_SPEED = 1_000_000.0
# Ids are echoed on every message, so they must survive JSON both ways: integers
# a JavaScript number holds exactly, and short strings.
MAX_ID_INTEGER = 2**53
MAX_ID_LENGTH = 64
# A larger message is answered `too_large` and dropped (the settings may change it).
WS_MAX_MESSAGE_BYTES = 256 * 1024
# The server reads messages up to this many times that size, so one just too large
# is read and answered; past it, uvicorn closes the socket (code 1009) unread.
WS_READ_FACTOR = 4

# -- HTTP --------------------------------------------------------------------------------
MAX_BODY_BYTES = 256 * 1024  # the settings may change it
