"""Helpers shared by the browser tests."""

from __future__ import annotations


def wait_complete(page, after: int = 0, timeout: float = 20_000) -> int:
    """Wait until a run newer than id `after` is fully on screen; return its id."""
    page.wait_for_function(
        "after => window.__descentlab && window.__descentlab.lastCompleted.id > after"
        " && window.__descentlab.lastCompleted.id === window.__descentlab.currentId",
        arg=after,
        timeout=timeout,
    )
    return page.evaluate("window.__descentlab.lastCompleted.id")
