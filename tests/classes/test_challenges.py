"""Challenges: submissions the server runs itself, the leaderboard's order, ties,
resubmissions, the time limit, the end of a class and its results
(docs/API.md, Classes)."""

from __future__ import annotations

import csv
import io
import time

from app.classes import store as store_module
from app.limits import SUBMISSIONS_PER_MINUTE
from tests.classes.conftest import CHALLENGE, SCENE, bearer


def independent_run(client, **params: float) -> dict:
    """The same run asked of POST /api/runs, written out by hand from the challenge."""
    body = {
        "problem": SCENE["request"]["problem"],
        "steps": SCENE["request"]["steps"],
        "runs": [{"optimizer": "momentum", "params": {**CHALLENGE["params"], **params}}],
    }
    answer = client.post("/api/runs", json=body)
    assert answer.status_code == 200
    return answer.json()["runs"][0]


def test_the_server_scores_a_submission_as_post_api_runs_runs_it(classroom):
    made = classroom.create()
    code = made["code"]
    ada = classroom.join(code, "Ada")
    classroom.challenge(made)
    answer = classroom.submit(code, ada, alpha=0.1, beta=0.8)
    assert answer.status_code == 201, answer.text
    submission = answer.json()["submission"]
    expected = independent_run(classroom.client, alpha=0.1, beta=0.8)
    assert expected["converged_at"] is not None  # a run that reaches the minimum
    assert submission["converged_at"] == expected["converged_at"]
    assert submission["final_loss"] == expected["loss"][-1]
    assert submission["diverged_at"] is None
    assert submission["params"] == {"alpha": 0.1, "beta": 0.8}
    assert answer.json()["rank"] == 1


def test_the_leaderboard_ranks_converged_runs_by_updates_then_the_rest_by_loss(classroom):
    made = classroom.create()
    code = made["code"]
    classroom.challenge(made)
    tries = {"Ada": (0.1, 0.8), "Bea": (0.05, 0.8), "Cy": (0.02, 0.5), "Dan": (0.01, 0.8)}
    for name, (alpha, beta) in tries.items():
        student = classroom.join(code, name)
        assert classroom.submit(code, student, alpha=alpha, beta=beta).status_code == 201
    runs = {
        name: independent_run(classroom.client, alpha=a, beta=b) for name, (a, b) in tries.items()
    }
    converged = sorted((r["converged_at"], n) for n, r in runs.items() if r["converged_at"])
    others = sorted((r["loss"][-1], n) for n, r in runs.items() if not r["converged_at"])
    assert converged and others  # both kinds are ranked here
    expected = [name for _, name in converged] + [name for _, name in others]
    board = classroom.client.get(f"/api/classes/{code}").json()["leaderboard"]
    assert [entry["name"] for entry in board] == expected
    assert [entry["rank"] for entry in board] == [1, 2, 3, 4]


def test_a_tie_goes_to_the_earlier_submission(classroom):
    made = classroom.create()
    code = made["code"]
    classroom.challenge(made)
    late, early = classroom.join(code, "Late"), classroom.join(code, "Early")
    assert classroom.submit(code, early, alpha=0.1, beta=0.8).json()["rank"] == 1
    assert classroom.submit(code, late, alpha=0.1, beta=0.8).json()["rank"] == 2
    board = classroom.client.get(f"/api/classes/{code}").json()["leaderboard"]
    assert [e["name"] for e in board] == ["Early", "Late"]
    assert board[0]["converged_at"] == board[1]["converged_at"]


def test_a_students_best_submission_counts(classroom):
    made = classroom.create()
    code = made["code"]
    classroom.challenge(made)
    ada, bea = classroom.join(code, "Ada"), classroom.join(code, "Bea")
    best = classroom.submit(code, ada, alpha=0.1, beta=0.8).json()["submission"]
    classroom.submit(code, bea, alpha=0.05, beta=0.8)
    # A worse try later does not lower Ada's place.
    worse = classroom.submit(code, ada, alpha=0.01, beta=0.5)
    assert worse.status_code == 201 and worse.json()["rank"] == 1
    board = classroom.client.get(f"/api/classes/{code}").json()["leaderboard"]
    assert [(e["name"], e["submissions"]) for e in board] == [("Ada", 2), ("Bea", 1)]
    assert board[0]["submission_id"] == best["id"]


