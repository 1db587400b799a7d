"""The handlers' context: built once per function's container, for the settings its
environment gives, and for at most TARGETS_PER_CONTAINER targets at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ipsync_migrator.handlers.runtime import (
    TARGETS_PER_CONTAINER,
    forget_containers,
    step_context,
)
from ipsync_migrator.models import Target

MEMBER_ROLE = "arn:aws:iam::111111111111:role/ipsync-migrator-member"


@pytest.fixture(autouse=True)
def function_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("JOURNAL_TABLE", "journal-a")
    monkeypatch.setenv("HUB_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ipsync-migrator-Cutover")
    forget_containers()
    yield
    forget_containers()


def member(account: int) -> Target:
    return Target(role_arn=f"arn:aws:iam::{account:012d}:role/ipsync-migrator-member")


def test_a_warm_container_reuses_its_clients_in_a_fresh_context_per_call() -> None:
    first = step_context()
    again = step_context()
    assert again.clients.client("elbv2") is first.clients.client("elbv2")
    assert again.journal is first.journal
    # A copy per call: adapters (Schedules caches rules) start afresh in every invocation.
    assert again is not first and again.schedules is not first.schedules


def test_other_settings_or_another_target_get_a_context_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = step_context()
    member_context = step_context(Target(role_arn=MEMBER_ROLE))
    monkeypatch.setenv("PROBE_PORT_RANGE", "50000-50010")
    other = step_context()

    assert member_context.clients is not hub.clients
    assert member_context.known_account == "111111111111"
    assert member_context.hub_clients is hub.clients  # the journal and bus stay the hub's
    assert other.clients is not hub.clients and other.probe_port_range == (50000, 50010)
    assert hub.probe_port_range == (49152, 49407)


def test_each_function_has_its_own_container(monkeypatch: pytest.MonkeyPatch) -> None:
    cutover = step_context(Target(role_arn=MEMBER_ROLE))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ipsync-migrator-RetireLegacy")
    retire = step_context(Target(role_arn=MEMBER_ROLE))
    # Its own clients, so its own AssumeRole: the emulator checks every function's grants.
    assert retire.clients is not cutover.clients


def test_a_container_keeps_a_bounded_number_of_targets() -> None:
    first = step_context(member(1)).clients
    for account in range(2, TARGETS_PER_CONTAINER + 2):
        step_context(member(account))
    latest = step_context(member(TARGETS_PER_CONTAINER + 1)).clients

    assert step_context(member(TARGETS_PER_CONTAINER + 1)).clients is latest
    assert step_context(member(1)).clients is not first  # the least recently used went


def test_forgetting_the_containers_builds_new_clients() -> None:
    before = step_context().clients
    forget_containers()
    assert step_context().clients is not before
