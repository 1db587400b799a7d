"""The real-account run refuses to start unless the caller names its credentials' account.

STS answers from the in-process emulator, whose credentials are account 123456789012.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ipsync_migrator.clients import ClientFactory
from tests.acceptance.endpoints import AwsEndpoint, Refused, main

pytestmark = pytest.mark.skipif(
    os.environ.get("IPSYNC_ACCEPTANCE_ENDPOINT") == "aws",
    reason="emulator-only checks of the guard; `make acceptance` runs the story",
)

EMULATED_ACCOUNT = "123456789012"


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, str]:
    """A built template and a SAM CLI where the run looks for them."""
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "sam").write_text("#!/bin/sh\n")
    return {"IPSYNC_BUILD_DIR": str(tmp_path / "build"), "SAM": str(tmp_path / "sam")}


def refusal(env: dict[str, str]) -> Refused:
    with pytest.raises(Refused) as refused:
        AwsEndpoint.from_env(env)
    return refused.value


def test_without_a_named_account_it_refuses_and_says_how_to_name_one(
    aws: ClientFactory, tools: dict[str, str]
) -> None:
    # Given credentials (the emulator's) but no account named
    # When the real-account endpoint is asked for
    refused = refusal({**tools, "IPSYNC_ACCEPTANCE_REGION": "eu-west-1"})
    # Then it refuses, with the command that names one
    assert "no account was named" in refused.message
    assert "make acceptance ACCOUNT=123456789012 REGION=eu-west-1" in refused.fix
    assert str(refused).startswith("error: ") and "\nfix: " in str(refused)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IPSYNC_ACCEPTANCE_ACCOUNT": "12345"}, "'12345' is not an AWS account id"),
        ({"IPSYNC_ACCEPTANCE_ACCOUNT": EMULATED_ACCOUNT}, "No region named"),
        (
            {
                "IPSYNC_ACCEPTANCE_ACCOUNT": EMULATED_ACCOUNT,
                "IPSYNC_ACCEPTANCE_REGION": "eu-west-1",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            },
            "AWS_ENDPOINT_URL is set",
        ),
    ],
    ids=["malformed account", "no region", "an endpoint url"],
)
def test_a_malformed_request_is_refused_before_asking_aws(
    aws: ClientFactory, tools: dict[str, str], env: dict[str, str], message: str
) -> None:
    # Given a request to run against a real account that is incomplete or points elsewhere
    # When the endpoint is asked for
    refused = refusal({**tools, **env})
    # Then it refuses, saying what is wrong
    assert message in refused.message


def test_credentials_of_another_account_are_refused_naming_both_accounts(
    aws: ClientFactory, tools: dict[str, str]
) -> None:
    # Given credentials of the emulated account, and another account named
    env = {
        **tools,
        "IPSYNC_ACCEPTANCE_ACCOUNT": "111122223333",
        "IPSYNC_ACCEPTANCE_REGION": "us-east-1",
    }
    # When the endpoint is asked for
    refused = refusal(env)
    # Then it refuses: the credentials are not the named account's
    assert f"credentials are for account {EMULATED_ACCOUNT}" in refused.message
    assert "not the named account 111122223333" in refused.message


def test_the_named_account_of_the_credentials_is_accepted_once_the_stack_is_built(
    aws: ClientFactory, tools: dict[str, str], tmp_path: Path
) -> None:
    # Given the credentials' own account and a region named
    env = {"IPSYNC_ACCEPTANCE_ACCOUNT": EMULATED_ACCOUNT, "IPSYNC_ACCEPTANCE_REGION": "us-east-1"}

    # When the endpoint is asked for, without and then with the `make build` artefact
    unbuilt = refusal({**env, "IPSYNC_BUILD_DIR": str(tmp_path / "nothing"), "SAM": tools["SAM"]})
    endpoint = AwsEndpoint.from_env({**env, **tools})

    # Then it wants the build first, and then it is the named account and region
    assert "make build" in unbuilt.fix
    assert (endpoint.account, endpoint.region) == (EMULATED_ACCOUNT, "us-east-1")
    assert endpoint.global_options() == ["--region", "us-east-1"]


def test_the_cleanup_command_refuses_without_a_real_account(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no endpoint selected
    monkeypatch.delenv("IPSYNC_ACCEPTANCE_ENDPOINT", raising=False)
    # When the cleanup command runs
    code = main(["teardown", "abcd1234"])
    # Then it refuses with exit code 2 and says what to set
    assert code == 2
    assert "fix: Set IPSYNC_ACCEPTANCE_ENDPOINT=aws" in capsys.readouterr().err
