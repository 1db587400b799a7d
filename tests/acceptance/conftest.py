"""The endpoint the acceptance suite runs against: the local runtime unless told otherwise.

`IPSYNC_ACCEPTANCE_ENDPOINT=aws` (what `make acceptance` sets) selects a real account, named
by `IPSYNC_ACCEPTANCE_ACCOUNT` and `IPSYNC_ACCEPTANCE_REGION`; the run refuses to start
unless the credentials are that account's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.acceptance.endpoints import Endpoint, Refused, make_endpoint, selected_endpoint

SELECTED = selected_endpoint(os.environ)
#: A real run takes 20-40 minutes (README "Acceptance run"); the suite's default is 300 s.
AWS_TIMEOUT_SECONDS = 5400


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SELECTED == "aws":
        for item in items:
            item.add_marker(pytest.mark.timeout(AWS_TIMEOUT_SECONDS))


@pytest.fixture(params=[SELECTED])
def endpoint(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    """The selected endpoint, checked before anything is created (a refusal stops pytest)."""
    try:
        selected = make_endpoint(request.param, os.environ)
    except Refused as refused:
        pytest.exit(str(refused), returncode=2)
    yield selected
