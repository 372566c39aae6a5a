"""The request log: every request the emulator saw, exactly as received, and its answer."""

from __future__ import annotations

import attrs

__all__ = ["RequestRecord"]


@attrs.frozen
class RequestRecord:
    """One request. ``target`` is the raw path and query exactly as sent on the request line.

    ``headers`` keeps every header as received, credentials included (a test tool: tests
    assert on what the client sent). ``account`` is the authenticated company account id or
    None; ``status`` is the response status (0 when the connection was dropped on purpose);
    ``at`` is the emulator clock's time when the request arrived.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    account: str | None
    status: int
    at: float

    @property
    def path(self) -> str:
        """The raw path, without the query."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The raw query string (no ``?``), exactly as sent."""
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)
