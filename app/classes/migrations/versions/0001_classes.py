"""Classes, students, challenges and submissions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(6), nullable=False, unique=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("teacher_token_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double),
        sa.Column("active_at", sa.Double, nullable=False),
        sa.Column("scene", sa.Text),
        sa.Column("scene_version", sa.Integer, nullable=False),
        sa.Column("challenge_id", sa.Integer),
    )
    op.create_table(
        "students",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "class_id",
            sa.Integer,
            sa.ForeignKey("classes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("name_key", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("joined_at", sa.Double, nullable=False),
        sa.UniqueConstraint("class_id", "name_key", name="students_one_name_a_class"),
    )
    op.create_table(
        "challenges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "class_id",
            sa.Integer,
            sa.ForeignKey("classes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("closes_at", sa.Double, nullable=False),
    )
    op.create_index("challenges_by_class", "challenges", ["class_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "challenge_id",
            sa.Integer,
            sa.ForeignKey("challenges.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "student_id",
            sa.Integer,
            sa.ForeignKey("students.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("converged_at", sa.Integer),
        sa.Column("final_loss", sa.Double, nullable=False),
        sa.Column("diverged_at", sa.Integer),
        sa.Column("submitted_at", sa.Double, nullable=False),
    )
    op.create_index("submissions_by_challenge", "submissions", ["challenge_id"])
    op.create_index("submissions_by_student", "submissions", ["student_id", "submitted_at"])


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("challenges")
    op.drop_table("students")
    op.drop_table("classes")
