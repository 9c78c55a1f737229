"""The server under the attacks of the abuse table (docs/PERFORMANCE.md, Under abuse),
each replayed on loopback against the Dockerfile's own server, asserting what a user
of the server would notice: health answered while the attack is in flight, another
client served before the attacker, memory read from /proc within bounds, small
error answers, connections that abuse it dropped.

No assertion is on wall-clock time (CI machines are shared): outcomes are compared
with each other (which answer came first, how many arrived while the attack was
still in flight). Every loop is bounded. ``benchmarks/abuse.py`` prints the figures.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import httpx
import orjson
import pytest

from app.limits import MAX_ERROR_BYTES, MAX_OBJECT_KEYS, MAX_REPORTED_ERRORS
from app.settings import Settings
from tests.robustness.attacks import (
    ATTACKER,
    BYSTANDER,
    PROBE,
    SECOND_ATTACKER,
    SMALL_RUNS,
    Probe,
    RssSampler,
    Watched,
    big_answer_body,
    client,
    closed_by_server,
    invalid_json_message,
    open_from,
    post,
    raw_websocket,
    regression_posts_body,
    runs_body,
    sweep_body,
    text_frame,
    unfinished_header,
    unknown_keys_body,
)
from tests.robustness.conftest import (
    MAX_STREAMS,
    MAX_STREAMS_PER_ADDRESS,
    READ_TIMEOUT,
    SEND_TIMEOUT,
)

# The container's memory (compose.yaml) and the headroom the server must leave in it.
CONTAINER_MIB = 512
HEADROOM_MIB = 50
# What "back where it started" means for the server's memory after an attack.
SETTLED_MIB = 40
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


async def until(predicate, limit: float = 20.0, every: float = 0.2) -> bool:
    """Poll ``predicate`` until it holds (True) or ``limit`` seconds pass (False)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(every)
    return predicate()


def quiet(server: Watched) -> None:
    """Wait (bounded) until the server computes nothing, so a test starts from rest."""

    def idle() -> bool:
        before = server.cpu_seconds()
        time.sleep(0.3)
        return server.cpu_seconds() - before < 0.06

    for _ in range(60):
        if idle():
            return


def pending_at(moment: float, answers) -> int:
    """How many of ``answers`` were still in flight at ``moment``."""
    return sum(answer.ended > moment for answer in answers)


# ----------------------------------------------------------------------------- HTTP


def test_health_and_a_bystander_are_served_while_one_client_floods_the_engine(server):
    """42 concurrent regression POSTs from one address: health never waits for them,
    another client's request is served before the attacker's queue drains, and the
    attacker's excess is refused with 503 and Retry-After, not queued without end."""
    quiet(server)

    async def scenario():
        async with client(server, ATTACKER) as attacker, client(server, BYSTANDER) as other:
            with Probe(server, interval=0.02) as health:
                attack = [
                    asyncio.create_task(post(attacker, "/api/runs", regression_posts_body()))
                    for _ in range(42)
                ]
                await asyncio.wait(attack, return_when=asyncio.FIRST_COMPLETED)
                mine = await post(other, "/api/runs", SMALL_RUNS, keep=True)
                answers = await asyncio.gather(*attack)
        return answers, mine, health

    answers, mine, health = asyncio.run(scenario())
    statuses = [answer.status for answer in answers]
    assert set(statuses) <= {200, 503}, statuses
    refused = [answer for answer in answers if answer.status == 503]
    assert refused and all(int(a.headers["retry-after"]) >= 1 for a in refused)
    served = [answer for answer in answers if answer.status == 200]
    assert len(served) >= 10
    assert mine.status == 200 and len(mine.json()["runs"]) == 1
    assert mine.ended < max(answer.ended for answer in served)
    # Health answered, every time, while at least ten attacking requests were in flight.
    during = [t for t in health.timings if pending_at(t.ended, served) >= 10]
    assert len(during) >= 3 and all(t.status == 200 for t in during)


def test_the_largest_answers_at_once_fit_the_container_and_are_given_back(server):
    """12 concurrent POSTs of 64 runs × 10 000 updates (37.5 MB of JSON each)."""
    quiet(server)
    start = server.rss_mib()

    async def scenario():
        async with client(server, ATTACKER) as attacker:
            with RssSampler(server) as rss:
                answers = await asyncio.gather(
                    *(
                        post(attacker, "/api/runs", big_answer_body(), headers=IDENTITY)
                        for _ in range(12)
                    )
                )
            settled = await until(lambda: server.rss_mib() < start + SETTLED_MIB, limit=20)
        return answers, rss, settled

    answers, rss, settled = asyncio.run(scenario())
    assert {answer.status for answer in answers} <= {200, 503}
    complete = [answer for answer in answers if answer.status == 200]
    assert len(complete) >= 4 and all(a.size > 35_000_000 for a in complete)
    assert rss.peak < CONTAINER_MIB - HEADROOM_MIB, (start, rss.peak)
    assert settled, f"RSS {server.rss_mib():.0f} MiB, {start:.0f} before the burst"


