"""One writer at a time (issue 10): a rollback from the CLI or a replay during each wait state.

Split from test_one_writer.py so the two files run on different test workers (each test
starts its own local runtime and waits for a real execution).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment
from ipsync_migrator.operations import Service
from tests.e2e.conftest import wait_until
from tests.e2e.test_one_writer import (
    WAIT_STATES,
    assert_fenced,
    settle,
    start_waiting_in,
    state_of,
)
from tests.integration.engine.conftest import snapshot


@pytest.mark.parametrize("wait_state", sorted(WAIT_STATES))
@pytest.mark.parametrize("source", ["cli", "replay"])
def test_a_rollback_during_each_wait_state_ends_the_execution_and_nothing_undoes_it(
    runtime: LocalRuntime, service: Service, shop: Deployment, source: str, wait_state: str
) -> None:
    # Given a migration really waiting in that state
    original = snapshot(runtime.clients())
    since = datetime.now(UTC) - timedelta(seconds=5)
    started, _ = start_waiting_in(service, shop, wait_state)

    # When it is rolled back from the CLI, or by replaying the archive's window
    if source == "cli":
        assert service.rollback(shop.id)["state"] == "rolled_back"
    else:
        service.replay_rollback(since, datetime.now(UTC) + timedelta(seconds=5))
        wait_until(lambda: state_of(service, shop.id) == MigrationState.ROLLED_BACK)

    # Then the execution ended without a later step (or its own Rollback) acting
    already_ran = {"RetireLegacy"} if wait_state == "retention" else set()
    never = frozenset({"Rollback", "RetireLegacy", "Finalize"} - already_ran)
    assert_fenced(runtime, settle(service, started), started, never)
    # and the estate is exactly as before: the legacy sync on, nothing leaked
    assert snapshot(runtime.clients()) == original
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.ROLLED_BACK
    assert record.owner != started.execution_arn
