"""Server-side paging of detail reports into time slices, and the ``$skiptoken`` format.

Theory of operation
-------------------
A JSON request for a detail report whose range is longer than one slice gets the first slice
and an ``@odata.nextLink`` whose ``$skiptoken`` is the URL-quoted base64 of
``{"Id": <uuid>, "NextStart": <iso>, "End": <iso>}``, exactly the vendor's shape. The request's
context (report, account, filter, timezone) is kept in a :class:`PagingStore` under ``Id`` for
``ttl`` seconds from its last use, so the next link carries nothing but the token. A token that
does not decode, names an unknown or expired Id, or belongs to another account or report is
rejected (400). Ranges are ``[start, end]`` with an inclusive end, as the vendor's ``End``
(``...T23:59:59.999Z``) is; internally a slice is the half-open ``[start, stop)``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta, tzinfo
from urllib.parse import quote

import attrs

from ._filter_eval import CompiledFilter
from ._options import QueryOptions

__all__ = ["PagingContext", "PagingStore", "Skiptoken", "format_token_time", "parse_token_time"]

END_EPSILON = timedelta(microseconds=1)  # turns an inclusive end into an exclusive stop


def format_token_time(moment: datetime) -> str:
    """The vendor's token time: UTC, ``Z``, milliseconds only when not whole seconds."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def parse_token_time(text: str) -> datetime:
    """Parse a token time (any ISO 8601 with an offset).

    Raises ValueError if it is not one.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("token time without an offset")
    return moment.astimezone(UTC)


@attrs.frozen
class Skiptoken:
    """A decoded continuation token."""

    id: str
    next_start: datetime
    end: datetime

    def encode(self) -> str:
        """The URL-quoted base64 JSON, ready to put after ``$skiptoken=``."""
        body = {
            "Id": self.id,
            "NextStart": format_token_time(self.next_start),
            "End": format_token_time(self.end),
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        return quote(base64.b64encode(raw).decode("ascii"), safe="")

    @classmethod
    def decode(cls, value: str) -> Skiptoken:
        """Decode an (already percent-decoded) ``$skiptoken`` value.

        Raises ValueError when it is not the vendor's shape.
        """
        try:
            body = json.loads(base64.b64decode(value, validate=True))
            token = cls(
                str(body["Id"]), parse_token_time(body["NextStart"]), parse_token_time(body["End"])
            )
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError("not a skiptoken") from exc
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError("skiptoken lacks Id, NextStart or End") from exc
        return token


@attrs.frozen
class PagingContext:
    """What a next link continues: the report, account, filter and timezone of the request,
    its ``$select`` / ``$count`` options and, with ``$count=true``, the whole range's count."""

    report_guid: str
    account_id: str
    filter: CompiledFilter | None
    tz: tzinfo
    used_at: float
    options: QueryOptions = attrs.field(factory=QueryOptions)
    total: int | None = None


class PagingStore:
    """Paging contexts by Id, each valid for ``ttl`` seconds after its last use."""

    def __init__(self, *, ttl: float) -> None:
        self._ttl = ttl
        self._contexts: dict[str, PagingContext] = {}

    def put(self, context_id: str, context: PagingContext) -> None:
        """Remember ``context`` under ``context_id``."""
        self._contexts[context_id] = context

    def get(self, context_id: str, *, now: float) -> PagingContext | None:
        """The live context for ``context_id``, or None (dropping it if expired).

        Each use restarts the context's lifetime, so a long walk through many pages works.
        """
        context = self._contexts.get(context_id)
        if context is None:
            return None
        if now - context.used_at > self._ttl:
            del self._contexts[context_id]
            return None
        self._contexts[context_id] = attrs.evolve(context, used_at=now)
        return context

    def __len__(self) -> int:
        return len(self._contexts)
