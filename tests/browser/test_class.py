"""Class mode on real pages: a teacher's page and three students' (one on a phone)
against a real uvicorn — join, follow the teacher's scene, explore and come back,
a challenge with two submissions, the leaderboard, students' runs drawn over the
scene, a `<script>` name shown as text, and a teacher's reload keeping control.

One class runs through the whole lesson (the steps build on each other, as in a
room); every page also fails on any console error or foreign request (conftest.py).
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from pagekit import wait_complete

PROJECTOR = (1920, 1080)
LAPTOP = (1366, 768)
PHONE = (390, 844)
SCRIPT_NAME = "<script>alert(1)</script>"

PATHS = """() => (document.querySelector('#surface-plot').data || [])
    .filter(d => d.meta && Number.isInteger(d.meta.run))
    .map(d => ({run: d.meta.run, x: Array.from(d.x), y: Array.from(d.y)}))"""
OVERLAYS = """() => (document.querySelector('#surface-plot').data || [])
    .filter(d => d.meta && Number.isInteger(d.meta.overlay) && d.x.length)
    .map(d => ({rank: d.meta.rank, student: d.meta.student, x: Array.from(d.x), y: Array.from(d.y)}))"""
OVERFLOW = "() => document.documentElement.scrollWidth - innerWidth"
OUTSIDE = """sel => { const r = document.querySelector(sel).getBoundingClientRect();
    return r.left < -0.5 || r.right > innerWidth + 0.5 || r.width === 0; }"""


def get_json(url: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def classroom(page) -> dict:
    return page.evaluate("window.__descentlab.classroom")


def request_of(page) -> str:
    """The runs a page draws (its scene's request), as comparable text."""
    return page.evaluate(
        "JSON.stringify(window.__descentlab.state.runs) + window.__descentlab.state.steps"
        " + window.__descentlab.state.problem"
    )


def wait_request(page, teacher) -> None:
    """Wait until `page` draws what the teacher draws, whole."""
    page.wait_for_function(
        "want => JSON.stringify(window.__descentlab.state.runs) + window.__descentlab.state.steps"
        " + window.__descentlab.state.problem === want"
        " && window.__descentlab.lastCompleted.id === window.__descentlab.currentId",
        arg=request_of(teacher),
    )


def set_param(page, name: str, value: float, run: int = 0) -> None:
    box = page.locator(f'[data-run="{run}"] input[data-number="{name}"]')
    box.fill(str(value))
    box.dispatch_event("change")


def join(page, name: str) -> None:
    page.locator("#class-name").fill(name)
    page.click("#class-join-btn")
    page.wait_for_function("() => window.__descentlab.classroom.role === 'student'")


def settle(page) -> None:
    """Two animation frames, twice: what a resize set in motion (refits, chart resizes) is done."""
    for _ in range(2):
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )


def assert_fits(page, width: int, *selectors: str) -> None:
    assert page.evaluate(OVERFLOW) <= 0, width
    for sel in selectors:
        assert not page.evaluate(OUTSIDE, sel), (width, sel)


