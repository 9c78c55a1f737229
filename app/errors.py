"""Errors that describe a bad request in terms the client can act on."""

from __future__ import annotations


class InvalidSpec(ValueError):
    """A request names something unknown or gives a value outside its range.

    ``loc`` is the path of the offending field in the request body (as pydantic
    reports it, e.g. ``("runs", 0, "params", "beta")``), so the API can answer
    422 naming the field and the CLI can print it.
    """

    def __init__(
        self, loc: tuple[str | int, ...], message: str, context: dict | None = None
    ) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        # Details a client may use beyond the message (a custom expression's error
        # gives the column it marks): FastAPI's ``ctx``.
        self.context = context

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.loc)
        return f"{where}: {self.message}" if where else self.message
