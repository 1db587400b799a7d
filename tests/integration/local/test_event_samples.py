"""The events/ samples run as they are on the local runtime (as `sam local invoke -e` would).

Only the target group ARN is swapped for the demo shop's (moto makes up its own ARN suffix).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator.local.runtime import LocalRuntime

pytestmark = pytest.mark.timeout(600)

EVENTS = Path(__file__).resolve().parents[3] / "events"
EXECUTION_DEADLINE_SECONDS = 120


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    rt = LocalRuntime(port=0, seed="demo").start()
    try:
        yield rt
    finally:
        rt.stop()


def sample(relative: str, **replace: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    assert replace.keys() <= data.keys(), f"{relative} lacks {replace.keys() - data.keys()}"
    return {**data, **replace}


def invoke(rt: LocalRuntime, output: str, payload: Any) -> tuple[str | None, dict[str, Any]]:
    response = (
        rt.clients()
        .client("lambda")
        .invoke(FunctionName=rt.outputs[output], Payload=json.dumps(payload).encode())
    )
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_preflight_sample_plans_the_shop_migration(runtime: LocalRuntime) -> None:
    # Given events/preflight.json aimed at the demo's shop target group (v1, migratable)
    assert runtime.demo is not None
    shop_tg = runtime.demo.shop_tg
    payload = sample("preflight.json", targetGroupArn=shop_tg)

    # When the Preflight function is invoked with it
    error, result = invoke(runtime, "PreflightFunctionArn", payload)

    # Then the handler plans the migration
    assert error is None, result
    assert result["verdict"] == "migratable"
    assert result["migrationId"].startswith("shop-ip-tg-")
    assert result["plan"]["targetGroupArn"] == shop_tg
    if result["resumed"]:
        return  # the execution below ran first and the migration is already done
    # and events/rollback.json releases the fresh record (it holds the sample's production
    # timings and owner), so the execution below starts afresh whichever test runs first
    error, rolled_back = invoke(
        runtime, "RollbackFunctionArn", sample("rollback.json", migrationId=result["migrationId"])
    )
    assert error is None, rolled_back


def test_migrate_fast_sample_runs_the_state_machine(runtime: LocalRuntime) -> None:
    # Given events/statemachine/migrate-fast.json aimed at the demo's shop target group
    assert runtime.demo is not None
    payload = sample("statemachine/migrate-fast.json", targetGroupArn=runtime.demo.shop_tg)
    sfn = runtime.clients().client("stepfunctions")

    # When one execution runs it
    arn = sfn.start_execution(
        stateMachineArn=runtime.outputs["StateMachineArn"],
        name="event-sample-migrate-fast",
        input=json.dumps(payload),
    )["executionArn"]
    started = time.monotonic()
    execution = sfn.describe_execution(executionArn=arn)
    while execution["status"] == "RUNNING":
        if time.monotonic() - started > EXECUTION_DEADLINE_SECONDS:
            pytest.fail(f"execution still RUNNING after {EXECUTION_DEADLINE_SECONDS} s")
        time.sleep(0.2)
        execution = sfn.describe_execution(executionArn=arn)

    # Then it succeeds
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