IDENTITY = {"accept-encoding": "identity"}


def test_a_large_answer_gzipped_is_the_same_answer(server):
    async def scenario():
        async with client(server, PROBE) as http:
            zipped = await post(
                http, "/api/runs", big_answer_body(), keep=True, headers={"accept-encoding": "gzip"}
            )
            plain = await post(http, "/api/runs", big_answer_body(), keep=True, headers=IDENTITY)
        return zipped, plain

    zipped, plain = asyncio.run(scenario())
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.size * 2 < plain.size
    assert gzip.decompress(zipped.body) == plain.body


def test_a_body_of_unknown_keys_is_refused_small_and_at_once(server):
    body = unknown_keys_body()
    many = {
        "problem": {"name": "rosenbrock"},
        "runs": [{"optimizer": "sgd", **{f"k{j}": 0 for j in range(MAX_OBJECT_KEYS - 1)}}] * 64,
    }

    async def scenario():
        async with client(server, ATTACKER) as attacker:
            with Probe(server, interval=0.02) as health:
                answers = await asyncio.gather(
                    *(
                        post(attacker, "/api/runs", body, keep=True, headers=IDENTITY)
                        for _ in range(24)
                    )
                )
            per_run = await post(attacker, "/api/runs", many, keep=True, headers=IDENTITY)
        return answers, health, per_run

    answers, health, per_run = asyncio.run(scenario())
    assert {answer.status for answer in answers} == {422}
    assert max(answer.size for answer in answers) <= MAX_ERROR_BYTES
    detail = answers[0].json()["detail"]
    assert detail == [
        {
            "loc": ["body"],
            "msg": f"an object may have at most {MAX_OBJECT_KEYS} keys (this one has 23002)",
            "type": "too_many_keys",
        }
    ]
    assert [t.status for t in health.timings].count(200) == len(health.timings) >= 1
    # Within the key limit, every run's unknown keys are errors: the first few are
    # reported, and the last item says how many more there were.
    assert per_run.status == 422 and per_run.size <= MAX_ERROR_BYTES
    items = per_run.json()["detail"]
    assert len(items) == MAX_REPORTED_ERRORS
    assert items[0]["loc"][:3] == ["body", "runs", 0] and items[0]["type"] == "extra_forbidden"
    assert items[-1]["type"] == "too_many_errors" and "more errors" in items[-1]["msg"]


def test_headers_that_never_end_are_refused_and_dropped(server):
    """200 connections sending 1 MiB of header are dropped at the head-size limit,
    holding no memory; connections that send half a head, or dawdle before their
    next request, are dropped once the read timeout passes; a head uvicorn cannot
    parse is answered 400 with the security headers."""
    quiet(server)
    start = server.rss_mib()

    async def scenario():
        with RssSampler(server) as rss:
            huge = await asyncio.gather(
                *(unfinished_header(server, ATTACKER, 1 << 20) for _ in range(200))
            )
            refused = await asyncio.gather(*(closed_by_server(w, 10) for w in huge))
        for writer in huge:
            writer.close()
        slow = await asyncio.gather(*(unfinished_header(server, ATTACKER, 1024) for _ in range(20)))
        # A client that asks once, then sends the next request's head and stops.
        reader, dawdler = await open_from(server, ATTACKER)
        dawdler.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readuntil(b'"}')
        dawdler.write(b"GET /healthz HTTP/1.1\r\n")
        dawdler.reader = reader  # type: ignore[attr-defined]
        waits = [closed_by_server(w, READ_TIMEOUT + 10) for w in [*slow, dawdler]]
        dropped = await asyncio.gather(*waits)
        for writer in [*slow, dawdler]:
            writer.close()
        reader, writer = await open_from(server, ATTACKER)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nNot a header line\r\n\r\n")
        malformed = await asyncio.wait_for(reader.read(4096), 10)
        writer.close()
        return refused, rss, first, dropped, malformed

    refused, rss, first, dropped, malformed = asyncio.run(scenario())
    assert all(refused)
    assert rss.peak - start < 30, (start, rss.peak)
    assert first.startswith(b"HTTP/1.1 200")
    assert all(dropped)
    head = malformed.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 400")
    assert all(name.encode() in head for name in SECURITY_HEADERS)


