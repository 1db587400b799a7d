"""The call log (local/call_log.py): what it records, and the botocore and moto behaviour it
relies on, on the in-process emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.session
import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.local.call_log import CallLog, RecordedCall, authorizations, iam_action
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.lambda_bridge import RunningFunction, current_function, running_as

ACCOUNT = "123456789012"
FUNCTION = RunningFunction(
    name="ipsync-migrator-CutoverFunction-ABC",
    arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ipsync-migrator-CutoverFunction-ABC",
    region="us-east-1",
    role=f"arn:aws:iam::{ACCOUNT}:role/ipsync-migrator-CutoverFunctionRole-XYZ",
)


@pytest.fixture
def log() -> Iterator[CallLog]:
    with CallLog() as installed:
        yield installed


def nlb_listener(aws: ClientFactory, name: str = "shop-nlb") -> str:
    elb = aws.client("elbv2")
    [nlb] = elb.describe_load_balancers(Names=[name])["LoadBalancers"]
    [listener] = elb.describe_listeners(LoadBalancerArn=nlb["LoadBalancerArn"])["Listeners"]
    return str(listener["ListenerArn"])


def test_calls_of_clients_built_in_a_bridged_function_are_logged(
    aws: ClientFactory, demo: DemoEstate, log: CallLog
) -> None:
    # Given clients built while a bridged function runs, and one built outside
    outside = ClientFactory(AwsTarget(region="us-east-1")).client("elbv2")
    with running_as(FUNCTION):
        inside = ClientFactory(AwsTarget(region="us-east-1")).client("elbv2")
        listener = nlb_listener(aws)
        # When both call AWS
        inside.describe_listeners(ListenerArns=[listener])
        outside.describe_listeners(ListenerArns=[listener])
        inside.modify_listener(ListenerArn=listener, Port=80)
    # Then only the function's calls are logged, as IAM authorizes them, with its role
    calls = log.snapshot()
    assert [(c.action, c.function, c.role, c.assumed) for c in calls] == [
        ("elasticloadbalancing:DescribeListeners", FUNCTION.name, FUNCTION.role, False),
        ("elasticloadbalancing:ModifyListener", FUNCTION.name, FUNCTION.role, False),
    ]
    describe, modify = calls
    assert describe.resource == "*"
    # and moto's "loadbalancer/app/" ARN of a network load balancer reads as AWS's "net/"
    assert modify.resource == listener.replace(":listener/app/", ":listener/net/")
    assert modify.context["aws:ResourceAccount"] == ACCOUNT
    assert modify.context["aws:PrincipalArn"] == FUNCTION.role
    assert modify.error is None
    assert current_function() is None


def test_tag_on_create_adds_addtags_on_the_created_resource(
    aws: ClientFactory, demo: DemoEstate, log: CallLog
) -> None:
    # Given a function creating a tagged target group
    elb = aws.client("elbv2")
    [group] = elb.describe_target_groups(TargetGroupArns=[demo.shop_tg])["TargetGroups"]
    tags = [{"Key": "ipsync-migrator:managed-by", "Value": "ipsync-migrator"}]
    with running_as(FUNCTION):
        client = boto3.client("elbv2", region_name="us-east-1")
        # When it creates the group
        created = client.create_target_group(
            Name="new-alb-tg",
            Protocol="TCP",
            Port=80,
            VpcId=group["VpcId"],
            TargetType="alb",
            Tags=tags,
        )["TargetGroups"][0]["TargetGroupArn"]
        # and registers into it
        client.register_targets(TargetGroupArn=created, Targets=[{"Id": "10.0.0.9"}])
    # Then CreateTargetGroup and AddTags are authorized on the new group's ARN, with the
    # request tags and the creating action; RegisterTargets carries the group's tags
    create, add_tags, register = log.snapshot()
    assert (create.action, create.resource) == ("elasticloadbalancing:CreateTargetGroup", created)
    assert create.context["aws:RequestTag/ipsync-migrator:managed-by"] == "ipsync-migrator"
    assert create.context["aws:TagKeys"] == ["ipsync-migrator:managed-by"]
    assert (add_tags.action, add_tags.resource) == ("elasticloadbalancing:AddTags", created)
    assert add_tags.context["elasticloadbalancing:CreateAction"] == "CreateTargetGroup"
    assert register.resource == created
    assert register.context["elasticloadbalancing:ResourceTag/ipsync-migrator:managed-by"] == (
        "ipsync-migrator"
    )


def test_a_failed_call_is_logged_with_its_error(
    aws: ClientFactory, demo: DemoEstate, log: CallLog
) -> None:
    with running_as(FUNCTION):
        client = boto3.client("lambda", region_name="us-east-1")
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_function_configuration(FunctionName="no-such-function")
    [call] = log.snapshot()
    assert call.action == "lambda:GetFunctionConfiguration"
    assert call.resource == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:no-such-function"
    assert call.error == "ResourceNotFoundException"


def test_calls_through_an_assumed_role_name_that_role_and_its_account(
    aws: ClientFactory, log: CallLog
) -> None:
    # Given a function reaching a member account through its role (moto: any role assumes)
    role = "arn:aws:iam::222222222222:role/ipsync-migrator-member"
    with running_as(FUNCTION):
        member = ClientFactory(AwsTarget(region="us-east-1", role_arn=role, external_id="secret"))
        # When it calls Lambda there
        member.client("lambda").list_functions()
        with pytest.raises(Exception, match="legacy"):
            member.client("lambda").get_function_concurrency(FunctionName="legacy")
    # Then AssumeRole is the function's own call; the others are the role's, in its account
    assume, listing, concurrency = log.snapshot()
    assert (assume.action, assume.resource, assume.assumed) == ("sts:AssumeRole", role, False)
    assert assume.context["sts:ExternalId"] == "secret"
    assert (listing.role, listing.assumed, listing.resource) == (role, True, "*")
    assert concurrency.resource == "arn:aws:lambda:us-east-1:222222222222:function:legacy"
    assert concurrency.context["aws:PrincipalArn"] == role


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("events", "DisableRule", {"Name": "r"}, ["arn:aws:events:eu-west-1:1:rule/r"]),
        (
            "events",
            "ListTargetsByRule",
            {"Rule": "r", "EventBusName": "bus"},
            ["arn:aws:events:eu-west-1:1:rule/bus/r"],
        ),
        ("events", "ListRuleNamesByTarget", {"TargetArn": "arn:x"}, ["*"]),
        (
            "events",
            "PutEvents",
            {"Entries": [{"EventBusName": "b"}, {"EventBusName": "b"}, {}]},
            [
                "arn:aws:events:eu-west-1:1:event-bus/b",
                "arn:aws:events:eu-west-1:1:event-bus/default",
            ],
        ),
        ("dynamodb", "PutItem", {"TableName": "t"}, ["arn:aws:dynamodb:eu-west-1:1:table/t"]),
        ("sts", "GetCallerIdentity", {}, ["*"]),
        (
            "cloudwatch",
            "DescribeAlarms",
            {"AlarmNames": ["a"]},
            ["arn:aws:cloudwatch:eu-west-1:1:alarm:a"],
        ),
        ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "p"}, ["arn:aws:s3:::b"]),
        (
            "s3",
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "p/1"}, {"Key": "p/2"}]}},
            ["arn:aws:s3:::b/p/1", "arn:aws:s3:::b/p/2"],
        ),
        (
            "lambda",
            "ListTags",
            {"Resource": "arn:aws:lambda:eu-west-1:1:function:f"},
            ["arn:aws:lambda:eu-west-1:1:function:f"],
        ),
        ("ec2", "DescribeNetworkInterfaces", {}, ["*"]),
        (
            "stepfunctions",
            "StopExecution",
            {"executionArn": "arn:aws:states:eu-west-1:1:execution:m:e"},
            ["arn:aws:states:eu-west-1:1:execution:m:e"],
        ),
        ("stepfunctions", "SendTaskSuccess", {"taskToken": "t", "output": "{}"}, ["*"]),
        ("sqs", "SendMessage", {"QueueUrl": "https://q"}, ["*"]),
    ],
)
def test_resources_are_derived_from_the_request(
    service: str, operation: str, params: dict[str, object], expected: list[str]
) -> None:
    found = authorizations(service, operation, dict(params), "1", "eu-west-1")
    assert [a.resource for a in found] == expected


def test_iam_actions_use_the_iam_prefix_and_name() -> None:
    assert iam_action("elbv2", "ModifyListener") == "elasticloadbalancing:ModifyListener"
    assert iam_action("stepfunctions", "StartExecution") == "states:StartExecution"
    assert iam_action("cloudwatch", "DescribeAlarms") == "cloudwatch:DescribeAlarms"
    assert iam_action("lambda", "Invoke") == "lambda:InvokeFunction"
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3", "DeleteObjects") == "s3:DeleteObject"


def test_uninstall_restores_client_creation_and_stops_logging(
    aws: ClientFactory, log: CallLog
) -> None:
    # Given a client built by a bridged function while the log was installed
    patched = botocore.session.Session.__dict__["create_client"]
    with running_as(FUNCTION):
        client = boto3.client("sts", region_name="us-east-1")
    # When the log is uninstalled
    log.uninstall()
    # Then client creation is botocore's own again, and the earlier client logs no more
    assert botocore.session.Session.__dict__["create_client"] is not patched
    with running_as(FUNCTION):
        client.get_caller_identity()
    assert log.snapshot() == []
    # and two logs cannot be installed at once
    with pytest.raises(RuntimeError, match="another CallLog"), CallLog(), CallLog():
        pass


# ---- what the log relies on ----------------------------------------------------------------


def test_botocore_hooks_share_one_context_and_pass_the_request_signer() -> None:
    # Relied on: before-parameter-build, before-call and after-call get the same context dict;
    # before-call gets request_signer, whose _credentials sign the call.
    seen: dict[str, object] = {}
    client = botocore.session.get_session().create_client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
    )

    def before_build(params: dict[str, object], context: dict[str, object], **_: object) -> None:
        context["marker"] = True

    def before_call(request_signer: object, context: dict[str, object], **_: object) -> object:
        seen["marker"] = context.get("marker")
        seen["key"] = request_signer._credentials.get_frozen_credentials().access_key  # type: ignore[attr-defined]
        return (type("Http", (), {"status_code": 200})(), {"Account": ACCOUNT})

    def after_call(context: dict[str, object], **_: object) -> None:
        seen["after"] = context.get("marker")

    client.meta.events.register("before-parameter-build", before_build)
    client.meta.events.register("before-call", before_call)
    client.meta.events.register("after-call", after_call)
    client.get_caller_identity()
    assert seen == {"marker": True, "key": "AKIDTEST", "after": True}


def test_moto_elbv2_backend_keeps_types_listeners_and_tags(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    from moto.elbv2.models import elbv2_backends

    listener = nlb_listener(aws)
    balancer = listener.replace(":listener/", ":loadbalancer/").rsplit("/", 1)[0]
    backend = elbv2_backends[ACCOUNT]["us-east-1"]
    assert ":loadbalancer/app/" in balancer  # moto's name for every load balancer
    assert backend.load_balancers[balancer].type == "network"
    assert listener in backend.load_balancers[balancer].listeners
    aws.client("elbv2").add_tags(ResourceArns=[listener], Tags=[{"Key": "k", "Value": "v"}])
    assert backend.tagging_service.get_tag_dict_for_resource(listener) == {"k": "v"}


def test_moto_s3_knows_each_buckets_account(aws: ClientFactory) -> None:
    from moto.s3.models import s3_backends

    aws.client("s3").create_bucket(Bucket="call-log-bucket")
    assert s3_backends.bucket_accounts["call-log-bucket"][1] == ACCOUNT


def test_recorded_calls_serialize_to_json(log: CallLog, tmp_path: Path) -> None:
    call = RecordedCall("f", "r", False, "sts", "GetCallerIdentity", "sts:GetCallerIdentity", "*")
    log.calls.append(call)
    assert json.loads(log.dump(tmp_path / "calls.json").read_text()) == [call.to_json_dict()]
