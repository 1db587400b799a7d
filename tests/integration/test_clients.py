"""Assumed-role clients against the emulator: built once, they outlive their credentials.

moto's AssumeRole answers with credentials of an hour. To have credentials near their end
without waiting, a botocore handler (registered for every session, as moto's own are) shortens
the Expiration of the answers it is told to: the credentials of a container warm for 55 minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws
from moto.sts.models import sts_backends

from ipsync_migrator.aws.identity import account_id
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.errors import AccessDeniedError

MEMBER_ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/ipsync-migrator-member"
EXTERNAL_ID = "fleet-test-secret"
TARGET = AwsTarget(region="us-east-1", role_arn=ROLE_ARN, external_id=EXTERNAL_ID)


class Sts:
    """What the emulated STS answers AssumeRole: the next answers' lifetimes, or a refusal."""

    def __init__(self) -> None:
        self.lifetimes: list[timedelta] = []
        self.refuse_after: int | None = None
        self.calls = 0

    def before_call(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls += 1
        if self.refuse_after is None or self.calls <= self.refuse_after:
            return None
        error = {"Code": "AccessDenied", "Message": "User is not authorized to perform: x"}
        response = AWSResponse("https://sts.amazonaws.com", 403, HTTPHeaders(), raw=None)
        return response, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    def after_call(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.lifetimes and "Credentials" in parsed:
            parsed["Credentials"]["Expiration"] = datetime.now(UTC) + self.lifetimes.pop(0)


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sts]:
    answers = Sts()
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [
            *botocore.handlers.BUILTIN_HANDLERS,
            ("before-call.sts.AssumeRole", answers.before_call),
            ("after-call.sts.AssumeRole", answers.after_call),
        ],
    )
    with mock_aws():
        yield answers


def assumed_keys() -> list[str]:
    """The access keys moto handed out for the member role, in order; all with the external id."""
    roles = [r for r in sts_backends[MEMBER_ACCOUNT]["aws"].assumed_roles if r.role_arn == ROLE_ARN]
    assert all(r.external_id == EXTERNAL_ID for r in roles)
    return [r.access_key_id for r in roles]


def signing_keys(client: Any) -> list[str]:
    """The access key of every request `client` sends from now on, from its Authorization."""
    keys: list[str] = []

    def record(request: Any, **_: Any) -> None:
        found = re.search(r"Credential=([^/]+)/", request.headers["Authorization"].decode())
        assert found is not None
        keys.append(found.group(1))

    client.meta.events.register("before-send", record)
    return keys


def test_fresh_credentials_serve_every_call_of_a_client(sts: Sts) -> None:
    # Given a client of a member account's role
    calls: list[tuple[str, str]] = []
    clients = ClientFactory(TARGET, observer=lambda *call: calls.append(call))
    sent_with = signing_keys(clients.client("sts"))
    # When it calls three times within the hour of its credentials
    accounts = {account_id(clients) for _ in range(3)}
    # Then it acted as the role, which it assumed once, with the external id
    assert accounts == {MEMBER_ACCOUNT}
    [key] = assumed_keys()
    assert sent_with == [key] * 3
    assert calls.count(("sts", "AssumeRole")) == 1


def test_a_client_built_once_assumes_the_role_again_before_its_credentials_expire(
    sts: Sts,
) -> None:
    # Given a client built once, whose credentials have 5 minutes left (a warm container)
    sts.lifetimes = [timedelta(minutes=5)]
    clients = ClientFactory(TARGET)
    elbv2 = clients.client("elbv2")
    sent_with = signing_keys(elbv2)
    [old] = assumed_keys()
    # When it calls
    elbv2.describe_load_balancers()
    # Then the role was assumed again first, and the call went out with the new credentials
    [_, new] = assumed_keys()
    assert sent_with == [new]
    # and the new credentials, good for an hour, serve the next calls of every client
    sts_client = clients.client("sts")
    sts_sent_with = signing_keys(sts_client)
    elbv2.describe_load_balancers()
    assert account_id(clients) == MEMBER_ACCOUNT
    assert sent_with == [new, new] and sts_sent_with == [new]
    assert assumed_keys() == [old, new]


def test_credentials_in_their_last_15_minutes_are_renewed_without_blocking(sts: Sts) -> None:
    # Given credentials with 12 minutes left: inside botocore's advisory window, not yet its
    # mandatory one (the last 10 minutes)
    sts.lifetimes = [timedelta(minutes=12)]
    clients = ClientFactory(TARGET)
    # When a call is made, Then the role is assumed again, and the call succeeds
    assert account_id(clients) == MEMBER_ACCOUNT
    assert len(assumed_keys()) == 2


def test_a_refused_renewal_says_which_role_and_what_to_do(sts: Sts) -> None:
    # Given a client whose credentials have 5 minutes left, and a role that now refuses the hub
    sts.lifetimes = [timedelta(minutes=5)]
    sts.refuse_after = 1
    clients = ClientFactory(TARGET)
    # When it calls, Then the call fails with the assume-role error, not an expired token
    with pytest.raises(AccessDeniedError) as excinfo:
        account_id(clients)
    assert f"Cannot assume role {ROLE_ARN}: User is not authorized" in excinfo.value.message
    assert "member-role.yaml" in excinfo.value.remediation
