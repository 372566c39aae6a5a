"""``check_link``'s fast path (string tests on the base URL's origin, checked once) accepts
nothing that the full check (``checked_url``: parsed by urllib and yarl) refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from brightmetrics_async._errors import UnsafeLink
from brightmetrics_async._links import check_link, checked_url

BASES = [
    "http://127.0.0.1:8080/OData.ashx",
    "http://127.0.0.1:8080/OData.ashx/0e4a2c1e-8f0b-4b6e-9a51-5f3b1c2d4e6f?$format=json",
    "https://example.com/OData.ashx/x",
    "https://example.com",
    "http://u:p@example.com/OData.ashx",  # a base with credentials: no fast path
    "http://[::1]:9/OData.ashx",
]
ORIGIN_ALIKES = ["", "/", "?", "#", ":", "@", ".", "\\", " ", "\t", "\x00", "%", "é", "[", "]"]


def verdict(call: Callable[[], object]) -> bool:
    try:
        call()
    except UnsafeLink:
        return False
    return True


@pytest.mark.parametrize("base", BASES)
@given(
    tail=st.text(max_size=30),
    joint=st.sampled_from(ORIGIN_ALIKES),
    cut=st.integers(min_value=0, max_value=60),
)
@example(tail="evil.com/x", joint="@", cut=21)
@example(tail="1/x", joint="", cut=21)
@example(tail="status/1", joint="/", cut=21)
def test_the_fast_path_agrees_with_the_full_check(
    base: str, tail: str, joint: str, cut: int
) -> None:
    link = base[:cut] + joint + tail
    fast = verdict(lambda: check_link(link, base, what="the link"))
    full = verdict(lambda: checked_url(link, base, what="the link"))
    assert fast == full, (link, base)


def test_a_status_url_on_the_request_origin_passes_without_parsing() -> None:
    base = "http://127.0.0.1:8080/OData.ashx/0e4a2c1e-8f0b-4b6e-9a51-5f3b1c2d4e6f?$format=json"
    link = "http://127.0.0.1:8080/OData.ashx/status/42"
    assert check_link(link, base, what="the status URL") == link
    for bad in (
        "http://127.0.0.1:8080@evil.com/x",
        "http://127.0.0.1:80801/x",
        "http://127.0.0.1:8080.evil.com/x",
        "http://127.0.0.1:8080/a b",
    ):
        with pytest.raises(UnsafeLink):
            check_link(bad, base, what="the status URL")
