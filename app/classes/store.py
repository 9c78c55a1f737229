"""The class database: every read and write of class mode, each write one transaction.

The functions are synchronous (SQLAlchemy Core); :class:`Database` runs them in a
few threads of their own, so neither the event loop nor the compute gate's workers
ever wait on the database. SQLite (the default) keeps one file under the data
directory; PostgreSQL serves several replicas. The schema is Alembic's
(``app/classes/migrations``), applied at start-up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from anyio import CapacityLimiter, to_thread
from sqlalchemy import Engine, and_, create_engine, delete, event, func, insert, or_, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.classes import rules
from app.classes.tables import challenges, classes, students, submissions
from app.limits import MAX_CHALLENGES, MAX_STUDENTS, SUBMISSIONS_PER_MINUTE

T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")
# PostgreSQL: replicas starting together migrate one after the other.
MIGRATION_LOCK = 0x636C6173  # "clas"
# Threads that talk to the database: a few, so a slow database cannot take more.
DATABASE_THREADS = 4


class ClassError(Exception):
    """A request the class's state refuses: its HTTP status, what to tell the client,
    the body's field it is about (if one), and headers (``Retry-After``)."""

    def __init__(
        self,
        status: int,
        detail: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def not_found(code: str) -> ClassError:
    return ClassError(404, f"no class {code}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait for the writer; a writer waits its turn, not fails.
    # synchronous=NORMAL: a commit survives the process (a restart, a crash) without an
    # fsync each; only a power cut may lose the last moments. A dragged slider writes
    # 30 scenes a second, and an fsync each cost more than the rest of the change.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=DATABASE_THREADS + 1)


@contextlib.contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """SQLite: processes sharing the file (uvicorn's workers) migrate one after the
    other, through a lock file beside it. PostgreSQL locks in the transaction."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _one_at_a_time(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """The store behind a small thread pool of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        self.limiter = CapacityLimiter(DATABASE_THREADS)
        self.store = Store(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await to_thread.run_sync(function, *args, limiter=self.limiter)

    async def start(self) -> None:
        await self.call(migrate, self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _now() -> float:
    return time.time()


def _challenge_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        **json.loads(row.spec),
        "started_at": rules.timestamp(row.started_at),
        "closes_at": rules.timestamp(row.closes_at),
    }


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading --------------------------------------------------------------------

    def _class(self, connection: Connection, code: str) -> Any:
        row = connection.execute(select(classes).where(classes.c.code == code)).one_or_none()
        if row is None:
            raise not_found(code)
        return row

    def exists(self, code: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(select(classes.c.id).where(classes.c.code == code))
            return found.first() is not None

    def _roster(self, connection: Connection, class_id: int) -> list[str]:
        names = connection.execute(
            select(students.c.name).where(students.c.class_id == class_id).order_by(students.c.id)
        )
        return list(names.scalars())

    def _challenge(self, connection: Connection, row: Any) -> dict[str, Any] | None:
        if row.challenge_id is None:
            return None
        found = connection.execute(select(challenges).where(challenges.c.id == row.challenge_id))
        return _challenge_json(found.one())

    def _submission_rows(self, connection: Connection, where: Any) -> list[dict[str, Any]]:
        found = connection.execute(
            select(submissions, students.c.name)
            .join(students, students.c.id == submissions.c.student_id)
            .where(where)
            .order_by(submissions.c.id)
        )
        return [{**row._asdict(), "params": json.loads(row.params)} for row in found]

    def _leaderboard(self, connection: Connection, challenge: dict[str, Any] | None) -> list:
        if challenge is None:
            return []
        rows = self._submission_rows(connection, submissions.c.challenge_id == challenge["id"])
        return rules.leaderboard(challenge["goal"]["kind"], rows)

    def _public(self, connection: Connection, row: Any) -> dict[str, Any]:
        challenge = self._challenge(connection, row)
        roster = self._roster(connection, row.id)
        return {
            "code": row.code,
            "title": row.title,
            "status": row.status,
            "created_at": rules.timestamp(row.created_at),
            "ended_at": rules.timestamp(row.ended_at),
            "scene": json.loads(row.scene) if row.scene is not None else None,
            "scene_version": row.scene_version,
            "challenge": challenge,
            "students": len(roster),
            "roster": roster,
            "leaderboard": self._leaderboard(connection, challenge),
        }

    def public(self, code: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            return self._public(connection, self._class(connection, code))

    def scene(self, code: str) -> tuple[dict[str, Any] | None, int]:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(classes.c.scene, classes.c.scene_version).where(classes.c.code == code)
            ).one_or_none()
        if found is None:
            raise not_found(code)
        return (json.loads(found.scene) if found.scene else None), found.scene_version

    def challenge(self, code: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            return self._challenge(connection, self._class(connection, code))

    def leaderboard(self, code: str) -> tuple[int | None, list[dict[str, Any]]]:
        with self.engine.connect() as connection:
            challenge = self._challenge(connection, self._class(connection, code))
            board = self._leaderboard(connection, challenge)
        return (challenge["id"] if challenge else None), board

    def roster(self, code: str) -> list[str]:
        with self.engine.connect() as connection:
            return self._roster(connection, self._class(connection, code).id)

    # -- who is asking --------------------------------------------------------------

    def role(self, code: str, token: str | None) -> tuple[str, dict[str, Any] | None]:
        """``("teacher", None)``, ``("student", {student_id, name})`` or
        ``("observer", None)`` for no token; ClassError 403 for any other token."""
        with self.engine.connect() as connection:
            row = self._class(connection, code)
            if token is None:
                return "observer", None
            if rules.token_matches(token, row.teacher_token_hash):
                return "teacher", None
            student = connection.execute(
                select(students.c.id, students.c.name, students.c.token_hash).where(
                    and_(
                        students.c.class_id == row.id,
                        students.c.token_hash == rules.token_hash(token),
                    )
                )
            ).one_or_none()
        if student is not None and rules.token_matches(token, student.token_hash):
            return "student", {"student_id": student.id, "name": student.name}
        raise ClassError(403, f"this token belongs to no one in class {code}")

    # -- writing --------------------------------------------------------------------

    def create(self, title: str, teacher_hash: str) -> str:
        """A new class's code (drawn again in the rare case it is taken)."""
        now = _now()
        for _ in range(10):
            code = rules.new_code()
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        insert(classes).values(
                            code=code,
                            title=title,
                            teacher_token_hash=teacher_hash,
                            status="open",
                            created_at=now,
                            active_at=now,
                            scene_version=0,
                        )
                    )
                return code
            except IntegrityError:
                continue
        raise ClassError(
            503, "no free class code was found; try again", headers={"Retry-After": "1"}
        )

    def _open(self, connection: Connection, code: str) -> Any:
        row = self._class(connection, code)
        if row.status != "open":
            raise ClassError(409, f"class {code} has ended")
        return row

    def _touch(self, connection: Connection, class_id: int, **values: Any) -> None:
        connection.execute(
            sql_update(classes).where(classes.c.id == class_id).values(active_at=_now(), **values)
        )

    def join(self, code: str, name: str, token_hash: str) -> int:
        key = rules.name_key(name)
        try:
            with self.engine.begin() as connection:
                row = self._open(connection, code)
                taken = connection.execute(
                    select(students.c.id).where(
                        and_(students.c.class_id == row.id, students.c.name_key == key)
                    )
                ).first()
                if taken is not None:
                    raise ClassError(409, f"name {name!r} is taken in class {code}", "name")
                count = connection.execute(
                    select(func.count()).where(students.c.class_id == row.id)
                ).scalar_one()
                if count >= MAX_STUDENTS:
                    raise ClassError(409, f"class {code} is full: at most {MAX_STUDENTS} students")
                student_id = connection.execute(
                    insert(students)
                    .values(
                        class_id=row.id,
                        name=name,
                        name_key=key,
                        token_hash=token_hash,
                        joined_at=_now(),
                    )
                    .returning(students.c.id)
                ).scalar_one()
                self._touch(connection, row.id)
                return student_id
        except IntegrityError:  # joined at the same moment on another replica
            raise ClassError(409, f"name {name!r} is taken in class {code}", "name") from None

    def set_scene(self, code: str, scene: dict[str, Any]) -> int:
        with self.engine.begin() as connection:
            return self._store_scene(connection, self._open(connection, code).id, scene)

    def _store_scene(self, connection: Connection, class_id: int, scene: dict[str, Any]) -> int:
        """Store the scene; its version, counted in the row itself so that two writers
        at once (two replicas) still get one version each."""
        return connection.execute(
            sql_update(classes)
            .where(classes.c.id == class_id)
            .values(
                scene=json.dumps(scene),
                scene_version=classes.c.scene_version + 1,
                active_at=_now(),
            )
            .returning(classes.c.scene_version)
        ).scalar_one()

    def start_challenge(self, code: str, spec: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        with self.engine.begin() as connection:
            row = self._open(connection, code)
            count = connection.execute(
                select(func.count()).select_from(challenges).where(challenges.c.class_id == row.id)
            ).scalar_one()
            if count >= MAX_CHALLENGES:
                raise ClassError(
                    409, f"class {code} has had {MAX_CHALLENGES} challenges, the most a class may"
                )
            challenge_id = connection.execute(
                insert(challenges)
                .values(
                    class_id=row.id,
                    spec=json.dumps(spec),
                    started_at=now,
                    closes_at=now + spec["time_limit_s"],
                )
                .returning(challenges.c.id)
            ).scalar_one()
            self._touch(connection, row.id, challenge_id=challenge_id)
            self._store_scene(connection, row.id, spec["scene"])
            found = connection.execute(select(challenges).where(challenges.c.id == challenge_id))
            return _challenge_json(found.one())

    def open_challenge(self, code: str, student_id: int) -> dict[str, Any]:
        """The challenge a student may submit to now, or ClassError (409, 429)."""
        now = _now()
        with self.engine.connect() as connection:
            row = self._open(connection, code)
            challenge = self._challenge(connection, row)
            if challenge is None:
                raise ClassError(409, f"class {code} has no challenge")
            closes_at = connection.execute(
                select(challenges.c.closes_at).where(challenges.c.id == challenge["id"])
            ).scalar_one()
            if now >= closes_at:
                raise ClassError(409, f"the challenge closed at {challenge['closes_at']}")
            self._check_rate(connection, student_id, now)
        return challenge

    def _check_rate(self, connection: Connection, student_id: int, now: float) -> None:
        recent = list(
            connection.execute(
                select(submissions.c.submitted_at)
                .where(
                    and_(
                        submissions.c.student_id == student_id,
                        submissions.c.submitted_at > now - 60.0,
                    )
                )
                .order_by(submissions.c.submitted_at)
            ).scalars()
        )
        if len(recent) >= SUBMISSIONS_PER_MINUTE:
            wait = max(1, int(recent[-SUBMISSIONS_PER_MINUTE] + 60.0 - now) + 1)
            raise ClassError(
                429,
                f"at most {SUBMISSIONS_PER_MINUTE} submissions a minute; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def submit(
        self,
        code: str,
        challenge_id: int,
        student_id: int,
        params: dict[str, Any],
        score: rules.Score,
    ) -> tuple[dict[str, Any], int]:
        """Store a scored submission; the stored row and the student's rank."""
        now = _now()
        with self.engine.begin() as connection:
            row = self._open(connection, code)
            if row.challenge_id != challenge_id:
                raise ClassError(
                    409, "the challenge changed while this submission ran; send it again"
                )
            closes_at = connection.execute(
                select(challenges.c.closes_at).where(challenges.c.id == challenge_id)
            ).scalar_one()
            if now >= closes_at:
                raise ClassError(409, f"the challenge closed at {rules.timestamp(closes_at)}")
            self._check_rate(connection, student_id, now)
            submission_id = connection.execute(
                insert(submissions)
                .values(
                    challenge_id=challenge_id,
                    student_id=student_id,
                    params=json.dumps(params),
                    converged_at=score.converged_at,
                    final_loss=score.final_loss,
                    diverged_at=score.diverged_at,
                    submitted_at=now,
                )
                .returning(submissions.c.id)
            ).scalar_one()
            self._touch(connection, row.id)
            stored = self._submission_rows(connection, submissions.c.id == submission_id)[0]
            board = self._leaderboard(connection, self._challenge(connection, row))
        rank = next(entry["rank"] for entry in board if entry["student_id"] == student_id)
        return _submission_json(stored), rank

    def end(self, code: str) -> dict[str, Any]:
        now = _now()
        with self.engine.begin() as connection:
            row = self._class(connection, code)
            if row.status == "open":
                self._touch(connection, row.id, status="ended", ended_at=now)
            return self._public(connection, self._class(connection, code))

    # -- results and retention ------------------------------------------------------

    def results(self, code: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            row = self._class(connection, code)
            found = connection.execute(
                select(challenges).where(challenges.c.class_id == row.id).order_by(challenges.c.id)
            )
            every = [_challenge_json(challenge) for challenge in found]
            rows = self._submission_rows(
                connection,
                submissions.c.challenge_id.in_([challenge["id"] for challenge in every]),
            )
            public = self._public(connection, row)
        ranked: dict[int, int] = {}
        for challenge in every:
            mine = [r for r in rows if r["challenge_id"] == challenge["id"]]
            for entry in rules.leaderboard(challenge["goal"]["kind"], mine):
                ranked[entry["submission_id"]] = entry["rank"]
        return {
            "class": public,
            "challenges": every,
            "submissions": [
                {**_submission_json(r), "rank": ranked.get(r["id"]), "best": r["id"] in ranked}
                for r in rows
            ],
        }

    def sweep(self, retention_seconds: float, now: float | None = None) -> list[str]:
        """Delete the classes past their retention; their codes."""
        cutoff = (now if now is not None else _now()) - retention_seconds
        with self.engine.begin() as connection:
            old = connection.execute(
                select(classes.c.id, classes.c.code).where(
                    or_(
                        classes.c.ended_at < cutoff,
                        and_(classes.c.ended_at.is_(None), classes.c.active_at < cutoff),
                    )
                )
            ).all()
            ids = [row.id for row in old]
            if ids:
                their_challenges = select(challenges.c.id).where(challenges.c.class_id.in_(ids))
                connection.execute(
                    delete(submissions).where(submissions.c.challenge_id.in_(their_challenges))
                )
                connection.execute(delete(challenges).where(challenges.c.class_id.in_(ids)))
                connection.execute(delete(students).where(students.c.class_id.in_(ids)))
                connection.execute(delete(classes).where(classes.c.id.in_(ids)))
        return [row.code for row in old]


def _submission_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "student_id": row["student_id"],
        "name": row["name"],
        "challenge_id": row["challenge_id"],
        "params": row["params"],
        "converged_at": row["converged_at"],
        "final_loss": row["final_loss"],
        "diverged_at": row["diverged_at"],
        "submitted_at": rules.timestamp(row["submitted_at"]),
    }
