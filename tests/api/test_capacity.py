"""The compute gate (app/api/capacity.py): turns go round the clients, admission is
bounded, and nothing a waiting client does (leaving, timing out, being cancelled)
loses a slot or a point. Real worker threads; no wall-clock bound is asserted."""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.api.capacity import Busy, ClientGone, ComputeGate


def gate(**overrides) -> ComputeGate:
    options = dict(slots=1, points=1000, max_queued=100, max_queued_per_client=100, max_wait=30)
    return ComputeGate(**{**options, **overrides})


class Blocker:
    """A function for a worker thread that holds its turn until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> str:
        self.started.set()
        self.release.wait(30)
        return "released"


async def started(blocker: Blocker) -> None:
    await asyncio.to_thread(blocker.started.wait, 30)


def test_turns_go_round_the_clients_not_first_come_first_served() -> None:
    async def scenario() -> list[str]:
        compute = gate(slots=1)
        order: list[str] = []
        hold = Blocker()
        holding = asyncio.create_task(compute.run("A", hold))
        await started(hold)
        # A queues five more pieces of work, then B one: B must not wait behind all of A's.
        tasks = [asyncio.create_task(compute.run("A", order.append, f"A{i}")) for i in range(1, 6)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(compute.run("B", order.append, "B1")))
        await asyncio.sleep(0)
        hold.release.set()
        await asyncio.gather(holding, *tasks)
        assert compute.free_slots == 1
        return order

    assert asyncio.run(scenario()) == ["A1", "B1", "A2", "A3", "A4", "A5"]


def test_a_client_with_too_many_waiting_requests_is_refused_others_are_not() -> None:
    async def scenario() -> None:
        compute = gate(slots=1, max_queued_per_client=2)
        hold = Blocker()
        holding = asyncio.create_task(compute.run("other", hold))
        await started(hold)

        async def request(client: str) -> str:
            async with compute.admit(client, 10) as ticket:
                return await ticket.run(lambda: client)

        waiting = [asyncio.create_task(request("A")) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Busy) as refused:
            await request("A")
        assert refused.value.retry_after >= 1 and "at most 2" in refused.value.detail
        waiting.append(asyncio.create_task(request("B")))  # another client still queues
        await asyncio.sleep(0)
        hold.release.set()
        assert await asyncio.gather(*waiting) == ["A", "A", "B"]
        await holding
        assert (compute.free_slots, compute.free_points, compute.queued) == (1, 1000, 0)

    asyncio.run(scenario())


def test_a_full_queue_refuses_at_once() -> None:
    async def scenario() -> None:
        compute = gate(slots=1, max_queued=3)
        hold = Blocker()
        holding = asyncio.create_task(compute.run("other", hold))
        await started(hold)

        async def request(client: str) -> None:
            async with compute.admit(client, 1) as ticket:
                await ticket.run(lambda: None)

        waiting = [asyncio.create_task(request(f"c{i}")) for i in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await request("late")
        hold.release.set()
        await asyncio.gather(holding, *waiting)

    asyncio.run(scenario())


def test_a_request_not_started_within_max_wait_is_refused_and_leaves_no_trace() -> None:
    async def scenario() -> None:
        compute = gate(slots=1, max_wait=0.05)
        hold = Blocker()
        holding = asyncio.create_task(compute.run("other", hold))
        await started(hold)
        with pytest.raises(Busy) as refused:
            async with compute.admit("A", 10):
                pass
        assert "not started within" in refused.value.detail
        assert compute.queued == 0 and compute.free_points == 1000
        hold.release.set()
        await holding
        assert compute.free_slots == 1

    asyncio.run(scenario())


def test_points_in_flight_are_held_until_the_answer_is_done() -> None:
    async def scenario() -> list[str]:
        compute = gate(slots=2, points=100)
        events: list[str] = []
        done_sending = asyncio.Event()

        async def big() -> None:
            async with compute.admit("A", 80) as ticket:
                await ticket.run(events.append, "big computed")
                await done_sending.wait()  # the answer is still being sent
            events.append("big sent")

        async def second_big() -> None:
            async with compute.admit("B", 80) as ticket:
                await ticket.run(events.append, "second big computed")

        async def small() -> None:
            async with compute.admit("C", 10) as ticket:
                await ticket.run(events.append, "small computed")

        first = asyncio.create_task(big())
        await asyncio.sleep(0.01)
        waiting = asyncio.create_task(second_big())
        await asyncio.sleep(0.01)
        await small()  # fits beside the first big answer: it does not queue behind the second
        assert not waiting.done()
        done_sending.set()
        await asyncio.gather(first, waiting)
        assert compute.free_points == 100
        return events

    events = asyncio.run(scenario())
    assert events.index("small computed") < events.index("second big computed")
    assert events.index("big sent") < events.index("second big computed")


def test_a_client_that_leaves_while_queued_frees_its_place() -> None:
    async def scenario() -> None:
        compute = gate(slots=1)
        hold = Blocker()
        holding = asyncio.create_task(compute.run("other", hold))
        await started(hold)
        gone = asyncio.get_running_loop().create_future()
        ran: list[str] = []

        async def leaving() -> None:
            async with compute.admit("A", 10, abandoned=gone) as ticket:
                await ticket.run(ran.append, "A")

        task = asyncio.create_task(leaving())
        await asyncio.sleep(0)
        gone.set_result(None)
        with pytest.raises(ClientGone):
            await task
        hold.release.set()
        await holding
        await compute.run("B", ran.append, "B")
        assert ran == ["B"]
        assert (compute.free_slots, compute.free_points, compute.queued) == (1, 1000, 0)

    asyncio.run(scenario())


def test_cancelled_waiters_lose_no_slot() -> None:
    async def scenario() -> None:
        compute = gate(slots=2)
        holds = [Blocker(), Blocker()]
        holding = [asyncio.create_task(compute.run("x", h)) for h in holds]
        for h in holds:
            await started(h)
        waiting = [asyncio.create_task(compute.run(f"c{i}", lambda: None)) for i in range(5)]
        await asyncio.sleep(0)
        for task in waiting:
            task.cancel()
        for h in holds:
            h.release.set()
        await asyncio.gather(*holding)
        await asyncio.gather(*waiting, return_exceptions=True)
        assert compute.free_slots == 2
        # and both slots still work, at once
        both = [Blocker(), Blocker()]
        running = [asyncio.create_task(compute.run(f"d{i}", b)) for i, b in enumerate(both)]
        for b in both:
            await started(b)
            b.release.set()
        assert await asyncio.gather(*running) == ["released", "released"]

    asyncio.run(scenario())
