"""observability.py: when an invocation is traced, so the X-Ray SDK is loaded only then."""

from __future__ import annotations

import pytest

from ipsync_migrator.observability import TRACE_HEADER_ENV, invocation_traced

ROOT = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"


@pytest.mark.parametrize(
    ("header", "traced"),
    [
        (None, False),  # not on Lambda, or no active tracing
        ("", False),
        (f"{ROOT};Sampled=0", False),  # X-Ray records nothing of this invocation
        (f"{ROOT};Sampled=1", True),
        (f"{ROOT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5", True),
        (f"{ROOT};Sampled=?", True),  # the decision is left to us: trace
        (f"{ROOT};Sampled=0;Lineage=a87bd80c:1", False),
    ],
)
def test_an_invocation_is_traced_unless_its_header_says_sampled_0(
    monkeypatch: pytest.MonkeyPatch, header: str | None, traced: bool
) -> None:
    # Given the trace header Lambda sets for the invocation (or none)
    if header is None:
        monkeypatch.delenv(TRACE_HEADER_ENV, raising=False)
    else:
        monkeypatch.setenv(TRACE_HEADER_ENV, header)
    # Then the handler is traced exactly when X-Ray may record it
    assert invocation_traced() is traced
