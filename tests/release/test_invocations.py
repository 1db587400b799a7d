"""Every built handler, invoked with its events/ sample, from the artefact, against the emulator.

The template is deployed into a moto server (the local runtime) with the demo estate; each
handler then runs in the stand-in for Lambda's python3.13 (only boto3 installed), from the
built function and its layer, with the environment the deployed function has. The samples
are aimed at the demo's deployments and chained the way the state machine chains the steps,
so each step finds the state its predecessor left.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator import errors
from ipsync_migrator.local.lambda_bridge import FAKE_CREDENTIALS
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.naming import TAG_MIGRATION_ID
from tests.release.artefact import ROOT, BuiltArtefact, BuiltFunction, LambdaPython
from tests.release.conftest import lambda_paths

pytestmark = pytest.mark.timeout(900)

EVENTS = ROOT / "events"
#: The project's own error names: a handler that fails with one of these ran as designed.
DOMAIN_ERRORS = {
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.IpsyncError)
}
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
FAST_OPTIONS = {
    "pollSeconds": 1,
    "healthyChecksRequired": 2,
    "healthTimeoutSeconds": 60,
    "bakeSeconds": 0,
    "drainSeconds": 0,
}


class BuiltLambda:
    """Invokes the built functions as the deployed stack's functions, from the artefact."""

    def __init__(
        self,
        runtime: LocalRuntime,
        artefact: BuiltArtefact,
        python: LambdaPython,
        overlays: dict[Path, Path | None],
    ) -> None:
        self.runtime, self.python, self.overlays = runtime, python, overlays
        self.functions = {f.logical_id: f for f in artefact.functions}
        cfn = runtime.clients().client("cloudformation")
        resources = cfn.describe_stack_resources(StackName=runtime.stack_name)["StackResources"]
        self.names = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r.get("ResourceType") == "AWS::Lambda::Function"
        }
        self.invoked: set[str] = set()

    def environment(self, logical_id: str) -> dict[str, str]:
        configuration = (
            self.runtime.clients()
            .client("lambda")
            .get_function_configuration(FunctionName=self.names[logical_id])
        )
        return {
            **configuration.get("Environment", {}).get("Variables", {}),
            **FAKE_CREDENTIALS,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.runtime.endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": self.names[logical_id],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            # What Lambda sets with active tracing; the segments go to an absent daemon (UDP).
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        }

    def __call__(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        function: BuiltFunction = self.functions[logical_id]
        self.invoked.add(logical_id)
        return self.python.run(
            lambda_paths(function.python_paths, self.overlays),
            {
                "invoke": {
                    "handler": function.handler,
                    "event": event,
                    "functionName": self.names[logical_id],
                }
            },
            env=self.environment(logical_id),
        )

    def ok(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        outcome = self(logical_id, event)
        assert "result" in outcome, (logical_id, outcome)
        result: dict[str, Any] = outcome["result"]
        return result


def sample(relative: str, **replace: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    assert replace.keys() <= data.keys(), f"{relative} lacks {replace.keys() - data.keys()}"
    return {**data, **replace}


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(port=0, seed="demo") as started:
        yield started


@pytest.fixture(scope="module")
def built_lambda(
    runtime: LocalRuntime,
    artefact: BuiltArtefact,
    lambda_python: LambdaPython,
    overlays: dict[Path, Path | None],
) -> BuiltLambda:
    return BuiltLambda(runtime, artefact, lambda_python, overlays)


def plan(invoke: BuiltLambda, target_group_arn: str) -> dict[str, Any]:
    preflight = sample("preflight.json", targetGroupArn=target_group_arn)
    preflight["options"] = {**preflight["options"], **FAST_OPTIONS}
    result = invoke.ok("PreflightFunction", preflight)
    assert result["verdict"] == "migratable", result
    return result


def step(name: str, migration_id: str) -> dict[str, Any]:
    return sample(f"{name}.json", migrationId=migration_id)


def test_the_built_steps_migrate_and_finalize_the_shop(
    runtime: LocalRuntime, built_lambda: BuiltLambda
) -> None:
    assert runtime.demo is not None
    invoke = built_lambda
    # Given the preflight sample aimed at the demo's shop deployment
    migration_id = plan(invoke, runtime.demo.shop_tg)["migrationId"]

    # When the built steps run in the state machine's order
    invoke.ok("CreateTargetGroupFunction", step("create_target_group", migration_id))
    invoke.ok("AttachProbeFunction", step("attach_probe", migration_id))
    deadline = time.monotonic() + 180
    health = invoke.ok("CheckHealthFunction", step("check_health", migration_id))
    while health["gate"] == "pending" and time.monotonic() < deadline:
        time.sleep(1)
        health = invoke.ok("CheckHealthFunction", step("check_health", migration_id))
    assert health["gate"] == "passed", health
    invoke.ok("CutoverFunction", step("cutover", migration_id))
    invoke.ok("ReleaseProbeFunction", step("release_probe", migration_id))
    assert invoke.ok("VerifyBakeFunction", step("verify_bake", migration_id))["gate"] == "passed"
    invoke.ok("RetireLegacyFunction", step("retire_legacy", migration_id))
    invoke.ok("FinalizeFunction", step("finalize", migration_id))

    # Then the production listener forwards to the new group and the legacy function is gone
    elbv2 = runtime.clients().client("elbv2")
    nlb = elbv2.describe_load_balancers(Names=["shop-nlb"])["LoadBalancers"][0]
    listeners = elbv2.describe_listeners(LoadBalancerArn=nlb["LoadBalancerArn"])["Listeners"]
    forwarded = {
        action["TargetGroupArn"]
        for listener in listeners
        for action in listener["DefaultActions"]
        if action.get("TargetGroupArn")
    }
    kinds = {
        tg["TargetType"]
        for tg in elbv2.describe_target_groups(TargetGroupArns=sorted(forwarded))["TargetGroups"]
    }
    assert kinds == {"alb"}, listeners
    functions = runtime.clients().client("lambda").list_functions()["Functions"]
    assert "shop-alb-ip-sync" not in {f["FunctionName"] for f in functions}


def test_the_built_approval_and_rollback_steps_release_a_migration(
    runtime: LocalRuntime, built_lambda: BuiltLambda
) -> None:
    assert runtime.demo is not None
    invoke = built_lambda
    # Given a planned media migration with its new group created, waiting at the cutover gate
    migration_id = plan(invoke, runtime.demo.media_tg)["migrationId"]
    invoke.ok("CreateTargetGroupFunction", step("create_target_group", migration_id))
    assert owned_groups(runtime, migration_id)
    invoke.ok("RequestApprovalFunction", step("request_approval", migration_id))

    # When the rollback sample and then the replayed event sample arrive for it
    rolled_back = invoke.ok("RollbackFunction", step("rollback", migration_id))
    replayed = sample("replay_rollback.json")
    replayed["detail"] = {**replayed["detail"], "migrationId": migration_id}
    again = invoke("ReplayRollbackFunction", replayed)

    # Then the migration is rolled back once, and the replay ran to a journaled answer
    assert rolled_back, rolled_back
    assert "result" in again or again.get("errorType") in DOMAIN_ERRORS, again
    assert owned_groups(runtime, migration_id) == [], "rollback left the new group behind"


def owned_groups(runtime: LocalRuntime, migration_id: str) -> list[str]:
    """The target groups tagged as this migration's."""
    elbv2 = runtime.clients().client("elbv2")
    arns = [tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]]
    descriptions = elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"] if arns else []
    return [
        d["ResourceArn"]
        for d in descriptions
        if {"Key": TAG_MIGRATION_ID, "Value": migration_id} in d["Tags"]
    ]


def test_the_built_fleet_steps_answer_their_samples(built_lambda: BuiltLambda) -> None:
    # Given the fleet samples (a member account that cannot be assumed in the emulator)
    # When the built fleet functions are invoked with them
    planned = built_lambda("FleetPlanFunction", sample("fleet_plan.json"))
    discovered = built_lambda("FleetDiscoverFunction", sample("fleet_discover.json"))
    gathered = built_lambda("FleetGatherFunction", sample("fleet_gather.json"))
    reported = built_lambda("FleetReportFunction", sample("fleet_report.json"))
    # Then each ran its code: a result, or one of the project's own errors (never an import
    # or attribute error, which a broken artefact gives)
    for outcome in (planned, discovered, gathered, reported):
        assert "result" in outcome or outcome.get("errorType") in DOMAIN_ERRORS, outcome


def test_every_built_function_was_invoked(built_lambda: BuiltLambda) -> None:
    # Runs last in this module: the tests above must have invoked every function the build has
    assert set(built_lambda.functions) - built_lambda.invoked == set()
