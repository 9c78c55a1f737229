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
# request's cost grows with runs × (steps + 1) × n_samples, and a regression's
# surface grid with resolution² × n_samples. This cap keeps the worst request within
# 3 s of one core (a logistic loss and gradient over the samples ≈ 25 ns a sample
# here: benchmarks/abuse.py, single); past it the answer is a 422 that says what to
# reduce, not a minute of compute.
MAX_SAMPLE_WORK = 100_000_000

# -- sweeps: POST /api/sweeps and a stream `sweep` ---------------------------------------
MAX_AXIS_CELLS = 256
DEFAULT_AXIS_CELLS = 32
MAX_SWEEP_STEPS = 5_000
DEFAULT_SWEEP_STEPS = 1_000
# Cell·updates of one sweep: every grid at every step count. The vectorised loop on
# every core makes the largest (256 × 256 × 5 000) about 5 s of a 2-core server at Adam
# on Rosenbrock (15 ns a cell·update), ≈ 40 s at the slowest, AMSGrad on Rastrigin
# (its sines and cosines do not vectorise: 130 ns on two cores, 225 ns on one, on a
# busy machine); it runs in chunks that yield the worker to other clients and stop
# when the client leaves (app.sweeps.CHUNK_WORK).
MAX_CELL_UPDATES = MAX_AXIS_CELLS * MAX_AXIS_CELLS * MAX_SWEEP_STEPS
# A regression sweep's loss terms, cells × (steps + 1) × n_samples: about as long as
# the longest surface sweep (≈ 15 ns a term), so the default regression sweep
# (32 × 32 cells, 1 000 steps, 200 samples: 205 million) fits.
MAX_SWEEP_SAMPLE_WORK = 500_000_000

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

# -- errors: a 422 (or a stream's invalid_message) stays small whatever the body -------
# An object of a body or message with more keys is refused whole, before its keys
# are checked one by one (a 256 KiB body holds 23 000 unknown keys).
MAX_OBJECT_KEYS = 100
# At most this many {loc, msg, type} items (the last says how many more there were),
# and this many bytes of JSON in all.
MAX_REPORTED_ERRORS = 20
MAX_ERROR_BYTES = 16 * 1024

# -- custom surfaces: the problem `custom`, f(x, y) typed by a user ------------------------
# Checked in this order, each before the work it bounds: the length before the
# text is read, the numbers as they are read, the depth and the size as the tree
# grows, a constant exponent as soon as it is known.
MAX_EXPRESSION_LENGTH = 1_000  # characters
MAX_EXPRESSION_DEPTH = 50  # nested operators, parentheses and functions
MAX_EXPRESSION_NODES = 400  # numbers, names, operators and functions
MAX_EXPRESSION_CONSTANT = 1e12  # the magnitude of a number written in it
MAX_EXPRESSION_EXPONENT = 64  # the magnitude of a constant exponent (x^64, 2^-64)

# -- classes: /api/classes and /ws/classes/{code} (docs/API.md, Classes) -------------------
# Join codes: no 0/O or 1/I, so a code read off a projector is typed right; 32⁶ ≈ 10⁹.
CLASS_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CLASS_CODE_LENGTH = 6
MAX_CLASS_TITLE = 100  # characters
MAX_STUDENT_NAME = 32  # characters, after trimming and NFC
MAX_STUDENTS = 200  # a class
MAX_SCENE_BYTES = 64 * 1024  # a scene as JSON
MAX_SCENE_VIEW_KEYS = 32
MAX_SCENE_VIEW_KEY = 32  # characters of a view key
MAX_SCENE_VIEW_TEXT = 200  # characters of a view value
MAX_SCENE_T = MAX_STEPS  # the playback position
MIN_CHALLENGE_SECONDS = 10
MAX_CHALLENGE_SECONDS = 7_200
MAX_ALLOWED_PARAMS = 10
SUBMISSIONS_PER_MINUTE = 6  # a student
MAX_CHALLENGES = 100  # a class: a lesson starts a handful
CLASSES_PER_HOUR = 20  # created by an address: a teacher makes one or two a lesson
JOINS_PER_MINUTE = 30  # an address (a classroom behind one NAT joins at this rate)
# An address that asks for this many unknown codes within the window is refused
# (429) on every route naming a code until the window passes: guessing a code of
# 32⁶ at 20 per 10 minutes takes centuries.
MAX_UNKNOWN_CODES = 20
UNKNOWN_CODES_WINDOW_SECONDS = 600
HELLO_SECONDS = 10.0  # a class socket's first message must come within this