def test_a_small_sweep_starts_while_two_huge_ones_run_and_left_sweeps_stop(server):
    quiet(server)

    async def scenario():
        async with client(server, ATTACKER) as first, client(server, SECOND_ATTACKER) as second:
            huge = [
                asyncio.create_task(post(http, "/api/sweeps", sweep_body(256, 1500)))
                for http in (first, second)
            ]
            # Both are in flight (or the second refused) once the server is busy.
            idle_cpu = server.cpu_seconds()
            await until(lambda: server.cpu_seconds() > idle_cpu + 0.2, limit=10)
            async with client(server, BYSTANDER) as other:
                small = await post(other, "/api/sweeps", sweep_body(8, 100), keep=True)
            still_running = [task for task in huge if not task.done()]
            for task in huge:
                task.cancel()  # the attackers leave
            await asyncio.gather(*huge, return_exceptions=True)

        def idle() -> bool:
            before = server.cpu_seconds()
            time.sleep(0.5)
            return server.cpu_seconds() - before < 0.1

        stopped = await until(idle, limit=10, every=0)
        return small, still_running, stopped

    small, still_running, stopped = asyncio.run(scenario())
    assert small.status == 200
    assert len(small.json()["final_loss"]) == 8
    assert still_running, "the huge sweeps ended before the small one: nothing was shown"
    assert stopped, "the sweeps went on computing after their clients left"


# ----------------------------------------------------------------------------- the stream


