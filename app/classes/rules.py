"""The rules of a class that need no database: codes, tokens, names, scores and the
leaderboard's order (docs/API.md, Classes)."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from app.limits import CLASS_CODE_ALPHABET, CLASS_CODE_LENGTH, MAX_STUDENT_NAME

Goal = Literal["fewest_updates", "lowest_loss"]


def new_code() -> str:
    return "".join(secrets.choice(CLASS_CODE_ALPHABET) for _ in range(CLASS_CODE_LENGTH))


def normal_code(code: str) -> str | None:
    """A code as stored (upper case), or None when it cannot be one."""
    code = code.strip().upper()
    if len(code) != CLASS_CODE_LENGTH or any(c not in CLASS_CODE_ALPHABET for c in code):
        return None
    return code


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token: a leak of the database gives no token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def clean_text(text: str) -> str:
    """Trimmed and NFC-normalised: what a name or a title is stored as."""
    return unicodedata.normalize("NFC", text).strip()


def name_problem(name: str) -> str | None:
    """Why a cleaned name cannot be a student's, or None."""
    if not name:
        return "must not be empty"
    if len(name) > MAX_STUDENT_NAME:
        return f"must be at most {MAX_STUDENT_NAME} characters (this one has {len(name)})"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "must not contain control characters or line breaks"
    return None


def name_key(name: str) -> str:
    """Two names are one when their keys are equal: case-folded after NFC."""
    return unicodedata.normalize("NFC", name.casefold())


def timestamp(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Score:
    converged_at: int | None
    final_loss: float
    diverged_at: int | None


def order_key(goal: Goal, score: Score, submitted_at: float, submission_id: int) -> tuple:
    """Smaller is better. Ties: the earlier submission, then the lower id."""
    if score.diverged_at is not None:
        # After every run that did not diverge; the one that held out longest first.
        head: tuple = (2, -score.diverged_at, 0.0)
    elif goal == "fewest_updates" and score.converged_at is not None:
        head = (0, score.converged_at, 0.0)
    else:
        head = (1, 0, score.final_loss if math.isfinite(score.final_loss) else math.inf)
    return (*head, submitted_at, submission_id)


def leaderboard(goal: Goal, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each student's best submission, ranked. ``rows`` are submissions with their
    student's ``name``; the answer's entries are docs/API.md's."""
    best: dict[int, tuple[tuple, dict[str, Any]]] = {}
    counts: dict[int, int] = {}
    for row in rows:
        score = Score(row["converged_at"], row["final_loss"], row["diverged_at"])
        key = order_key(goal, score, row["submitted_at"], row["id"])
        student = row["student_id"]
        counts[student] = counts.get(student, 0) + 1
        if student not in best or key < best[student][0]:
            best[student] = (key, row)
    ranked = sorted(best.values(), key=lambda pair: pair[0])
    return [
        {
            "rank": place,
            "student_id": row["student_id"],
            "name": row["name"],
            "submission_id": row["id"],
            "params": row["params"],
            "converged_at": row["converged_at"],
            "final_loss": row["final_loss"],
            "diverged_at": row["diverged_at"],
            "submitted_at": timestamp(row["submitted_at"]),
            "submissions": counts[row["student_id"]],
        }
        for place, (_, row) in enumerate(ranked, start=1)
    ]
