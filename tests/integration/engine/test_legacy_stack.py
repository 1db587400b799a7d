"""finalize --delete-stack: a legacy stack holding only the legacy deployment is deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import StepPreconditionError
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.estate import LEGACY_HANDLER, EstateBuilder
from ipsync_migrator.local.realism import Realism
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.legacy_stack import delete_legacy_stack, foreign_resources
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.retire import finalize
from tests.integration.engine.conftest import FAST
from tests.integration.engine.test_failures import OWNER, pipeline


def legacy_stack(alb_dns: str, tg_arn: str, extra: dict[str, Any] | None = None) -> str:
    """The published template's shape: role, function, schedule rule, invoke permission."""
    env = {
        "ALB_DNS_NAME": alb_dns,
        "ALB_LISTENER": "80",
        "NLB_TG_ARN": tg_arn,
        "S3_BUCKET": "state",
        "MAX_LOOKUP_PER_INVOCATION": "50",
        "INVOCATIONS_BEFORE_DEREGISTRATION": "3",
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    resources: dict[str, Any] = {
        "LambdaIAMRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": trust},
        },
        "LambdaFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "stacked-sync",
                "Runtime": "python3.13",
                "Handler": LEGACY_HANDLER,
                "Role": {"Fn::GetAtt": ["LambdaIAMRole", "Arn"]},
                "Code": {"ZipFile": "def lambda_handler(event, context):\n    pass\n"},
                "Environment": {"Variables": env},
            },
        },
        "ScheduledRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": "stacked-sync-schedule",
                "ScheduleExpression": "rate(1 minute)",
                "Targets": [
                    {"Id": "TargetFunctionV1", "Arn": {"Fn::GetAtt": ["LambdaFunction", "Arn"]}}
                ],
            },
        },
        **(extra or {}),
    }
    return json.dumps({"Resources": resources})


def migrate_stacked(aws: ClientFactory, ctx: StepContext, extra: dict[str, Any] | None) -> str:
    b = EstateBuilder(aws)
    vpc = b.vpc()
    alb, nlb = b.alb("stacked-alb", vpc), b.nlb("stacked-nlb", vpc)
    tg = b.ip_target_group("stacked-ip-tg", vpc)
    b.listener(nlb, 80, tg)
    aws.client("cloudformation").create_stack(
        StackName="legacy-sync", TemplateBody=legacy_stack(alb.dns_name, tg, extra)
    )
    # CloudFormation tags what it creates with the stack name; moto's does not.
    lam = aws.client("lambda")
    arn = lam.get_function(FunctionName="stacked-sync")["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"aws:cloudformation:stack-name": "legacy-sync"})
    mid = preflight(ctx, tg, OWNER, FAST)["migrationId"]
    for step in pipeline(ctx, mid):
        step()
    return mid


def test_stack_holding_only_the_legacy_deployment_is_deleted(
    aws: ClientFactory, realism: Realism, ctx: StepContext
) -> None:
    mid = migrate_stacked(aws, ctx, extra=None)

    assert delete_legacy_stack(ctx, mid) == {"deletedStack": "legacy-sync"}
    finalize(ctx, mid)  # finishes idempotently: everything is already gone

    stacks = aws.client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in stacks if s["StackName"] == "legacy-sync"] == [
        "DELETE_COMPLETE"
    ]
    names = [f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]]
    assert "stacked-sync" not in names
    record = ctx.journal.get(mid)
    assert record is not None and record.state == MigrationState.FINALIZED


def test_stack_holding_anything_else_is_refused_and_kept(
    aws: ClientFactory, realism: Realism, ctx: StepContext
) -> None:
    extra = {"Reports": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "reports"}}}
    mid = migrate_stacked(aws, ctx, extra)

    with pytest.raises(StepPreconditionError, match=r"Reports \(AWS::S3::Bucket\)"):
        delete_legacy_stack(ctx, mid)

    stack = aws.client("cloudformation").describe_stacks(StackName="legacy-sync")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_foreign_resources_name_other_functions_and_rules() -> None:
    resources = [
        {
            "LogicalResourceId": "Fn",
            "ResourceType": "AWS::Lambda::Function",
            "PhysicalResourceId": "sync",
        },
        {
            "LogicalResourceId": "Other",
            "ResourceType": "AWS::Lambda::Function",
            "PhysicalResourceId": "api",
        },
        {
            "LogicalResourceId": "Rule",
            "ResourceType": "AWS::Events::Rule",
            "PhysicalResourceId": "nightly",
        },
        {"LogicalResourceId": "Role", "ResourceType": "AWS::IAM::Role", "PhysicalResourceId": "r"},
    ]
    assert foreign_resources(resources, "sync", {"sync-schedule"}) == [
        "Other (another function: api)",
        "Rule (another rule: nightly)",
    ]
