"""The class database: one table each for classes, students, challenges and
submissions. Times are seconds since the epoch (a float: SQLite and PostgreSQL
store it alike); scenes, challenges and parameters are JSON text, stored as
validated and read back whole."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.limits import CLASS_CODE_LENGTH, MAX_CLASS_TITLE, MAX_STUDENT_NAME

metadata = MetaData()

HASH_LENGTH = 64  # a token's SHA-256, in hex

classes = Table(
    "classes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(CLASS_CODE_LENGTH), nullable=False, unique=True),
    Column("title", String(MAX_CLASS_TITLE), nullable=False),
    Column("teacher_token_hash", String(HASH_LENGTH), nullable=False),
    Column("status", String(8), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("ended_at", Double),
    Column("active_at", Double, nullable=False),  # the last change, join or submission
    Column("scene", Text),
    Column("scene_version", Integer, nullable=False),
    Column("challenge_id", Integer),  # the current challenge
)

students = Table(
    "students",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("class_id", Integer, ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(MAX_STUDENT_NAME), nullable=False),
    Column("name_key", String(4 * MAX_STUDENT_NAME), nullable=False),  # case-folded
    Column("token_hash", String(HASH_LENGTH), nullable=False, unique=True),
    Column("joined_at", Double, nullable=False),
    UniqueConstraint("class_id", "name_key", name="students_one_name_a_class"),
)

challenges = Table(
    "challenges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("class_id", Integer, ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
    Column("spec", Text, nullable=False),
    Column("started_at", Double, nullable=False),
    Column("closes_at", Double, nullable=False),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "challenge_id", Integer, ForeignKey("challenges.id", ondelete="CASCADE"), nullable=False
    ),
    Column("student_id", Integer, ForeignKey("students.id", ondelete="CASCADE"), nullable=False),
    Column("params", Text, nullable=False),
    Column("converged_at", Integer),
    Column("final_loss", Double, nullable=False),
    Column("diverged_at", Integer),
    Column("submitted_at", Double, nullable=False),
)

Index("submissions_by_challenge", submissions.c.challenge_id)
Index("submissions_by_student", submissions.c.student_id, submissions.c.submitted_at)
Index("challenges_by_class", challenges.c.class_id)
