"""IAM proven by what the code calls: every AWS call a function makes on the local runtime is
granted by that function's policy in the built template (member-role.yaml for the calls
made through a member account's role), and the grants no call used are listed.

The module drives representative paths itself (test order does not matter): a migration per
strategy (probe with an approval gate and a bake alarm, swap-and-watch, weighted), finalize
with the old group and the legacy S3 state deleted, a rollback by replay, a CLI rollback,
and a fleet in a member account whose shop migration is refused and rolls back there. The
call log (local/call_log.py) records each call as IAM authorizes it; tests/e2e/iam.py
evaluates it offline against `.aws-sam/build/template.yaml` (`make build`).
"""

from __future__ import annotations

import json
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.discovery import discover
from ipsync_migrator.local.call_log import CallLog, RecordedCall
from ipsync_migrator.local.demo_estate import seed_demo
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Strategy
from ipsync_migrator.operations import Service
from ipsync_migrator.progress import follow_replay
from tests.e2e.conftest import FAST, finished, wait_until
from tests.e2e.iam import (
    Decision,
    MemberRole,
    Stack,
    Statement,
    action_matches,
    condition_failures,
    evaluate,
    function_policies,
    member_role,
    statement_allows,
)
from tests.release.artefact import BuiltArtefact, build_dir

pytestmark = pytest.mark.timeout(1500)

MEMBER_ACCOUNT = "222222222222"
MEMBER_ROLE_NAME = "ipsync-migrator-member"  # member-role.yaml's RoleName default
EXTERNAL_ID = "iam-test-external-id"
BAKE_ALARM = "ipsync-iam-test-bake-alarm"
FLEET_OPTIONS = {
    "pollSeconds": 1,
    "healthTimeoutSeconds": 60,
    "bakeSeconds": 0,
    "drainSeconds": 0,
    "healthyChecksRequired": 2,
    "alarmNames": [BAKE_ALARM],
}
FLEET_DEADLINE_SECONDS = 480


class UnusedGrantWarning(UserWarning):
    """A grant no recorded call used: remove it, or say in template.yaml why it stays."""


@dataclass(frozen=True)
class Recorded:
    calls: list[RecordedCall]
    stack: Stack
    #: Physical function name -> logical id in the template.
    functions: dict[str, str]
    log_file: Path


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    """The built template (`make build`); without it, the artefact's own clear failure."""
    return BuiltArtefact(build_dir()).template


