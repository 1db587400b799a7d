"""Client retry budgets: one call inside Lambda ends well before the function's timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.loaders
import cfnlint.decode
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.retries.standard import (
    ExponentialBackoff,
    RetryContext,
    RetryEventAdapter,
    ThrottlingErrorDetector,
)

from ipsync_migrator.clients import (
    CLI_CONFIG,
    CLI_INVOKE_CONFIG,
    LAMBDA_CONFIG,
    ClientFactory,
    botocore_config,
    worst_case_seconds,
)
from ipsync_migrator.config import AwsTarget

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
#: The functions the CLI invokes synchronously (operations.Service.rollback / finalize).
INVOKED_BY_THE_CLI = ("RollbackFunction", "FinalizeFunction")
SERVICES = ("elbv2", "lambda", "sts", "dynamodb", "events", "cloudformation")


@pytest.fixture(scope="module")
def timeouts() -> dict[str, int]:
    """Each function's timeout in seconds (its own, or the Globals' one)."""
    template, problems = cfnlint.decode.decode(str(TEMPLATE))
    assert not problems, problems
    default = template["Globals"]["Function"]["Timeout"]
    found = {
        name: resource["Properties"].get("Timeout", default)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert found and all(isinstance(t, int) for t in found.values()), found
    return found


def test_one_call_inside_lambda_ends_before_any_function_times_out(
    timeouts: dict[str, int],
) -> None:
    # Given the shortest function timeout of the template
    shortest = min(timeouts.values())
    # When the worst case of one call is computed for every client a function builds
    worst = max(worst_case_seconds(botocore_config(AwsTarget(in_lambda=True), s)) for s in SERVICES)
    # Then it fits, with room left for the step's other work (34 s of 60 s today)
    assert worst == worst_case_seconds(LAMBDA_CONFIG) == 34
    assert worst < shortest


def test_the_cli_waits_for_an_invoke_longer_than_the_invoked_function_can_run(
    timeouts: dict[str, int],
) -> None:
    # Given the functions the CLI invokes and waits for
    longest = max(timeouts[name] for name in INVOKED_BY_THE_CLI)
    # When the CLI's Lambda client reads, Then it outwaits them: a read timeout would retry
    # the Invoke (a second rollback) while the first one still runs
    read_timeout = botocore_config(AwsTarget(), "lambda").read_timeout
    assert read_timeout == CLI_INVOKE_CONFIG.read_timeout > longest
    # and the other services keep the shorter read timeout
    assert botocore_config(AwsTarget(), "elbv2") is CLI_CONFIG
    assert (worst_case_seconds(CLI_CONFIG), worst_case_seconds(CLI_INVOKE_CONFIG)) == (464, 824)


def _botocore_longest_wait(attempt: int) -> float:
    """botocore's own delay after a throttled `attempt`, its jitter at the top, Retry-After huge."""
    backoff = ExponentialBackoff(
        random=lambda: 1.0, throttling_detector=ThrottlingErrorDetector(RetryEventAdapter())
    )
    headers = HTTPHeaders()
    headers["x-amz-retry-after"] = "3600000"  # milliseconds
    response = AWSResponse("https://x", 400, headers, raw=None)
    context = RetryContext(
        attempt_number=attempt,
        parsed_response={"Error": {"Code": "Throttling"}},
        http_response=response,
    )
    return float(backoff.delay_amount(context))


@pytest.mark.parametrize("attempts", [1, 2, 3, 6, 9, 12])
def test_the_worst_case_waits_what_botocore_waits(attempts: int) -> None:
    # Given a config whose attempts take no time, so only the waits between them count
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=0,
        read_timeout=0,
    )
    # When its worst case is computed, Then it is botocore's longest waits, 20 s cap included
    assert worst_case_seconds(config) == sum(_botocore_longest_wait(i) for i in range(1, attempts))


def test_the_worst_case_counts_every_attempt_and_adaptive_rate_limiting() -> None:
    # Given 3 attempts of 1 s + 2 s, written as total attempts or as retries (botocore adds one)
    timeouts: dict[str, Any] = {"connect_timeout": 1, "read_timeout": 2}
    total = Config(retries={"mode": "standard", "total_max_attempts": 3}, **timeouts)
    retries = Config(retries={"mode": "standard", "max_attempts": 2}, **timeouts)
    adaptive = Config(retries={"mode": "adaptive", "total_max_attempts": 3}, **timeouts)
    # Then each is 9 s of attempts + 13 s of waits, and adaptive up to 2 s more per send
    assert worst_case_seconds(total) == worst_case_seconds(retries) == 9 + 13
    assert worst_case_seconds(adaptive) == 9 + 13 + 6
    # and legacy mode, whose waits differ by service, is refused rather than guessed
    with pytest.raises(ValueError, match="legacy"):
        worst_case_seconds(Config(retries={"mode": "legacy"}))


def test_inside_lambda_the_factory_builds_clients_with_the_lambda_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the variables the Lambda runtime sets
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ipsync-migrator-Cutover")
    target = AwsTarget.from_env()
    # When clients are built
    clients = ClientFactory(target)
    # Then every one retries in standard mode within the Lambda budget
    assert target.in_lambda
    for service in SERVICES:
        config = clients.client(service).meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": 3}
        assert (config.connect_timeout, config.read_timeout) == (2, 5)


def test_outside_lambda_the_factory_builds_patient_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a person's machine
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    clients = ClientFactory(AwsTarget.from_env(region="eu-west-1"))
    # When clients are built, Then they retry adaptively, the Lambda client reading longest
    elbv2, lambda_ = clients.client("elbv2").meta.config, clients.client("lambda").meta.config
    assert elbv2.retries == lambda_.retries == {"mode": "adaptive", "total_max_attempts": 9}
    assert (elbv2.read_timeout, lambda_.read_timeout) == (30, 70)


def test_inside_the_emulators_lambda_clients_keep_the_retries_but_read_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a handler that the local runtime runs, against its loopback endpoint
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ipsync-migrator-Cutover")
    target = AwsTarget.from_env(endpoint_url="http://127.0.0.1:4566")
    # When clients are built
    config = ClientFactory(target).client("elbv2").meta.config
    # Then they retry as in Lambda, but wait for an emulator busy with other handlers
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert (config.connect_timeout, config.read_timeout) == (2, 60)


def test_a_second_factory_builds_its_clients_without_parsing_the_sdk_models_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a factory that has built its clients (the SDK's models are parsed by then)
    def build(region: str) -> None:
        factory = ClientFactory(AwsTarget(region=region, endpoint_url="http://127.0.0.1:9"))
        for service in ("elbv2", "dynamodb", "events", "sts"):
            factory.client(service)

    build("us-east-1")
    parsed: list[str] = []
    original = botocore.loaders.JSONFileLoader.load_file

    def counting(self: Any, file_path: str) -> Any:
        parsed.append(file_path)
        return original(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counting)
    paths_before = list(loaders_search_paths())

    # When another factory (another target: a fleet's next region) builds the same clients
    build("eu-west-1")

    # Then no model file is read again, and the shared loader's paths did not grow
    assert parsed == []
    assert loaders_search_paths() == paths_before


def loaders_search_paths() -> list[str]:
    """The search paths of the loader a new factory's session uses."""
    factory = ClientFactory(AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
    loader = factory.client("sts")._loader  # a botocore client keeps its session's loader
    return list(loader.search_paths)