def test_invalid_json_floods_close_their_sockets(server):
    """4 sockets sending 240 KB messages of invalid JSON as fast as they can."""
    message = text_frame(invalid_json_message().encode())
    limit = Settings().ws_max_invalid

    async def socket(address: str) -> tuple[int, list[str]]:
        status, writer = await raw_websocket(server, address)
        reader = writer.reader  # type: ignore[attr-defined]

        async def flood() -> None:
            for _ in range(200):
                writer.write(message)
                await writer.drain()

        flooding = asyncio.create_task(flood())
        codes, close_code = [], None
        try:
            while close_code is None:
                opcode, payload = await read_frame(reader)
                if opcode == 8:
                    close_code = int.from_bytes(payload[:2], "big")
                else:
                    codes.append(json.loads(payload)["code"])
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        flooding.cancel()
        await asyncio.gather(flooding, return_exceptions=True)
        writer.close()
        return close_code, codes

    async def scenario():
        with Probe(server, interval=0.02) as health:
            results = await asyncio.gather(*(socket(f"127.0.1.{i}") for i in range(1, 5)))
        return results, health

    results, health = asyncio.run(scenario())
    for close_code, codes in results:
        assert close_code == 1008
        assert codes == ["invalid_json"] * limit
    assert health.timings and all(t.status == 200 for t in health.timings)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unmasked server→client frame: its opcode and payload."""
    head = await asyncio.wait_for(reader.readexactly(2), 30)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return head[0] & 0x0F, await reader.readexactly(length)


def test_streams_whose_clients_never_read_are_dropped_and_their_memory_given_back(server):
    quiet(server)
    start = server.rss_mib()
    run = text_frame(orjson.dumps({"type": "run", "id": 1, "request": big_answer_body()}))

    async def scenario():
        writers = []
        for i in range(10):
            status, writer = await raw_websocket(server, f"127.0.2.{i + 1}")
            assert status == 101
            writer.write(run)
            await writer.drain()
            writers.append(writer)
        held = server.connections_from("127.0.2.")
        # The server drops them once they have taken nothing for SEND_TIMEOUT seconds
        # (watched from its side: reading them here would make them readers).
        dropped = await until(lambda: server.connections_from("127.0.2.") == 0, SEND_TIMEOUT + 15)
        settled = await until(lambda: server.rss_mib() < start + SETTLED_MIB, limit=20)
        for writer in writers:
            writer.close()
        return held, dropped, settled

    held, dropped, settled = asyncio.run(scenario())
    assert held == 10 and dropped
    assert settled, f"RSS {server.rss_mib():.0f} MiB, {start:.0f} before"


def test_past_the_stream_cap_a_handshake_is_refused_with_retry_after(server):
    async def scenario():
        held = []
        for i in range(MAX_STREAMS):
            status, writer = await raw_websocket(server, f"127.0.3.{i + 1}")
            assert status == 101
            held.append(writer)
        refused_status, refused = await raw_websocket(server, "127.0.3.200")
        head = refused.reader.read(4096)  # type: ignore[attr-defined]
        refusal = await asyncio.wait_for(head, 10)
        refused.close()
        held.pop().close()  # one leaves: there is room again
        accepted = False
        for _ in range(50):
            status, writer = await raw_websocket(server, "127.0.3.201")
            writer.close()
            if status == 101:
                accepted = True
                break
            await asyncio.sleep(0.1)
        for writer in held:
            writer.close()
        return refused_status, refusal, accepted

    refused_status, refusal, accepted = asyncio.run(scenario())
    assert refused_status == 503
    assert accepted


def test_one_address_cannot_take_every_stream(server):
    """Past its share of the streams, an address's handshake is refused with
    Retry-After, while another address still gets a stream."""

    async def scenario():
        held = []
        for _ in range(MAX_STREAMS_PER_ADDRESS):
            for _ in range(50):  # streams an earlier test closed may count for a moment
                status, writer = await raw_websocket(server, "127.0.4.1")
                if status == 101:
                    break
                writer.close()
                await asyncio.sleep(0.1)
            assert status == 101
            held.append(writer)
        refused_status, refused = await raw_websocket(server, "127.0.4.1")
        refusal = await asyncio.wait_for(refused.reader.read(4096), 10)  # type: ignore[attr-defined]
        refused.close()
        other_status, other = await raw_websocket(server, "127.0.4.2")
        other.close()
        for writer in held:
            writer.close()
        return refused_status, refusal, other_status

    refused_status, refusal, other_status = asyncio.run(scenario())
    assert refused_status == 503
    assert b"127.0.4.1 has" in refusal and b"retry in" in refusal
    assert other_status == 101


# ----------------------------------------------------------------------------- hygiene


def test_page_and_health_answer_head_and_the_page_cannot_be_framed(server):
    async def scenario():
        async with client(server, PROBE) as http:
            return [await http.head(path) for path in ("/", "/healthz")], await http.get("/")

    heads, page = asyncio.run(scenario())
    assert [head.status_code for head in heads] == [200, 200]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_page_of_another_origin_cannot_open_the_stream(server):
    async def scenario():
        foreign, writer = await raw_websocket(server, PROBE, origin="http://evil.example")
        writer.close()
        own, writer = await raw_websocket(server, PROBE, origin=server.url)
        writer.close()
        script, writer = await raw_websocket(server, PROBE)  # no Origin: not a browser page
        writer.close()
        return foreign, own, script

    assert asyncio.run(scenario()) == (403, 101, 101)


def test_a_run_replaced_as_its_socket_is_cut_leaves_no_unawaited_coroutine(server):
    body = runs_body({"name": "rosenbrock"}, 8, 10_000)

    async def scenario():
        for i in range(10):
            status, writer = await raw_websocket(server, PROBE)
            assert status == 101
            for number in (2 * i, 2 * i + 1):
                frame = {"type": "run", "id": number, "request": body, "speed": 100}
                writer.write(text_frame(orjson.dumps(frame)))
            await writer.drain()
            writer.transport.abort()
        async with client(server, PROBE) as http:
            assert (await http.get("/healthz")).status_code == 200

    asyncio.run(scenario())
    assert "was never awaited" not in server.log_text()


def test_a_pipelined_request_that_computes_longer_than_the_read_timeout_is_answered(server):
    """The head deadline guards the wait for a request, not its work: a sweep sent
    right behind another request on one connection gets its whole answer however
    long it computes."""
    limits = httpx.get(f"{server.url}/api/catalog").json()["limits"]["sweep"]
    count = limits["max_axis_cells"]
    steps = min(limits["max_steps"], limits["max_cell_updates"] // count**2)
    body = orjson.dumps(sweep_body(count, steps))
    pipelined = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /api/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def scenario():
        reader, writer = await open_from(server, BYSTANDER)
        started = time.monotonic()
        writer.write(pipelined)
        await writer.drain()
        answers = await asyncio.wait_for(reader.read(), 120)  # until the server closes
        writer.close()
        return answers, time.monotonic() - started

    answers, took = asyncio.run(scenario())
    # The case this test is about: the sweep outlasts the head deadline.
    assert took > READ_TIMEOUT, f"the sweep took {took:.1f} s; make it longer"
    assert answers.count(b"HTTP/1.1 200") == 2, answers[:300]
    assert answers.rstrip().endswith(b"0") or answers.rstrip().endswith(b"}")  # chunked or not
    assert b'"final_loss"' in answers


@pytest.mark.parametrize("path", ["/api/runs", "/api/sweeps", "/api/surface"])
def test_a_request_whose_body_never_ends_is_answered_408(server, path):
    async def scenario():
        reader, writer = await open_from(server, ATTACKER)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{".encode()
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"}"), READ_TIMEOUT + 15)
        writer.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within" in answer
