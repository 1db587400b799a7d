"""End-to-end fixtures: the deployed template running on the local runtime."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ipsync_migrator.discovery import discover
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, MigrationOptions
from ipsync_migrator.operations import Service, Started

FAST = MigrationOptions(
    poll_seconds=1, health_timeout_seconds=60, bake_seconds=0, drain_seconds=0
).model_copy(update={"healthy_checks_required": 2})


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """A fresh local runtime with the demo estate for each test (about 4 s to start)."""
    with LocalRuntime(port=0, seed="demo") as started:
        yield started


@pytest.fixture
def service(runtime: LocalRuntime) -> Service:
    return Service.connect(runtime.clients(), runtime.stack_name)


@pytest.fixture
def shop(runtime: LocalRuntime) -> Deployment:
    assert runtime.demo is not None
    report = discover(runtime.clients())
    found = next(d for d in report.deployments if d.target_group_arn == runtime.demo.shop_tg)
    return found


def wait_until(condition: Callable[[], Any], timeout: float = 120, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def finished(service: Service, started: Started) -> dict[str, Any]:
    return wait_until(lambda: (p := service.progress(started))["done"] and p)