def test_lowest_loss_ranks_by_the_final_loss(classroom):
    made = classroom.create()
    code = made["code"]
    classroom.challenge(made, goal={"kind": "lowest_loss"})
    ada, bea = classroom.join(code, "Ada"), classroom.join(code, "Bea")
    classroom.submit(code, ada, alpha=0.01, beta=0.8)
    classroom.submit(code, bea, alpha=0.02, beta=0.8)
    losses = {
        "Ada": independent_run(classroom.client, alpha=0.01, beta=0.8)["loss"][-1],
        "Bea": independent_run(classroom.client, alpha=0.02, beta=0.8)["loss"][-1],
    }
    board = classroom.client.get(f"/api/classes/{code}").json()["leaderboard"]
    assert [e["name"] for e in board] == sorted(losses, key=losses.get)


def test_a_diverged_run_ranks_last(classroom):
    made = classroom.create()
    code = made["code"]
    classroom.challenge(made)
    wild, calm = classroom.join(code, "Wild"), classroom.join(code, "Calm")
    diverged = classroom.submit(code, wild, alpha=5.0, beta=0.9).json()["submission"]
    assert (
        diverged["diverged_at"]
        == independent_run(classroom.client, alpha=5.0, beta=0.9)["diverged_at"]
    )
    assert diverged["diverged_at"] is not None
    classroom.submit(code, calm, alpha=0.01, beta=0.5)
    board = classroom.client.get(f"/api/classes/{code}").json()["leaderboard"]
    assert [e["name"] for e in board] == ["Calm", "Wild"]


def test_submissions_are_checked_against_the_challenge(classroom):
    made = classroom.create()
    code = made["code"]
    ada = classroom.join(code, "Ada")
    none_yet = classroom.submit(code, ada, alpha=0.1)
    assert none_yet.status_code == 409 and "no challenge" in none_yet.json()["detail"]
    classroom.challenge(made, allowed=["alpha"])
    outside = classroom.submit(code, ada, beta=0.5)
    assert outside.status_code == 422
    (error,) = outside.json()["detail"]
    assert error["loc"] == ["body", "params", "beta"] and "allowed: alpha" in error["msg"]
    out_of_range = classroom.submit(code, ada, alpha=-1.0)
    assert out_of_range.status_code == 422
    assert out_of_range.json()["detail"][0]["loc"] == ["body", "params", "alpha"]
    teacher = classroom.client.post(
        f"/api/classes/{code}/submissions",
        json={"params": {"alpha": 0.1}},
        headers=bearer(made["teacher_token"]),
    )
    assert teacher.status_code == 403
    assert classroom.client.get(f"/api/classes/{code}").json()["leaderboard"] == []


def test_a_challenge_is_checked_before_it_starts(classroom):
    made = classroom.create()
    teacher = bearer(made["teacher_token"])
    url = f"/api/classes/{made['code']}/challenge"
    cases = [
        ({"allowed": ["alpha", "gamma"]}, ["body", "allowed", 1], "no hyper-parameter 'gamma'"),
        ({"optimizer": "adam2"}, ["body", "optimizer"], "unknown optimizer"),
        ({"params": {"beta": 2}}, ["body", "params", "beta"], "between"),
        ({"time_limit_s": 5}, ["body", "time_limit_s"], "greater than or equal to 10"),
        ({"goal": {"kind": "fastest"}}, ["body", "goal", "kind"], "fewest_updates"),
    ]
    for change, loc, words in cases:
        answer = classroom.client.post(url, json={**CHALLENGE, **change}, headers=teacher)
        assert answer.status_code == 422, change
        assert answer.json()["detail"][0]["loc"] == loc, answer.json()
        assert words in answer.json()["detail"][0]["msg"], answer.json()


def test_after_the_time_limit_a_submission_is_refused(classroom, monkeypatch):
    made = classroom.create()
    code = made["code"]
    ada = classroom.join(code, "Ada")
    challenge = classroom.challenge(made, time_limit_s=60)
    assert classroom.submit(code, ada, alpha=0.1).status_code == 201
    monkeypatch.setattr(store_module, "_now", lambda: time.time() + 61)
    late = classroom.submit(code, ada, alpha=0.1)
    assert late.status_code == 409
    assert late.json()["detail"] == f"the challenge closed at {challenge['closes_at']}"


def test_a_student_submits_at_most_so_many_times_a_minute(classroom):
    made = classroom.create()
    code = made["code"]
    ada, bea = classroom.join(code, "Ada"), classroom.join(code, "Bea")
    classroom.challenge(made)
    for _ in range(SUBMISSIONS_PER_MINUTE):
        assert classroom.submit(code, ada, alpha=0.1).status_code == 201
    refused = classroom.submit(code, ada, alpha=0.1)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert classroom.submit(code, bea, alpha=0.1).status_code == 201  # others are not held back