@pytest.fixture(scope="module")
def recorded(built: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    with LocalRuntime(port=0, seed="demo") as runtime, CallLog() as log:
        drive_hub_paths(runtime)
        drive_member_fleet(runtime)
        stack = deployed_stack(runtime)
        functions = {
            physical: logical
            for logical, (kind, physical) in stack_resources(runtime).items()
            if kind == "AWS::Lambda::Function"
        }
        path = log.dump(tmp_path_factory.mktemp("iam") / "calls.json")
    print(f"{len(log.calls)} recorded authorizations in {path}")
    return Recorded(log.snapshot(), stack, functions, path)


@pytest.fixture(scope="module")
def policies(built: dict[str, Any], recorded: Recorded) -> dict[str, list[Statement]]:
    return function_policies(built, recorded.stack)


@pytest.fixture(scope="module")
def member(recorded: Recorded) -> MemberRole:
    return member_role(MEMBER_ACCOUNT, recorded.stack, EXTERNAL_ID)


# ---- the paths -----------------------------------------------------------------------------


def drive_hub_paths(runtime: LocalRuntime) -> None:
    """In the hub account: each strategy, an approval gate, a bake alarm, a refused cutover
    rolled back with its probe, finalize (old group and S3 state deleted), a rollback by
    replay and one from the CLI, each rollback refilling an old group that lost an IP."""
    assert runtime.demo is not None
    clients = runtime.clients()
    service = Service.connect(clients, runtime.stack_name)
    found = {d.target_group_arn: d for d in discover(clients).deployments}
    demo = runtime.demo
    shop, api, media = (found[g] for g in (demo.shop_tg, demo.api_tg, demo.media_tg))
    put_quiet_alarm(clients)
    # Given legacy state in S3 (finalize's delete_state) and a reserved concurrency that
    # rollback must restore (PutFunctionConcurrency; without one it deletes the setting)
    assert api.s3_bucket
    s3 = clients.client("s3")
    s3.create_bucket(Bucket=api.s3_bucket)
    s3.put_object(Bucket=api.s3_bucket, Key=f"{api.alb_dns_name}/active_ip.json", Body=b"[]")
    clients.client("lambda").put_function_concurrency(
        FunctionName=shop.function.name, ReservedConcurrentExecutions=2
    )
    [media_listener] = media.network_load_balancers[0].listeners
    runtime.realism.add_fault(
        FaultRule(
            "elbv2",
            "ModifyListener",
            error_code="ValidationError",
            message="refused for the IAM test",
            match={"ListenerArn": media_listener.arn},
        )
    )

    shop_options = {
        "strategy": Strategy.PROBE,
        "approve_before_cutover": True,
        "alarm_names": [BAKE_ALARM],
        "bake_seconds": 1,
    }
    api_options = {
        "strategy": Strategy.SWAP_AND_WATCH,
        "delete_target_group": True,
        "delete_state": True,
    }
    runs = [
        service.start(shop, FAST.model_copy(update=shop_options)),
        service.start(api, FAST.model_copy(update=api_options)),
        service.start(media, FAST.model_copy(update={"strategy": Strategy.PROBE})),
    ]
    wait_until(lambda: (r := service.journal.get(shop.id)) is not None and r.approval)
    assert service.approve(shop.id, "iam-test") == "cutover"
    outcomes = [finished(service, started) for started in runs]
    assert [o["status"] for o in outcomes] == ["SUCCEEDED", "SUCCEEDED", "FAILED"], outcomes
    assert outcomes[2]["error"] == "MigrationRolledBack", outcomes[2]
    # media again, weighted, now that its cutover is no longer refused (the replay's window
    # starts here: the refused run's events would be reported superseded by this one)
    since = datetime.now(UTC)
    again = service.start(media, FAST.model_copy(update={"strategy": Strategy.WEIGHTED}))
    assert finished(service, again)["status"] == "SUCCEEDED"

    service.finalize(api.id)
    lose_one_ip(clients, media.target_group_arn)
    until = datetime.now(UTC) + timedelta(seconds=5)
    name = service.replay_rollback(since, until, media.id)
    expected = service.migrations_in_window(since, until, media.id)
    assert follow_replay(service, name, expected) == {media.id: "rolled_back"}
    lose_one_ip(clients, shop.target_group_arn)
    assert service.rollback(shop.id)


def lose_one_ip(clients: ClientFactory, target_group_arn: str) -> None:
    """The old IP group misses one of the ALB's IPs (the sync was off): rollback refills it."""
    elb = clients.client("elbv2")
    health = elb.describe_target_health(TargetGroupArn=target_group_arn)
    first = health["TargetHealthDescriptions"][0]["Target"]
    elb.deregister_targets(TargetGroupArn=target_group_arn, Targets=[first])


def put_quiet_alarm(clients: ClientFactory) -> None:
    clients.client("cloudwatch").put_metric_alarm(
        AlarmName=BAKE_ALARM,
        Namespace="IpsyncMigrator/Test",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def drive_member_fleet(runtime: LocalRuntime) -> None:
    """A fleet over a member account (and an empty region of the hub's): shop's cutover is
    refused there and rolls back, api and media retire; then media is finalized (old group
    and S3 state deleted) and api rolled back from the CLI, both through the member role."""
    role_arn = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{MEMBER_ROLE_NAME}"
    member_clients = ClientFactory(
        AwsTarget(
            region=runtime.region,
            endpoint_url=runtime.endpoint,
            role_arn=role_arn,
            external_id=EXTERNAL_ID,
        )
    )
    estate = seed_demo(member_clients)
    put_quiet_alarm(member_clients)
    found = {d.target_group_arn: d for d in discover(member_clients).deployments}
    shop, api, media = (found[g] for g in (estate.shop_tg, estate.api_tg, estate.media_tg))
    assert media.s3_bucket
    s3 = member_clients.client("s3")
    s3.create_bucket(Bucket=media.s3_bucket)
    s3.put_object(Bucket=media.s3_bucket, Key=f"{media.alb_dns_name}/active_ip.json", Body=b"[]")
    [shop_listener] = shop.network_load_balancers[0].listeners
    runtime.realism.add_fault(
        FaultRule(
            "elbv2",
            "ModifyListener",
            error_code="ValidationError",
            message="refused for the IAM test",
            match={"ListenerArn": shop_listener.arn},
        )
    )
    options = {**FLEET_OPTIONS, "deleteTargetGroup": True, "deleteState": True}
    spec = {
        "targets": [
            {
                "accountId": MEMBER_ACCOUNT,
                "regions": [runtime.region],
                "roleArn": role_arn,
                "externalId": EXTERNAL_ID,
            },
            # The hub's own account, a region without deployments: discovery with its own role.
            {"accountId": deployed_account(runtime), "regions": ["us-west-2"]},
        ],
        "maxConcurrency": 3,
        "toleratedFailurePercentage": 50,
        "options": options,
    }
    service = Service.connect(runtime.clients(), runtime.stack_name)
    sfn = runtime.clients().client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=runtime.outputs["FleetStateMachineArn"],
        name="iam-fleet",
        input=json.dumps(spec),
    )["executionArn"]

    deadline = time.monotonic() + FLEET_DEADLINE_SECONDS
    while not (status := service.fleet_status(arn))["done"]:
        assert time.monotonic() < deadline, "the fleet is still running"
        time.sleep(0.5)
    assert status["status"] == "SUCCEEDED", (
        status["error"],
        status["cause"],
        failed_children(sfn, status),
    )
    counts = status["report"]["counts"]
    assert (counts["succeeded"], counts["failed"]) == (2, 1), counts
    service.finalize(media.id)
    assert service.rollback(api.id)
    states = {d.id: service.journal.get(d.id) for d in (shop, api, media)}
    assert {k: r.state.value for k, r in states.items() if r} == {
        shop.id: "rolled_back",
        api.id: "rolled_back",
        media.id: "finalized",
    }
    runtime.realism.clear_faults()


def failed_children(sfn: Any, status: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Each child migration that did not succeed, with its error and cause."""
    described = (sfn.describe_execution(executionArn=c["executionArn"]) for c in status["children"])
    return [
        (d["name"], d.get("error"), d.get("cause")) for d in described if d["status"] != "SUCCEEDED"
    ]


def deployed_account(runtime: LocalRuntime) -> str:
    return str(runtime.clients().client("sts").get_caller_identity()["Account"])


def stack_resources(runtime: LocalRuntime) -> dict[str, tuple[str, str]]:
    """Logical id -> (type, physical id) of the deployed stack's resources."""
    cfn = runtime.clients().client("cloudformation")
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=runtime.stack_name)
    return {
        r["LogicalResourceId"]: (r["ResourceType"], r["PhysicalResourceId"])
        for page in pages
        for r in page["StackResourceSummaries"]
        if r.get("PhysicalResourceId")
    }


def deployed_stack(runtime: LocalRuntime) -> Stack:
    clients = runtime.clients()
    [stack] = clients.client("cloudformation").describe_stacks(StackName=runtime.stack_name)[
        "Stacks"
    ]
    return Stack(
        name=runtime.stack_name,
        account=deployed_account(runtime),
        region=runtime.region,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        physical_ids={k: physical for k, (_, physical) in stack_resources(runtime).items()},
    )


# ---- the checks ----------------------------------------------------------------------------


def denials(
    calls: list[RecordedCall], statements_for: dict[str, list[Statement]], owner_of: Any
) -> list[tuple[RecordedCall, Decision]]:
    """Each distinct denied call (function, action, resource, context) with its decision."""
    seen, found = set(), []
    for call in calls:
        key = (
            call.function,
            call.role,
            call.action,
            call.resource,
            repr(sorted(call.context.items())),
        )
        if key in seen:
            continue
        seen.add(key)
        decision = evaluate(call, statements_for.get(owner_of(call), []))
        if not decision.allowed:
            found.append((call, decision))
    return found


def report(denied: list[tuple[RecordedCall, Decision]], owner_of: Any) -> str:
    lines = []
    for call, decision in denied:
        closest = decision.closest.describe() if decision.closest else "none"
        lines.append(
            f"- {owner_of(call)} ({call.function}) calls {call.action} on {call.resource} "
            f"({call.service}.{call.operation}); not granted. Closest: {closest}; "
            f"why: {decision.why}"
        )
    return "\n".join(lines)


def hub_calls(recorded: Recorded) -> list[RecordedCall]:
    return [c for c in recorded.calls if not c.assumed]


def member_calls(recorded: Recorded) -> list[RecordedCall]:
    return [c for c in recorded.calls if c.assumed]


def test_every_function_and_the_member_role_made_calls(
    built: dict[str, Any], recorded: Recorded
) -> None:
    # Given the functions of the built template
    functions = {
        name for name, r in built["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    # When the recorded calls are grouped by function
    seen = {recorded.functions.get(c.function, c.function) for c in recorded.calls}
    # Then every function made calls on the paths driven, and so did the member role
    assert functions - seen == set()
    assert seen <= functions, seen - functions
    assert {c.role for c in member_calls(recorded)} == {
        f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{MEMBER_ROLE_NAME}"
    }


def test_only_the_fleets_plan_and_discovery_ask_sts_who_they_are(recorded: Recorded) -> None:
    # Given every call the functions made, in the hub and through member roles
    def owner(call: RecordedCall) -> str:
        return recorded.functions.get(call.function, call.function)

    # When the GetCallerIdentity calls are grouped by function
    asking = {owner(c) for c in recorded.calls if c.action == "sts:GetCallerIdentity"}
    # Then the migration's steps know their account without STS (the stack's account, or
    # the assumed role's); once per fleet, PlanFleet reads the hub's partition and account,
    # and FleetDiscover checks that a member's credentials act in that member's account
    assert asking == {"FleetPlanFunction", "FleetDiscoverFunction"}


def test_every_call_of_a_function_is_granted_by_its_policy_in_the_built_template(
    recorded: Recorded, policies: dict[str, list[Statement]]
) -> None:
    # Given the calls each function made with its own role
    def owner(call: RecordedCall) -> str:
        return recorded.functions.get(call.function, call.function)

    # When each is evaluated against that function's statements
    denied = denials(hub_calls(recorded), policies, owner)
    # Then none is denied
    assert not denied, "Calls the built template does not grant:\n" + report(denied, owner)


def test_every_call_through_a_member_role_is_granted_by_member_role_yaml(
    recorded: Recorded, member: MemberRole
) -> None:
    # Given the calls made with a member account's role (the fleet's migrations there)
    calls = member_calls(recorded)
    assert calls

    def owner(call: RecordedCall) -> str:
        return call.role

    # When each is evaluated against member-role.yaml's policy in that account
    denied = denials(calls, {member.arn: member.statements}, owner)
    # Then none is denied
    assert not denied, "Calls member-role.yaml does not grant:\n" + report(denied, owner)


def test_the_member_role_trusts_the_functions_that_assume_it(
    recorded: Recorded, member: MemberRole
) -> None:
    # Given the AssumeRole calls of the hub's functions on the member role
    assumes = [c for c in hub_calls(recorded) if c.action == "sts:AssumeRole"]
    assert {c.resource for c in assumes} == {member.arn}
    for call in assumes:
        # When member-role.yaml's trust policy is evaluated (its principal: the hub account)
        assert call.role.split(":")[4] == recorded.stack.account
        trusting = [
            s
            for s in member.trust
            if s.effect == "Allow" and not condition_failures(s.condition, call.context)
        ]
        # Then the external id and the hub role's name prefix satisfy it
        assert trusting, (call.function, call.context, [s.condition for s in member.trust])


def used_grants(
    calls: list[RecordedCall], statements_for: dict[str, list[Statement]], owner_of: Any
) -> set[tuple[str, str, str]]:
    """(owner, Sid, action pattern) of every statement that allowed some call."""
    used = set()
    for call in calls:
        for statement in statements_for.get(owner_of(call), []):
            if statement.effect == "Allow" and statement_allows(statement, call):
                used.update(
                    (statement.owner, statement.sid, pattern)
                    for pattern in statement.actions
                    if action_matches(pattern, call.action)
                )
    return used


def unused_grants(
    calls: list[RecordedCall], statements_for: dict[str, list[Statement]], owner_of: Any
) -> list[tuple[str, str, str]]:
    used = used_grants(calls, statements_for, owner_of)
    granted = {
        (s.owner, s.sid, pattern)
        for statements in statements_for.values()
        for s in statements
        if s.effect == "Allow"
        for pattern in s.actions
    }
    return sorted(granted - used)


def test_grants_no_recorded_call_used_are_listed(
    recorded: Recorded, policies: dict[str, list[Statement]], member: MemberRole
) -> None:
    # Given every grant of the functions' policies and of member-role.yaml
    def hub_owner(call: RecordedCall) -> str:
        return recorded.functions.get(call.function, call.function)

    unused = unused_grants(hub_calls(recorded), policies, hub_owner)
    unused += unused_grants(
        member_calls(recorded), {member.arn: member.statements}, lambda c: c.role
    )
    # When no recorded call used one, Then it is listed (a warning each, and printed)
    by_owner: dict[str, list[str]] = defaultdict(list)
    for owner, sid, action in unused:
        by_owner[owner].append(f"{sid}: {action}")
        warnings.warn(
            UnusedGrantWarning(f"{owner} grants {action} ({sid}), which no recorded call used"),
            stacklevel=1,
        )
    print("\nGrants no recorded call used (explained in template.yaml / member-role.yaml):")
    for owner, grants in sorted(by_owner.items()):
        print(f"  {owner}: {', '.join(grants)}")


# ---- the checker itself fails when a grant is missing ----------------------------------------


def without(statements: list[Statement], sid: str) -> list[Statement]:
    kept = [s for s in statements if s.sid != sid]
    assert len(kept) < len(statements), f"no statement {sid}"
    return kept


def test_dropping_any_statement_that_alone_allows_a_call_fails_the_check_naming_it(
    recorded: Recorded, policies: dict[str, list[Statement]]
) -> None:
    # Given each function's calls and each statement of its policy
    def owner(call: RecordedCall) -> str:
        return recorded.functions.get(call.function, call.function)

    calls_of: dict[str, list[RecordedCall]] = defaultdict(list)
    for call in hub_calls(recorded):
        calls_of[owner(call)].append(call)
    checked = 0
    for function, statements in policies.items():
        for statement in statements:
            rest = [s for s in statements if s is not statement]
            alone = [
                c
                for c in calls_of[function]
                if statement_allows(statement, c) and not evaluate(c, rest).allowed
            ]
            if not alone:
                continue
            # When the statement is dropped from the policy
            denied = denials(alone, {function: rest}, owner)
            # Then the check reports those calls, naming function, action and resource
            assert denied, (function, statement.sid)
            text = report(denied, owner)
            assert function in text and alone[0].action in text and alone[0].resource in text
            checked += 1
    assert checked >= len(policies)  # at least one statement per function carries weight


def test_a_wrong_tag_condition_or_scope_fails_the_check_with_the_closest_statement(
    recorded: Recorded, policies: dict[str, list[Statement]], member: MemberRole
) -> None:
    # Given CreateTargetGroup's grant, wanting another ownership tag value
    statements = policies["CreateTargetGroupFunction"]
    retagged = [
        replace(s, condition={"StringEquals": {"aws:RequestTag/ipsync-migrator:managed-by": "x"}})
        if s.sid == "CreateOwnTargetGroup"
        else s
        for s in statements
    ]
    create = next(
        c
        for c in hub_calls(recorded)
        if c.action == "elasticloadbalancing:CreateTargetGroup"
        and recorded.functions[c.function] == "CreateTargetGroupFunction"
    )
    assert evaluate(create, statements).allowed
    # When the recorded CreateTargetGroup is evaluated
    decision = evaluate(create, retagged)
    # Then it is denied, and the closest statement is that one, failing on the condition
    assert not decision.allowed
    assert decision.closest is not None and decision.closest.sid == "CreateOwnTargetGroup"
    assert "condition fails" in decision.why and "managed-by" in decision.why
    # and a member-account listener switch outside member-role.yaml's scope is denied too
    switch = next(
        c for c in member_calls(recorded) if c.action == "elasticloadbalancing:ModifyListener"
    )
    moved = replace(switch, resource=switch.resource.replace(":listener/net/", ":listener/app/"))
    assert not evaluate(moved, member.statements).allowed
    assert evaluate(switch, member.statements).allowed
    assert not evaluate(switch, without(member.statements, "SwitchNlbListeners")).allowed


# ---- the evaluator on its own (no runtime) ---------------------------------------------------


def call(action: str, resource: str, **context: Any) -> RecordedCall:
    return RecordedCall(
        function="f",
        role="arn:aws:iam::123456789012:role/r",
        assumed=False,
        service="elbv2",
        operation=action.split(":")[1],
        action=action,
        resource=resource,
        context=context,
    )


def allow(actions: list[str], resources: list[str], condition: Any = None) -> Statement:
    return Statement("F", "S", "Allow", tuple(actions), tuple(resources), condition or {})


LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/net/nlb/1/2"


def test_actions_match_case_insensitively_with_wildcards() -> None:
    assert evaluate(
        call("elasticloadbalancing:ModifyListener", "*"),
        [allow(["elasticloadbalancing:modify*"], ["*"])],
    ).allowed
    assert not evaluate(
        call("elasticloadbalancing:DeleteListener", "*"),
        [allow(["elasticloadbalancing:Modify*"], ["*"])],
    ).allowed


def test_resources_match_segment_by_segment() -> None:
    scoped = allow(
        ["elasticloadbalancing:ModifyListener"],
        ["arn:aws:elasticloadbalancing:*:123456789012:listener/net/*"],
    )
    assert evaluate(call("elasticloadbalancing:ModifyListener", LISTENER), [scoped]).allowed
    # another account; an application load balancer's listener; an action on "*" only
    assert not evaluate(
        call(
            "elasticloadbalancing:ModifyListener", LISTENER.replace("123456789012", "210987654321")
        ),
        [scoped],
    ).allowed
    assert not evaluate(
        call("elasticloadbalancing:ModifyListener", LISTENER.replace("/net/", "/app/")), [scoped]
    ).allowed
    assert not evaluate(call("elasticloadbalancing:ModifyListener", "*"), [scoped]).allowed
    # a wildcard stays inside its segment; "*" alone is any resource; S3 ARNs have no region
    functions = allow(["lambda:GetPolicy"], ["arn:aws:lambda:*:123456789012:function:*"])
    other = "arn:aws:lambda:us-east-1:123456789012:layer:x:1"
    assert not evaluate(call("lambda:GetPolicy", other), [functions]).allowed
    assert evaluate(call("lambda:GetPolicy", other), [allow(["lambda:GetPolicy"], ["*"])]).allowed
    objects = allow(["s3:DeleteObject"], ["arn:aws:s3:::*"])
    assert evaluate(call("s3:DeleteObject", "arn:aws:s3:::b/k/1"), [objects]).allowed


def test_conditions_on_tags_and_absent_keys() -> None:
    tagged = allow(
        ["elasticloadbalancing:DeleteListener"],
        ["*"],
        {"StringEquals": {"elasticloadbalancing:ResourceTag/owner": "us"}},
    )
    key = "elasticloadbalancing:ResourceTag/owner"
    assert evaluate(
        call("elasticloadbalancing:DeleteListener", LISTENER, **{key: "us"}), [tagged]
    ).allowed
    assert not evaluate(
        call("elasticloadbalancing:DeleteListener", LISTENER, **{key: "them"}), [tagged]
    ).allowed
    decision = evaluate(call("elasticloadbalancing:DeleteListener", LISTENER), [tagged])
    assert not decision.allowed and "condition fails" in decision.why  # an untagged listener
    # negated operators and IfExists hold for an absent key, Null tests presence
    assert not condition_failures({"StringNotEquals": {"aws:RequestTag/x": "y"}}, {})
    assert not condition_failures({"StringEqualsIfExists": {"aws:RequestTag/x": "y"}}, {})
    assert condition_failures({"Null": {"aws:RequestTag/x": "false"}}, {})
    assert not condition_failures(
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}
    )
    assert condition_failures(
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "c"]}
    )
    # an operator the evaluator does not model proves nothing
    assert condition_failures(
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}, {"aws:CurrentTime": "2030-01-01"}
    )


def test_an_explicit_deny_wins() -> None:
    deny = Statement("F", "D", "Deny", ("elasticloadbalancing:*",), ("*",), {})
    assert not evaluate(
        call("elasticloadbalancing:ModifyListener", LISTENER), [allow(["*"], ["*"]), deny]
    ).allowed
