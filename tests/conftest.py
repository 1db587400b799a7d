"""Shared fixtures. Tests never reach AWS: credentials are fake and moto intercepts calls."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.demo_estate import DemoEstate, seed_demo
from ipsync_migrator.local.emulator import embedded_aws

# Keep any real AWS configuration of the machine out of every test, but for the acceptance
# run against a real account, which asks for it by name (`make acceptance`); then no other
# test may run (pytest_collection_modifyitems below).
REAL_ACCOUNT = os.environ.get("IPSYNC_ACCEPTANCE_ENDPOINT") == "aws"
if not REAL_ACCOUNT:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        os.environ.pop(variable, None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    acceptance = Path(__file__).parent / "acceptance"
    others = [i.nodeid for i in items if acceptance not in i.path.parents]
    if REAL_ACCOUNT and others:
        raise pytest.UsageError(
            "IPSYNC_ACCEPTANCE_ENDPOINT=aws runs tests/acceptance/ only (with real credentials), "
            f"but {len(others)} other test(s) were collected, e.g. {others[0]}. "
            "Run `make acceptance`, or pytest tests/acceptance/."
        )


@pytest.fixture
def aws() -> Iterator[ClientFactory]:
    """An empty emulated account in us-east-1."""
    with embedded_aws() as clients:
        yield clients


@pytest.fixture
def demo(aws: ClientFactory) -> DemoEstate:
    """The demo estate: every variant and every verdict."""
    return seed_demo(aws)


class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "ipsync-migrator-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ipsync-migrator-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