def test_a_new_challenge_starts_a_new_leaderboard_and_sets_the_scene(classroom):
    made = classroom.create()
    code = made["code"]
    ada = classroom.join(code, "Ada")
    first = classroom.challenge(made)
    classroom.submit(code, ada, alpha=0.1)
    scene = {**SCENE, "t": 7}
    second = classroom.challenge(made, scene=scene, goal={"kind": "lowest_loss"})
    state = classroom.client.get(f"/api/classes/{code}").json()
    assert second["id"] != first["id"]
    assert state["challenge"]["id"] == second["id"] and state["leaderboard"] == []
    assert state["scene"]["t"] == 7


def test_ending_a_class_closes_it_and_its_results_remain(classroom):
    made = classroom.create()
    code = made["code"]
    teacher = bearer(made["teacher_token"])
    ada, bea = classroom.join(code, "=1+1"), classroom.join(code, "Bea")
    classroom.challenge(made)
    classroom.submit(code, ada, alpha=0.1, beta=0.8)
    classroom.submit(code, ada, alpha=0.01, beta=0.5)
    classroom.submit(code, bea, alpha=0.05, beta=0.8)
    ended = classroom.client.post(f"/api/classes/{code}/end", headers=teacher)
    assert ended.status_code == 200 and ended.json()["class"]["status"] == "ended"
    for refused in [
        classroom.client.post(f"/api/classes/{code}/students", json={"name": "Late"}),
        classroom.submit(code, bea, alpha=0.1),
        classroom.client.put(f"/api/classes/{code}/scene", json={"scene": SCENE}, headers=teacher),
    ]:
        assert refused.status_code == 409 and "ended" in refused.json()["detail"]

    results = classroom.client.get(f"/api/classes/{code}/results", headers=teacher).json()
    assert results["class"]["status"] == "ended" and len(results["challenges"]) == 1
    rows = results["submissions"]
    assert [(r["name"], r["best"], r["rank"]) for r in rows] == [
        ("=1+1", True, 1),
        ("=1+1", False, None),
        ("Bea", True, 2),
    ]
    exported = classroom.client.get(f"/api/classes/{code}/results?format=csv", headers=teacher)
    assert exported.headers["content-type"].startswith("text/csv")
    assert f'filename="class-{code}.csv"' in exported.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["name"] for row in table] == ["'=1+1", "'=1+1", "Bea"]  # never a formula
    for row, stored in zip(table, rows, strict=True):
        assert float(row["alpha"]) == stored["params"]["alpha"]
        assert float(row["final_loss"]) == stored["final_loss"]
        assert row["converged_at"] == str(stored["converged_at"] or "")
        assert row["rank"] == str(stored["rank"] or "")


def test_submissions_sent_at_once_still_keep_the_per_minute_limit(classroom):
    """Submissions sent together all pass the rate check before any is stored unless
    a student's are taken one at a time: exactly the limit is scored, the rest 429."""
    from concurrent.futures import ThreadPoolExecutor

    made = classroom.create()
    code = made["code"]
    ada = classroom.join(code, "Ada")
    classroom.challenge(made)
    # One first, alone: it loads the engine's kernels.
    assert classroom.submit(code, ada, alpha=0.01).status_code == 201
    sent = SUBMISSIONS_PER_MINUTE + 3
    with ThreadPoolExecutor(sent) as pool:
        answers = list(
            pool.map(lambda i: classroom.submit(code, ada, alpha=0.02 + i / 1000), range(sent))
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * (SUBMISSIONS_PER_MINUTE - 1) + [429] * 4, statuses


def test_a_class_holds_at_most_its_challenges(classroom, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_CHALLENGES", 2)
    made = classroom.create()
    classroom.challenge(made)
    classroom.challenge(made)
    answer = classroom.client.post(
        f"/api/classes/{made['code']}/challenge",
        json=CHALLENGE,
        headers=bearer(made["teacher_token"]),
    )
    assert answer.status_code == 409 and "2 challenges" in answer.json()["detail"], answer.text


def test_a_teachers_http_writes_are_rate_limited_per_class(tmp_path):
    from tests.classes.conftest import Classroom, make_client

    with make_client(tmp_path, ws_rate=0.01, ws_burst=2) as client:
        classroom = Classroom(client)
        made, other = classroom.create(), classroom.create()
        teacher = bearer(made["teacher_token"])
        put = f"/api/classes/{made['code']}/scene"
        assert client.put(put, json={"scene": SCENE}, headers=teacher).status_code == 200
        classroom.challenge(made)
        answer = client.put(put, json={"scene": SCENE}, headers=teacher)
        assert answer.status_code == 429 and "Retry-After" in answer.headers, answer.text
        classroom.challenge(other)  # another class is not held back
