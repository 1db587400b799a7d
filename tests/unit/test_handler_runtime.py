"""The handlers' context: built once per container, for the settings its environment gives."""

from __future__ import annotations

import pytest

from ipsync_migrator.handlers.runtime import step_context
from ipsync_migrator.models import Target

MEMBER_ROLE = "arn:aws:iam::111111111111:role/ipsync-migrator-member"


@pytest.fixture(autouse=True)
def function_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("JOURNAL_TABLE", "journal-a")
    monkeypatch.setenv("HUB_ACCOUNT_ID", "123456789012")


def test_a_warm_container_reuses_its_context_and_clients() -> None:
    first = step_context()
    again = step_context()
    assert again is first
    assert again.clients.client("elbv2") is first.clients.client("elbv2")


def test_other_settings_or_another_target_get_a_context_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = step_context()
    member = step_context(Target(role_arn=MEMBER_ROLE))
    monkeypatch.setenv("PROBE_PORT_RANGE", "50000-50010")
    other = step_context()

    assert member is not hub and member.known_account == "111111111111"
    assert other is not hub and other.probe_port_range == (50000, 50010)
    assert hub.probe_port_range == (49152, 49407)