@pytest.mark.timeout(240)
def test_a_class_follows_its_teacher_through_a_challenge(open_page, server, artifacts):
    teacher = open_page(width=PROJECTOR[0], height=PROJECTOR[1]).page

    # ---- the teacher starts a class: the join screen, large
    teacher.click("#class-start")
    teacher.wait_for_function("() => window.__descentlab.classroom.role === 'teacher'")
    code = classroom(teacher)["code"]
    assert teacher.url.startswith(f"{server}/class/{code}")
    screen = teacher.locator("#class-screen")
    assert screen.is_visible()
    assert teacher.locator("#class-screen-code").text_content() == code
    assert teacher.locator("#class-screen-url").text_content() == f"{server}/class/{code}"
    teacher.wait_for_function("() => document.querySelector('#class-screen-qr').naturalWidth > 0")
    code_px = teacher.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#class-screen-code')).fontSize)"
    )
    assert code_px >= 100  # about 1/30 of the screen's width: legible from the back of a room
    teacher.screenshot(path=str(artifacts / "class-join-screen-1920x1080.png"))
    teacher.click("#class-screen-close")
    # The QR code is of the join link (the page at /class/<code>).
    with urllib.request.urlopen(f"{server}/api/classes/{code}/qr.svg", timeout=30) as answer:
        assert answer.headers["content-type"].startswith("image/svg+xml")

    # ---- three students join: two laptops and a phone; one name is markup
    ada = open_page(f"class/{code}", *LAPTOP).page
    scripted = open_page(f"class/{code}", *LAPTOP).page
    phone = open_page(f"class/{code}", *PHONE).page
    assert phone.locator("#class-join").is_visible()
    assert phone.locator("#class-join-code").text_content() == code
    phone.screenshot(path=str(artifacts / "class-phone-join-390x844.png"))
    join(ada, "Ada")
    join(scripted, SCRIPT_NAME)
    join(phone, "Grace")
    teacher.wait_for_function("() => window.__descentlab.classroom.students === 3")
    assert teacher.locator("#class-roster").text_content() == "3 students"
    assert scripted.locator("#class-you").text_content() == f"you are {SCRIPT_NAME}"
    assert scripted.evaluate("document.querySelectorAll('#class-bar script').length") == 0

    # ---- follow: the teacher's change is every student's scene, drawn the same
    before = wait_complete(teacher)
    set_param(teacher, "alpha", 0.3)
    wait_complete(teacher, before)
    students = (ada, scripted, phone)
    for student in students:
        wait_request(student, teacher)
        assert student.evaluate(PATHS) == teacher.evaluate(PATHS)
    phone.screenshot(path=str(artifacts / "class-phone-following-390x844.png"), full_page=True)
    assert_fits(phone, PHONE[0], "#class-follow")

    # ---- Ada explores on her own: the teacher's next change passes her by
    set_param(ada, "alpha", 0.05)
    ada.wait_for_function("() => !window.__descentlab.classroom.following")
    follow = ada.locator("#class-follow")
    assert follow.text_content() == "Exploring on your own — Follow teacher"
    before = wait_complete(teacher)
    set_param(teacher, "alpha", 0.35)
    wait_complete(teacher, before)
    wait_request(scripted, teacher)
    assert ada.evaluate("window.__descentlab.state.runs[0].params.alpha") == 0.05
    # … and comes back: the teacher's scene now, drawn the same.
    follow.click()
    wait_request(ada, teacher)
    assert follow.text_content() == "Following the teacher"
    assert ada.evaluate(PATHS) == teacher.evaluate(PATHS)
    ada.screenshot(path=str(artifacts / "class-student-following-1366x768.png"))

    # ---- the teacher reloads: the page leads the class again (its token kept)
    teacher.reload()
    wait_complete(teacher)
    teacher.wait_for_function("() => window.__descentlab.classroom.role === 'teacher'")
    assert request_of(teacher) == request_of(ada)  # the class's scene came back
    before = wait_complete(teacher)
    set_param(teacher, "alpha", 0.25)
    wait_complete(teacher, before)
    for student in students:
        wait_request(student, teacher)

    # ---- a student reloads: their seat comes back (their token kept), no join form
    phone.reload()
    phone.wait_for_function("() => window.__descentlab.classroom.role === 'student'")
    assert classroom(phone)["you"]["name"] == "Grace"
    assert phone.locator("#class-join").is_hidden()
    wait_request(phone, teacher)
    teacher.wait_for_function("() => window.__descentlab.classroom.students === 3")

    # ---- a challenge: momentum, α allowed, the fewest updates wins
    teacher.click('[data-run="1"] .run-index')  # the momentum run
    teacher.click("#class-challenge-open")
    assert teacher.locator("#challenge-optimizer").input_value() == "momentum"
    allowed = teacher.locator("#challenge-allowed input")
    assert allowed.nth(0).get_attribute("value") == "alpha" and allowed.nth(0).is_checked()
    teacher.select_option("#challenge-goal", "fewest_updates")
    teacher.locator("#challenge-minutes").fill("5")
    teacher.click("#challenge-start")
    teacher.wait_for_function("() => window.__descentlab.classroom.challenge !== null")
    challenge = get_json(f"{server}/api/classes/{code}")["challenge"]
    assert challenge["optimizer"] == "momentum" and challenge["allowed"] == ["alpha"]

    for student in students:
        student.wait_for_function("() => window.__descentlab.classroom.challenge !== null")
        student.wait_for_function(
            "() => !document.querySelector('[data-run=\"0\"] input[data-param=alpha]').disabled"
        )
        # Only the allowed control is enabled.
        assert student.locator("#class-submit").is_visible()
        assert student.locator('[data-run="0"] input[data-param="beta"]').is_disabled()
        assert student.locator("#problem").is_disabled()
        assert student.locator("#add-run").is_disabled()
        assert student.locator("#class-countdown").text_content().endswith(" left")
        assert student.locator("#class-start").is_hidden()  # one class a page
        assert student.evaluate("window.__descentlab.state.runs.length") == 1
    phone.screenshot(path=str(artifacts / "class-phone-challenge-390x844.png"), full_page=True)
    assert_fits(phone, PHONE[0], "#class-submit", "#class-countdown")

    # Two students tune α and submit.
    chosen = {"Ada": 0.12, SCRIPT_NAME: 0.3}
    for student, name in ((ada, "Ada"), (scripted, SCRIPT_NAME)):
        before = wait_complete(student)
        set_param(student, "alpha", chosen[name])
        wait_complete(student, before)
        student.click("#class-submit")
        student.wait_for_function(
            "() => /^Your rank: \\d/.test(document.querySelector('#class-rank').textContent)"
        )
    ada.screenshot(path=str(artifacts / "class-student-challenge-1366x768.png"))

    # ---- the leaderboard: the server's order, names as text
    board = get_json(f"{server}/api/classes/{code}")["leaderboard"]
    assert [e["name"] for e in board] and len(board) == 2
    teacher.wait_for_function("() => document.querySelectorAll('#class-leaders tr').length === 2")
    names = teacher.locator("#class-leaders td.name").all_text_contents()
    assert names == [e["name"] for e in board]
    assert teacher.evaluate("document.querySelectorAll('#class-board script').length") == 0
    for student, name in ((ada, "Ada"), (scripted, SCRIPT_NAME)):
        rank = next(e["rank"] for e in board if e["name"] == name)
        assert student.locator("#class-rank").text_content().startswith(f"Your rank: {rank} of 2")

    # ---- the top five over the scene: each the challenge's run with the student's α
    teacher.click("#class-top")
    teacher.wait_for_function(
        "n => (document.querySelector('#surface-plot').data || [])"
        ".filter(d => d.meta && Number.isInteger(d.meta.overlay) && d.x.length).length === n",
        arg=len(board),
    )
    drawn = teacher.evaluate(OVERLAYS)
    request = challenge["scene"]["request"]
    for entry, run in zip(board, drawn, strict=True):
        assert run["rank"] == entry["rank"] and run["student"] == entry["student_id"]
        alone = get_json(
            f"{server}/api/runs",
            {
                "problem": request["problem"],
                "steps": request["steps"],
                "seed": request["seed"],
                "runs": [
                    {
                        "optimizer": "momentum",
                        "params": {**challenge["params"], "alpha": chosen[entry["name"]]},
                        "schedule": challenge["schedule"],
                        **({"start": challenge["start"]} if challenge["start"] else {}),
                    }
                ],
            },
        )["runs"][0]
        assert run["x"] == [p[0] for p in alone["path"]]
        assert run["y"] == [p[1] for p in alone["path"]]
    key = teacher.locator("#class-overlay-key .name").all_text_contents()
    assert key == [e["name"] for e in board]
    teacher.screenshot(path=str(artifacts / "class-teacher-leaderboard-1920x1080.png"))
    teacher.set_viewport_size({"width": LAPTOP[0], "height": LAPTOP[1]})
    settle(teacher)
    assert_fits(teacher, LAPTOP[0], "#class-code", "#class-end", "#class-leaders")
    teacher.screenshot(path=str(artifacts / "class-teacher-leaderboard-1366x768.png"))

    # ---- the class ends; its results stay for the teacher
    teacher.click("#class-end")
    teacher.click("#class-end")
    for student in students:
        student.wait_for_function("() => window.__descentlab.classroom.status === 'ended'")
        assert student.locator("#class-submit").is_hidden()
    with teacher.expect_download() as download:
        teacher.click('[data-class-export="csv"]')
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("challenge_id,") and SCRIPT_NAME in text
