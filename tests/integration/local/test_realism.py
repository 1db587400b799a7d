"""The realism adapter makes moto's ELBv2 behave like AWS: health, rules, ENIs, faults.

Each test builds a tiny estate with boto3 (a VPC with two subnets in two AZs, an ALB with an
HTTP:80 listener, an NLB and an ``alb`` target group on port 80). The ``test_moto_*`` tests
pin the moto behaviours the patches rely on: they fail when a moto upgrade changes them.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.responses import BaseResponse
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
from moto.elbv2.models import ELBv2Backend
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)

from ipsync_migrator.aws.journal import create_table
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.local.clock import ManualClock
from ipsync_migrator.local.realism import FaultRule, Realism
from ipsync_migrator.local.transactions import SERIALIZED

REGION = "us-east-1"
# One attempt: botocore would otherwise retry throttling faults and hide them.
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
NOT_IN_USE_DESCRIPTION = "Target group is not configured to receive traffic from the load balancer"
REGISTERING = ("initial", "Elb.RegistrationInProgress")
CHECKING = ("initial", "Elb.InitialHealthChecking")
#: AWS seconds from attach to healthy for the estate's group: registration, then 5 x 30 s.
TO_HEALTHY = 30 + 5 * 30


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


Clients = Callable[[str], Any]


@pytest.fixture
def client() -> Clients:
    def make(service: str) -> Any:
        return boto3.client(service, region_name=REGION, config=NO_RETRIES)

    return make


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def realism(clock: ManualClock) -> Iterator[Realism]:
    with mock_aws(), Realism(clock) as adapter:
        yield adapter


@dataclass
class Estate:
    vpc_id: str
    subnet_ids: list[str]
    alb_arn: str
    alb_name: str
    alb_listener_arn: str
    nlb_arn: str
    tg_arn: str


def build_estate(client: Clients, suffix: str = "") -> Estate:
    """VPC, 2 subnets in 2 AZs, ALB with HTTP:80, NLB, alb-type target group on port 80."""
    ec2, elbv2 = client("ec2"), client("elbv2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"))
    ]
    alb_name = f"app{suffix}"
    alb_arn = elbv2.create_load_balancer(Name=alb_name, Subnets=subnet_ids, Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    alb_listener_arn = elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )["Listeners"][0]["ListenerArn"]
    nlb_arn = elbv2.create_load_balancer(Name=f"net{suffix}", Subnets=subnet_ids, Type="network")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    tg_arn = elbv2.create_target_group(
        Name=f"to-alb{suffix}", Protocol="TCP", Port=80, VpcId=vpc_id, TargetType="alb"
    )["TargetGroups"][0]["TargetGroupArn"]
    return Estate(vpc_id, subnet_ids, alb_arn, alb_name, alb_listener_arn, nlb_arn, tg_arn)


@pytest.fixture
def estate(realism: Realism, client: Clients) -> Estate:
    return build_estate(client)


def forward_to(tg_arn: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": tg_arn}]


def health(elbv2: Any, tg_arn: str) -> list[tuple[str, str | None]]:
    descriptions = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    return [(d["TargetHealth"]["State"], d["TargetHealth"].get("Reason")) for d in descriptions]


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def attach_probe(elbv2: Any, e: Estate, port: int = 8080) -> str:
    return str(
        elbv2.create_listener(
            LoadBalancerArn=e.nlb_arn,
            Protocol="TCP",
            Port=port,
            DefaultActions=forward_to(e.tg_arn),
        )["Listeners"][0]["ListenerArn"]
    )


def snapshot(elbv2: Any) -> dict[str, Any]:
    """Everything the rules could change: groups, their targets, listeners."""
    groups = elbv2.describe_target_groups()["TargetGroups"]
    balancers = elbv2.describe_load_balancers()["LoadBalancers"]
    return {
        "groups": sorted(g["TargetGroupArn"] for g in groups),
        "targets": {
            g["TargetGroupArn"]: sorted(
                t["Target"]["Id"]
                for t in elbv2.describe_target_health(TargetGroupArn=g["TargetGroupArn"])[
                    "TargetHealthDescriptions"
                ]
            )
            for g in groups
        },
        "listeners": sorted(
            (lis["ListenerArn"], lis["Port"], lis["Protocol"], json.dumps(lis["DefaultActions"]))
            for b in balancers
            for lis in elbv2.describe_listeners(LoadBalancerArn=b["LoadBalancerArn"])["Listeners"]
        ),
        "balancers": sorted(b["LoadBalancerArn"] for b in balancers),
    }


# ---- 1. target health of alb groups ---------------------------------------------------------


def test_alb_group_is_unused_until_a_listener_forwards_then_initial_then_healthy(
    estate: Estate, client: Clients, clock: ManualClock
) -> None:
    elbv2 = client("elbv2")
    # Given the ALB registered in an alb group that no listener forwards to
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    clock.advance(3600)
    # When health is read, Then the target is unused with AWS's reason and description
    described = elbv2.describe_target_health(TargetGroupArn=estate.tg_arn)
    target_health = described["TargetHealthDescriptions"][0]["TargetHealth"]
    assert target_health == {
        "State": "unused",
        "Reason": "Target.NotInUse",
        "Description": NOT_IN_USE_DESCRIPTION,
    }
    # When an NLB TCP listener forwards to it, Then it registers for 30 AWS seconds
    attach_probe(elbv2, estate)
    assert health(elbv2, estate.tg_arn) == [REGISTERING]
    clock.advance(29)
    assert health(elbv2, estate.tg_arn) == [REGISTERING]
    # and is checked until the healthy threshold (5) of 30 s checks has passed
    clock.advance(1)
    assert health(elbv2, estate.tg_arn) == [CHECKING]
    clock.advance(5 * 30 - 1)
    assert health(elbv2, estate.tg_arn) == [CHECKING]
    clock.advance(1)
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]
    # and it stays healthy however often it is read
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]


def test_checks_start_when_the_listener_forwards_not_at_the_first_read(
    estate: Estate, client: Clients, clock: ManualClock
) -> None:
    elbv2 = client("elbv2")
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    # When the probe attaches and nobody reads health for the whole time it takes
    attach_probe(elbv2, estate)
    clock.advance(TO_HEALTHY)
    # Then the first read already says healthy
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]


def test_the_groups_healthy_threshold_sets_the_time_to_healthy(
    estate: Estate, client: Clients, clock: ManualClock
) -> None:
    elbv2 = client("elbv2")
    # Given the group's healthy threshold at AWS's minimum of 2
    elbv2.modify_target_group(TargetGroupArn=estate.tg_arn, HealthyThresholdCount=2)
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    attach_probe(elbv2, estate)
    # Then it is healthy after registration and 2 checks of the fixed 30 s interval
    clock.advance(30 + 2 * 30 - 1)
    assert health(elbv2, estate.tg_arn) == [CHECKING]
    clock.advance(1)
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]
    # and putting the threshold back does not make a healthy target initial again
    elbv2.modify_target_group(TargetGroupArn=estate.tg_arn, HealthyThresholdCount=5)
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]


def test_a_target_whose_checks_fail_turns_unhealthy_after_two_checks_and_back(
    estate: Estate, client: Clients, clock: ManualClock
) -> None:
    elbv2 = client("elbv2")
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    attach_probe(elbv2, estate)
    clock.advance(TO_HEALTHY)
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]
    # When the ALB loses the listener its health checks go through
    elbv2.delete_listener(ListenerArn=estate.alb_listener_arn)
    # Then it stays healthy until the fixed unhealthy threshold (2) of checks has failed
    clock.advance(2 * 30 - 1)
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]
    clock.advance(1)
    assert health(elbv2, estate.tg_arn) == [("unhealthy", "Target.FailedHealthChecks")]
    # When the listener is back, Then it is healthy again after the healthy threshold (5)
    elbv2.create_listener(
        LoadBalancerArn=estate.alb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )
    clock.advance(5 * 30 - 1)
    assert health(elbv2, estate.tg_arn) == [("unhealthy", "Target.FailedHealthChecks")]
    clock.advance(1)
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]


def test_initial_phase_restarts_when_the_group_is_detached_and_attached_again(
    estate: Estate, client: Clients, clock: ManualClock
) -> None:
    elbv2 = client("elbv2")
    # Given a healthy ALB target behind a probe listener
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    listener_arn = attach_probe(elbv2, estate)
    clock.advance(TO_HEALTHY)
    assert health(elbv2, estate.tg_arn) == [("healthy", None)]
    # When the listener is deleted, Then the target is unused again
    elbv2.delete_listener(ListenerArn=listener_arn)
    assert health(elbv2, estate.tg_arn) == [("unused", "Target.NotInUse")]
    # When it is attached again, Then health checks start over
    attach_probe(elbv2, estate)
    assert health(elbv2, estate.tg_arn) == [REGISTERING]


def test_swapping_away_and_back_without_a_read_in_between_restarts_the_initial_phase(
    estate: Estate, client: Clients, clock: ManualClock
) -> None:
    elbv2 = client("elbv2")
    ip_tg = elbv2.create_target_group(
        Name="legacy-ip", Protocol="TCP", Port=80, VpcId=estate.vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    listener_arn = attach_probe(elbv2, estate)
    clock.advance(TO_HEALTHY)
    # When the listener is swapped to another group and back, with no health read between
    elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=forward_to(ip_tg))
    elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=forward_to(estate.tg_arn))
    # Then the target is checked from the start again
    assert health(elbv2, estate.tg_arn) == [REGISTERING]


def test_a_weighted_forward_puts_the_alb_group_in_use(estate: Estate, client: Clients) -> None:
    elbv2 = client("elbv2")
    ip_tg = elbv2.create_target_group(
        Name="legacy-ip", Protocol="TCP", Port=80, VpcId=estate.vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=estate.nlb_arn, Protocol="TCP", Port=80, DefaultActions=forward_to(ip_tg)
    )["Listeners"][0]["ListenerArn"]
    assert health(elbv2, estate.tg_arn) == [("unused", "Target.NotInUse")]
    # When the listener forwards by weight to both groups
    weighted = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": ip_tg, "Weight": 90},
                {"TargetGroupArn": estate.tg_arn, "Weight": 10},
            ]
        },
    }
    elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=[weighted])
    # Then the alb group is health-checked
    assert health(elbv2, estate.tg_arn) == [REGISTERING]


def test_non_alb_groups_keep_moto_health(estate: Estate, client: Clients) -> None:
    elbv2 = client("elbv2")
    ip_tg = elbv2.create_target_group(
        Name="legacy-ip", Protocol="TCP", Port=80, VpcId=estate.vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=ip_tg, Targets=[{"Id": "10.0.1.10"}])
    # Then an unattached IP group reports moto's immediate healthy
    assert health(elbv2, ip_tg) == [("healthy", None)]


def test_target_health_fault_overrides_the_state_for_its_times(
    estate: Estate, client: Clients, realism: Realism
) -> None:
    elbv2 = client("elbv2")
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    attach_probe(elbv2, estate)
    # Given a rule making the group unhealthy for two reads
    realism.add_fault(
        FaultRule(
            service="elbv2",
            operation="DescribeTargetHealth",
            match={"TargetGroupArn": estate.tg_arn},
            target_health="unhealthy",
            times=2,
        )
    )
    # Then two reads say unhealthy, and the life cycle continues where it was
    assert health(elbv2, estate.tg_arn) == [("unhealthy", "Target.FailedHealthChecks")]
    assert health(elbv2, estate.tg_arn) == [("unhealthy", "Target.FailedHealthChecks")]
    assert health(elbv2, estate.tg_arn) == [REGISTERING]


# ---- 2. alb target group rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"Protocol": "HTTP", "Port": 80}, "InvalidConfigurationRequest"),
        ({"Protocol": "TLS", "Port": 80}, "InvalidConfigurationRequest"),
        ({"Protocol": "TCP", "Port": 80, "HealthCheckProtocol": "TCP"}, "ValidationError"),
    ],
)
def test_create_alb_group_rejects_what_aws_rejects(
    estate: Estate, client: Clients, extra: dict[str, Any], code: str
) -> None:
    elbv2 = client("elbv2")
    before = snapshot(elbv2)
    with pytest.raises(ClientError) as excinfo:
        elbv2.create_target_group(Name="bad", VpcId=estate.vpc_id, TargetType="alb", **extra)
    assert error_code(excinfo) == code
    assert snapshot(elbv2) == before


def test_create_alb_group_without_vpc_is_rejected(estate: Estate, client: Clients) -> None:
    # moto's own check, relied on by the adapter
    elbv2 = client("elbv2")
    with pytest.raises(ClientError) as excinfo:
        elbv2.create_target_group(Name="novpc", Protocol="TCP", Port=80, TargetType="alb")
    assert error_code(excinfo) == "ValidationError"


def test_alb_group_accepts_https_health_checks(estate: Estate, client: Clients) -> None:
    group = client("elbv2").create_target_group(
        Name="https-hc",
        Protocol="TCP",
        Port=80,
        VpcId=estate.vpc_id,
        TargetType="alb",
        HealthCheckProtocol="HTTPS",
    )["TargetGroups"][0]
    assert group["HealthCheckProtocol"] == "HTTPS"


def second_vpc_alb(client: Clients) -> str:
    ec2, elbv2 = client("ec2"), client("elbv2")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")
    arn = elbv2.create_load_balancer(
        Name="elsewhere", Subnets=[subnet["Subnet"]["SubnetId"]], Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )
    return str(arn)


def other_alb_same_vpc(client: Clients, e: Estate) -> str:
    elbv2 = client("elbv2")
    arn = elbv2.create_load_balancer(Name="other", Subnets=e.subnet_ids, Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )
    return str(arn)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("instance id", "InvalidTarget"),
        ("nlb arn", "InvalidTarget"),
        ("availability zone", "ValidationError"),
        ("port without alb listener", "ValidationError"),
        ("alb in another vpc", "InvalidTarget"),
        ("second alb in the group", "ValidationError"),
    ],
)
def test_register_targets_in_alb_group_rejects_what_aws_rejects(
    estate: Estate, client: Clients, case: str, code: str
) -> None:
    elbv2 = client("elbv2")
    targets: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "instance id": lambda: [{"Id": "i-0123456789abcdef0"}],
        "nlb arn": lambda: [{"Id": estate.nlb_arn}],
        "availability zone": lambda: [{"Id": estate.alb_arn, "AvailabilityZone": "all"}],
        "port without alb listener": lambda: [{"Id": estate.alb_arn, "Port": 81}],
        "alb in another vpc": lambda: [{"Id": second_vpc_alb(client)}],
        "second alb in the group": lambda: [
            {"Id": estate.alb_arn},
            {"Id": other_alb_same_vpc(client, estate)},
        ],
    }
    request = targets[case]()
    before = snapshot(elbv2)
    with pytest.raises(ClientError) as excinfo:
        elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=request)
    assert error_code(excinfo) == code
    assert snapshot(elbv2) == before


def test_an_alb_can_be_the_target_of_at_most_two_alb_groups(
    estate: Estate, client: Clients
) -> None:
    elbv2 = client("elbv2")
    groups = [estate.tg_arn] + [
        elbv2.create_target_group(
            Name=f"to-alb-{i}", Protocol="TCP", Port=80, VpcId=estate.vpc_id, TargetType="alb"
        )["TargetGroups"][0]["TargetGroupArn"]
        for i in (2, 3)
    ]
    # Given the ALB registered in two alb groups
    for group in groups[:2]:
        elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": estate.alb_arn}])
    before = snapshot(elbv2)
    # When it is registered in a third, Then AWS refuses
    with pytest.raises(ClientError) as excinfo:
        elbv2.register_targets(TargetGroupArn=groups[2], Targets=[{"Id": estate.alb_arn}])
    assert error_code(excinfo) == "TooManyRegistrationsForTargetId"
    assert snapshot(elbv2) == before
    # And registering again where it already is stays accepted (idempotent)
    elbv2.register_targets(TargetGroupArn=groups[0], Targets=[{"Id": estate.alb_arn}])


@pytest.mark.parametrize(
    ("protocol", "on", "code"),
    [
        ("TLS", "nlb", "IncompatibleProtocols"),
        ("UDP", "nlb", "IncompatibleProtocols"),
        ("TCP_UDP", "nlb", "IncompatibleProtocols"),
        ("HTTP", "alb", "InvalidConfigurationRequest"),
        ("TCP", "nlb in another vpc", "InvalidConfigurationRequest"),
    ],
)
def test_create_listener_forwarding_to_alb_group_rejects_what_aws_rejects(
    estate: Estate, client: Clients, protocol: str, on: str, code: str
) -> None:
    elbv2 = client("elbv2")
    balancer = {"nlb": estate.nlb_arn, "alb": estate.alb_arn}.get(on)
    if balancer is None:
        ec2 = client("ec2")
        vpc_id = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
        balancer = elbv2.create_load_balancer(Name="far", Subnets=[subnet_id], Type="network")[
            "LoadBalancers"
        ][0]["LoadBalancerArn"]
    before = snapshot(elbv2)
    with pytest.raises(ClientError) as excinfo:
        elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol=protocol,
            Port=9000,
            DefaultActions=forward_to(estate.tg_arn),
        )
    assert error_code(excinfo) == code
    assert snapshot(elbv2) == before


def test_modify_listener_to_tls_with_alb_group_is_rejected_and_changes_nothing(
    estate: Estate, client: Clients
) -> None:
    elbv2 = client("elbv2")
    listener_arn = attach_probe(elbv2, estate)
    before = snapshot(elbv2)
    with pytest.raises(ClientError) as excinfo:
        elbv2.modify_listener(ListenerArn=listener_arn, Protocol="TLS", Port=8443)
    assert error_code(excinfo) == "IncompatibleProtocols"
    assert snapshot(elbv2) == before


def test_an_alb_group_serves_one_load_balancer_only(estate: Estate, client: Clients) -> None:
    elbv2 = client("elbv2")
    attach_probe(elbv2, estate)
    second_nlb = elbv2.create_load_balancer(Name="net2", Subnets=estate.subnet_ids, Type="network")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    before = snapshot(elbv2)
    with pytest.raises(ClientError) as excinfo:
        elbv2.create_listener(
            LoadBalancerArn=second_nlb,
            Protocol="TCP",
            Port=80,
            DefaultActions=forward_to(estate.tg_arn),
        )
    assert error_code(excinfo) == "TargetGroupAssociationLimit"
    assert snapshot(elbv2) == before


def test_listener_ports_are_unique_per_load_balancer(estate: Estate, client: Clients) -> None:
    elbv2 = client("elbv2")
    attach_probe(elbv2, estate, port=8080)
    other = attach_probe(elbv2, estate, port=8081)
    before = snapshot(elbv2)
    # When a second listener takes port 8080, or an existing one moves onto it
    with pytest.raises(ClientError) as created:
        attach_probe(elbv2, estate, port=8080)
    with pytest.raises(ClientError) as modified:
        elbv2.modify_listener(ListenerArn=other, Port=8080)
    # Then both are DuplicateListener and nothing changed
    assert error_code(created) == error_code(modified) == "DuplicateListener"
    assert snapshot(elbv2) == before


def test_a_registered_alb_cannot_be_deleted(estate: Estate, client: Clients) -> None:
    elbv2 = client("elbv2")
    elbv2.register_targets(TargetGroupArn=estate.tg_arn, Targets=[{"Id": estate.alb_arn}])
    with pytest.raises(ClientError) as excinfo:
        elbv2.delete_load_balancer(LoadBalancerArn=estate.alb_arn)
    assert error_code(excinfo) == "ResourceInUse"
    assert estate.alb_arn in snapshot(elbv2)["balancers"]


# ---- 3. ALB network interfaces ----------------------------------------------------------------


def alb_enis(client: Clients, name: str, arn: str) -> list[dict[str, Any]]:
    description = f"ELB app/{name}/{arn.rsplit('/', 1)[-1]}"
    return list(
        client("ec2").describe_network_interfaces(
            Filters=[{"Name": "description", "Values": [description]}]
        )["NetworkInterfaces"]
    )


def test_each_alb_subnet_has_an_elb_eni_found_by_description(
    estate: Estate, client: Clients
) -> None:
    enis = alb_enis(client, estate.alb_name, estate.alb_arn)
    assert sorted(eni["SubnetId"] for eni in enis) == sorted(estate.subnet_ids)
    cidrs = {
        s["SubnetId"]: ipaddress.ip_network(s["CidrBlock"])
        for s in client("ec2").describe_subnets(SubnetIds=estate.subnet_ids)["Subnets"]
    }
    for eni in enis:
        assert eni["InterfaceType"] == "interface"
        assert eni["RequesterId"] == "amazon-elb"
        assert ipaddress.ip_address(eni["PrivateIpAddress"]) in cidrs[eni["SubnetId"]]


def test_albs_created_before_install_get_enis_and_deleted_albs_lose_them(
    client: Clients,
) -> None:
    with mock_aws():
        # Given an estate built on plain moto
        e = build_estate(client)
        assert alb_enis(client, e.alb_name, e.alb_arn) == []
        with Realism():
            # When the adapter is installed, Then the ALB's ENIs appear
            assert len(alb_enis(client, e.alb_name, e.alb_arn)) == 2
            # When the ALB is deleted, Then they go with it
            client("elbv2").delete_load_balancer(LoadBalancerArn=e.alb_arn)
            assert alb_enis(client, e.alb_name, e.alb_arn) == []


# ---- 6. NLB zone addresses ------------------------------------------------------------------


def zone_addresses(client: Clients, name: str) -> dict[str, list[dict[str, str]]]:
    [nlb] = client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"]
    return {z["SubnetId"]: z.get("LoadBalancerAddresses", []) for z in nlb["AvailabilityZones"]}


def test_an_nlb_lists_one_address_per_zone_with_its_mapped_elastic_ip(
    estate: Estate, client: Clients
) -> None:
    # Given an Elastic IP per subnet, mapped at creation (AWS's static-address NLB)
    ec2, elbv2 = client("ec2"), client("elbv2")
    eips = {s: ec2.allocate_address(Domain="vpc") for s in estate.subnet_ids}
    elbv2.create_load_balancer(
        Name="static",
        Type="network",
        SubnetMappings=[
            {"SubnetId": s, "AllocationId": e["AllocationId"]} for s, e in eips.items()
        ],
    )
    elbv2.create_load_balancer(
        Name="inside", Type="network", Scheme="internal", Subnets=estate.subnet_ids
    )
    cidrs = {
        s["SubnetId"]: ipaddress.ip_network(s["CidrBlock"])
        for s in ec2.describe_subnets(SubnetIds=estate.subnet_ids)["Subnets"]
    }
    # Then each zone lists its EIP (address and allocation) and a private address in the subnet
    for subnet, [address] in zone_addresses(client, "static").items():
        assert address["AllocationId"] == eips[subnet]["AllocationId"]
        assert address["IpAddress"] == eips[subnet]["PublicIp"]
        assert ipaddress.ip_address(address["PrivateIPv4Address"]) in cidrs[subnet]
    # and an internal NLB has private addresses only
    for subnet, [address] in zone_addresses(client, "inside").items():
        assert set(address) == {"PrivateIPv4Address"}
        assert ipaddress.ip_address(address["PrivateIPv4Address"]) in cidrs[subnet]


# ---- 4. and 5. fault injection and call counts -------------------------------------------------


def test_a_fault_with_times_two_fails_twice_then_succeeds_and_changes_nothing(
    estate: Estate, client: Clients, realism: Realism
) -> None:
    elbv2 = client("elbv2")
    listener_arn = attach_probe(elbv2, estate)
    ip_tg = elbv2.create_target_group(
        Name="legacy-ip", Protocol="TCP", Port=80, VpcId=estate.vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    realism.add_fault(
        FaultRule.from_dict(
            {
                "service": "elbv2",
                "operation": "ModifyListener",
                "errorCode": "ThrottlingException",
                "match": {"ListenerArn": listener_arn},
                "times": 2,
            }
        )
    )
    before = snapshot(elbv2)
    # When the listener is modified three times
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=forward_to(ip_tg))
        # Then the first two fail and leave everything as it was
        assert error_code(excinfo) == "ThrottlingException"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert snapshot(elbv2) == before
    elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=forward_to(ip_tg))
    actions = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    assert actions["DefaultActions"][0]["TargetGroupArn"] == ip_tg
    assert realism.calls[("elbv2", "ModifyListener")] == 3


def test_a_fault_only_hits_calls_matching_its_parameters(
    estate: Estate, client: Clients, realism: Realism
) -> None:
    elbv2 = client("elbv2")
    realism.add_fault(
        FaultRule("elbv2", "DescribeTargetHealth", "ValidationError", match={"TargetGroupArn": "x"})
    )
    assert health(elbv2, estate.tg_arn) == []


@pytest.mark.parametrize(
    ("service", "operation", "call", "code", "status"),
    [
        ("lambda", "ListFunctions", lambda c: c("lambda").list_functions(), "AccessDenied", 403),
        ("events", "ListRules", lambda c: c("events").list_rules(), "ThrottlingException", 400),
        (
            "dynamodb",
            "ListTables",
            lambda c: c("dynamodb").list_tables(),
            "AccessDeniedException",
            403,
        ),
        ("ec2", "DescribeVpcs", lambda c: c("ec2").describe_vpcs(), "UnauthorizedOperation", 400),
        (
            "lambda",
            "GetFunction",
            lambda c: c("lambda").get_function(FunctionName="legacy"),
            "ResourceNotFoundException",
            404,
        ),
    ],
)
def test_faults_use_each_services_wire_format(
    realism: Realism,
    client: Clients,
    service: str,
    operation: str,
    call: Callable[[Clients], Any],
    code: str,
    status: int,
) -> None:
    realism.add_fault(FaultRule(service, operation, code, message="injected for the test"))
    with pytest.raises(ClientError) as excinfo:
        call(client)
    assert error_code(excinfo) == code
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "injected for the test" in str(excinfo.value)
    try:  # times=1: the next call reaches moto (GetFunction then fails for real)
        call(client)
    except ClientError as real_error:
        assert "injected" not in str(real_error)
    assert realism.calls[(service, operation)] == 2


def test_a_faulted_write_changes_nothing(realism: Realism, client: Clients) -> None:
    dynamodb = client("dynamodb")
    realism.add_fault(
        FaultRule("dynamodb", "CreateTable", "InternalServerError", match={"TableName": "journal"})
    )
    with pytest.raises(ClientError):
        dynamodb.create_table(
            TableName="journal",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert dynamodb.list_tables()["TableNames"] == []


def test_a_fault_without_times_lasts_until_cleared(realism: Realism, client: Clients) -> None:
    realism.add_fault(FaultRule("ec2", "DescribeVpcs", "RequestLimitExceeded", times=None))
    for _ in range(3):
        with pytest.raises(ClientError):
            client("ec2").describe_vpcs()
    realism.clear_faults()
    client("ec2").describe_vpcs()


def test_a_fault_after_n_calls_lets_them_through_then_fails(
    realism: Realism, client: Clients
) -> None:
    # Given a rule that fails the third DescribeVpcs (a crash right after two calls)
    realism.add_fault(FaultRule("ec2", "DescribeVpcs", "RequestLimitExceeded", after=2))
    # Then two calls go through, the third fails, and the fourth goes through again
    client("ec2").describe_vpcs()
    client("ec2").describe_vpcs()
    with pytest.raises(ClientError):
        client("ec2").describe_vpcs()
    client("ec2").describe_vpcs()


def test_a_held_call_waits_until_released(realism: Realism, client: Clients) -> None:
    # Given the next DescribeVpcs held (an invocation in flight, for a race)
    held = realism.hold("ec2", "DescribeVpcs")
    done = threading.Event()

    def call() -> None:
        client("ec2").describe_vpcs()
        done.set()

    thread = threading.Thread(target=call)
    thread.start()
    # Then it reaches moto's door and waits there until released
    assert held.reached.wait(10)
    assert not done.wait(0.2)
    held.release()
    thread.join(10)
    assert done.is_set()
    # and only that one call is held
    client("ec2").describe_vpcs()


@pytest.mark.parametrize("wrapped", [True, False])
def test_faults_load_from_json_with_camel_or_snake_keys(
    realism: Realism, client: Clients, tmp_path: Path, wrapped: bool
) -> None:
    rules = [
        {"service": "events", "operation": "ListRules", "errorCode": "AccessDeniedException"},
        {"service": "ec2", "operation": "DescribeVpcs", "error_code": "AuthFailure", "times": 1},
    ]
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"faults": rules} if wrapped else rules))
    realism.load_faults(path)
    with pytest.raises(ClientError) as events_error:
        client("events").list_rules()
    with pytest.raises(ClientError) as ec2_error:
        client("ec2").describe_vpcs()
    assert error_code(events_error) == "AccessDeniedException"
    assert error_code(ec2_error) == "AuthFailure"


@pytest.mark.parametrize(
    "bad",
    [
        {"service": "ec2", "operation": "DescribeVpcs"},
        {
            "service": "ec2",
            "operation": "DescribeVpcs",
            "errorCode": "X",
            "targetHealth": "healthy",
        },
        {"service": "elbv2", "operation": "DescribeTargetHealth", "targetHealth": "sick"},
        {"service": "elbv2", "operation": "ModifyListener", "targetHealth": "healthy"},
        {"service": "ec2", "operation": "DescribeVpcs", "errorCode": "X", "time": 2},
        {"service": "ec2", "operation": "DescribeVpcs", "errorCode": "X", "times": 0},
        {"service": "ec2", "operation": "DescribeVpcs", "errorCode": "X", "after": -1},
    ],
)
def test_invalid_fault_rules_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        FaultRule.from_dict(bad)


def test_calls_count_what_reached_moto_and_reset_forgets(realism: Realism, client: Clients) -> None:
    client("ec2").describe_vpcs()
    client("ec2").describe_vpcs()
    client("lambda").list_functions()
    assert realism.calls[("ec2", "DescribeVpcs")] == 2
    assert realism.calls[("lambda", "ListFunctions")] == 1
    assert realism.calls[("elbv2", "ModifyListener")] == 0
    realism.add_fault(FaultRule("ec2", "DescribeVpcs", "AuthFailure"))
    realism.reset()
    client("ec2").describe_vpcs()  # the fault is gone too
    assert realism.calls == {("ec2", "DescribeVpcs"): 1}


# ---- 7: LoadBalancerArns ---------------------------------------------------------------------


def routed_by(elbv2: Any, tg_arn: str) -> list[str]:
    (group,) = elbv2.describe_target_groups(TargetGroupArns=[tg_arn])["TargetGroups"]
    return sorted(set(group["LoadBalancerArns"]))


def test_a_groups_load_balancer_arns_are_the_load_balancers_forwarding_to_it_now(
    estate: Estate, client: Clients
) -> None:
    elbv2 = client("elbv2")
    other = elbv2.create_target_group(
        Name="other", Protocol="TCP", Port=80, VpcId=estate.vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    assert routed_by(elbv2, estate.tg_arn) == []
    listener_arn = attach_probe(elbv2, estate)
    assert routed_by(elbv2, estate.tg_arn) == [estate.nlb_arn]
    elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=forward_to(other))
    assert routed_by(elbv2, estate.tg_arn) == []
    assert routed_by(elbv2, other) == [estate.nlb_arn]
    (listed,) = elbv2.describe_target_groups(LoadBalancerArn=estate.nlb_arn)["TargetGroups"]
    assert listed["TargetGroupArn"] == other
    elbv2.delete_listener(ListenerArn=listener_arn)
    assert routed_by(elbv2, other) == []


# ---- 8: DynamoDB transactions ----------------------------------------------------------------


def journal_like_table(client: Clients, name: str = "journal") -> Any:
    """The journal's own table (pk and sk), made as the emulator makes it."""
    create_table(ClientFactory(AwsTarget(region=REGION)), name)
    return client("dynamodb")


def put(pk: str, sk: str, version: int, condition: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": "journal",
        "Item": {"pk": {"S": pk}, "sk": {"S": sk}, "version": {"N": str(version)}},
    }
    if condition:
        request["ConditionExpression"] = condition
    return {"Put": request}


def stored(dynamodb: Any) -> dict[tuple[str, str], str]:
    items = dynamodb.scan(TableName="journal")["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i["version"]["N"] for i in items}


def journal_table() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"][REGION].tables["journal"]


def test_a_failed_transaction_puts_back_exactly_the_items_it_named(
    realism: Realism, client: Clients
) -> None:
    dynamodb = journal_like_table(client)
    dynamodb.put_item(**put("m", "record", 1)["Put"])
    dynamodb.put_item(**put("other", "record", 7)["Put"])
    table = journal_table()
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                put("m", "record", 2),  # applied by moto, then undone
                put("m", "step#1", 1),  # a new item: removed again
                put("m", "step#2", 1, condition="attribute_exists(pk)"),  # fails
            ]
        )
    assert error_code(refused) == "TransactionCanceledException"
    assert stored(dynamodb) == {("m", "record"): "1", ("other", "record"): "7"}
    # The live table stays in place: writes made meanwhile through it are not undone.
    assert journal_table() is table
    guarded = put("m", "record", 2, condition="version = :v")
    guarded["Put"]["ExpressionAttributeValues"] = {":v": {"N": "1"}}
    dynamodb.transact_write_items(TransactItems=[guarded, put("m", "step#1", 1)])
    assert stored(dynamodb) == {
        ("m", "record"): "2",
        ("m", "step#1"): "1",
        ("other", "record"): "7",
    }


def test_a_transaction_naming_one_item_twice_changes_nothing(
    realism: Realism, client: Clients
) -> None:
    dynamodb = journal_like_table(client)
    dynamodb.put_item(**put("m", "record", 1)["Put"])
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[put("m", "record", 2), put("m", "record", 3)])
    assert error_code(refused) == "ValidationException"
    assert stored(dynamodb) == {("m", "record"): "1"}


def test_a_write_during_a_failing_transaction_lands_after_it_and_is_not_undone(
    realism: Realism, client: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PutItem sent while a transaction runs (a rollback taking the migration over while a
    fenced step's completion fails) waits for the transaction, then stays: DynamoDB isolates
    transactions serializably from PutItem; moto alone let the transaction's restore undo it."""
    dynamodb = journal_like_table(client)
    dynamodb.put_item(**put("m", "record", 1)["Put"])
    table = journal_table()
    takeover = put("m", "record", 9)["Put"]["Item"]
    writers: list[threading.Thread] = []
    installed_get_item = DynamoDBBackend.get_item

    def get_item_meanwhile_written(self: Any, table_name: str, keys: Any, *args: Any) -> Any:
        # moto reads each named item before its condition: the transaction has written the
        # record already and will fail on the next item, then restore what it named.
        if keys.get("sk") == {"S": "step#2"} and not writers:
            writer = threading.Thread(target=self.put_item, args=("journal", takeover))
            writers.append(writer)
            writer.start()
            writer.join(timeout=0.5)  # serialized: it is still waiting for the transaction
        return installed_get_item(self, table_name, keys, *args)

    monkeypatch.setattr(DynamoDBBackend, "get_item", get_item_meanwhile_written)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                put("m", "record", 2),
                put("m", "step#2", 1, condition="attribute_exists(pk)"),  # fails
            ]
        )
    assert error_code(refused) == "TransactionCanceledException"
    (writer,) = writers
    writer.join()
    assert stored(dynamodb) == {("m", "record"): "9"}
    assert journal_table() is table


# ---- install / uninstall ----------------------------------------------------------------------

PATCHED = [
    (BaseResponse, "call_action"),
    (ELBv2Backend, "describe_target_health"),
    (ELBv2Backend, "describe_target_groups"),
    (ELBv2Backend, "create_target_group"),
    (ELBv2Backend, "register_targets"),
    (ELBv2Backend, "create_listener"),
    (ELBv2Backend, "modify_listener"),
    (ELBv2Backend, "delete_listener"),
    (ELBv2Backend, "create_load_balancer"),
    (ELBv2Backend, "delete_load_balancer"),
    (NetworkInterfaceBackend, "get_all_network_interfaces"),
    (dynamodb_models, "copy"),
    (DynamoDBBackend, "transact_write_items"),
    *((DynamoDBBackend, name) for name in SERIALIZED),
]


def test_install_is_idempotent_and_uninstall_restores_moto_exactly() -> None:
    originals = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}
    adapter = Realism()
    assert adapter.install() is adapter.install()
    assert all(owner.__dict__[name] is not originals[owner, name] for owner, name in PATCHED)
    with pytest.raises(RuntimeError):
        Realism().install()
    adapter.uninstall()
    assert {(owner, name): owner.__dict__[name] for owner, name in PATCHED} == originals


# ---- server mode -----------------------------------------------------------------------------


@pytest.fixture
def server_client() -> Iterator[Clients]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"

        def make(service: str) -> Any:
            return boto3.client(
                service, region_name=REGION, endpoint_url=endpoint, config=NO_RETRIES
            )

        yield make
        # Leave no state for the next test (the server shares moto's global backends).
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    finally:
        server.stop()


def test_server_mode_gets_health_rules_enis_and_faults(server_client: Clients) -> None:
    clock = ManualClock()
    with Realism(clock) as adapter:
        e = build_estate(server_client, suffix="-srv")
        elbv2 = server_client("elbv2")
        # Rules
        with pytest.raises(ClientError) as excinfo:
            elbv2.register_targets(TargetGroupArn=e.tg_arn, Targets=[{"Id": e.nlb_arn}])
        assert error_code(excinfo) == "InvalidTarget"
        # Health
        elbv2.register_targets(TargetGroupArn=e.tg_arn, Targets=[{"Id": e.alb_arn}])
        assert health(elbv2, e.tg_arn) == [("unused", "Target.NotInUse")]
        attach_probe(elbv2, e)
        assert health(elbv2, e.tg_arn) == [REGISTERING]
        clock.advance(TO_HEALTHY)
        assert health(elbv2, e.tg_arn) == [("healthy", None)]
        # ENIs
        assert len(alb_enis(server_client, e.alb_name, e.alb_arn)) == 2
        # Faults
        adapter.add_fault(FaultRule("lambda", "ListFunctions", "AccessDeniedException"))
        with pytest.raises(ClientError) as denied:
            server_client("lambda").list_functions()
        assert error_code(denied) == "AccessDeniedException"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert adapter.calls[("elbv2", "DescribeTargetHealth")] == 3


# ---- moto behaviours the patches rely on (fail on a moto upgrade that changes them) -------------


@pytest.mark.parametrize(
    ("owner", "name", "parameters"),
    [
        (ELBv2Backend, "describe_target_health", ["self", "target_group_arn", "targets"]),
        (
            ELBv2Backend,
            "describe_target_groups",
            ["self", "load_balancer_arn", "target_group_arns", "names"],
        ),
        (ELBv2Backend, "create_target_group", ["self", "name", "kwargs"]),
        (ELBv2Backend, "register_targets", ["self", "target_group_arn", "instances"]),
        (
            ELBv2Backend,
            "create_listener",
            [
                "self",
                "load_balancer_arn",
                "protocol",
                "port",
                "ssl_policy",
                "certificate",
                "actions",
            ],
        ),
        (
            ELBv2Backend,
            "modify_listener",
            ["self", "arn", "port", "protocol", "ssl_policy", "certificates", "actions"],
        ),
        (ELBv2Backend, "delete_listener", ["self", "listener_arn"]),
        (ELBv2Backend, "delete_load_balancer", ["self", "arn"]),
        (NetworkInterfaceBackend, "get_all_network_interfaces", ["self", "eni_ids", "filters"]),
        (BaseResponse, "call_action", ["self"]),
        (DynamoDBBackend, "transact_write_items", ["self", "transact_items"]),
        (WaitFunction, "_wait_interval", ["self", "env", "wait_seconds"]),
    ],
)
def test_moto_patched_methods_keep_their_signatures(
    owner: type, name: str, parameters: list[str]
) -> None:
    actual = list(inspect.signature(owner.__dict__[name]).parameters)
    assert actual[: len(parameters)] == parameters


def test_moto_alone_has_the_gaps_the_adapter_fills(client: Clients) -> None:
    with mock_aws():
        e = build_estate(client)
        elbv2 = client("elbv2")
        # alb groups: any protocol, any target, healthy at once while unused
        elbv2.create_target_group(
            Name="http-alb", Protocol="HTTP", Port=80, VpcId=e.vpc_id, TargetType="alb"
        )
        elbv2.register_targets(TargetGroupArn=e.tg_arn, Targets=[{"Id": e.alb_arn}])
        assert health(elbv2, e.tg_arn) == [("healthy", None)]
        # listener ports: moto compares the port with listener ARNs, so duplicates pass
        attach_probe(elbv2, e, port=8080)
        attach_probe(elbv2, e, port=8080)
        # a group's LoadBalancerArns: kept after its listeners move to another group
        other = elbv2.create_target_group(
            Name="other", Protocol="TCP", Port=80, VpcId=e.vpc_id, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        for listener in elbv2.describe_listeners(LoadBalancerArn=e.nlb_arn)["Listeners"]:
            elbv2.modify_listener(
                ListenerArn=listener["ListenerArn"], DefaultActions=forward_to(other)
            )
        assert routed_by(elbv2, e.tg_arn) == [e.nlb_arn]
        assert routed_by(elbv2, other) == []
        # ALBs get no ENIs, NLBs no zone addresses, and a registered ALB can be deleted
        assert alb_enis(client, e.alb_name, e.alb_arn) == []
        assert set(map(len, zone_addresses(client, "net").values())) == {0}
        elbv2.delete_load_balancer(LoadBalancerArn=e.alb_arn)


def test_moto_transactions_back_up_whole_tables_and_swap_them_back(client: Clients) -> None:
    """What transactions.py relies on and fixes: each transaction deep-copies the whole table
    (through the module's ``copy``), and a failed one replaces the live table by that copy."""
    source = inspect.getsource(DynamoDBBackend.transact_write_items)
    assert "copy.deepcopy(" in source and "self.tables[table_name]" in source
    assert dynamodb_models.copy is __import__("copy")
    with mock_aws():
        dynamodb = journal_like_table(client)
        dynamodb.put_item(**put("m", "record", 1)["Put"])
        table = journal_table()
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(
                TransactItems=[put("m", "record", 2), put("m", "x", 1, "attribute_exists(pk)")]
            )
        assert stored(dynamodb) == {("m", "record"): "1"}
        assert journal_table() is not table  # swapped for the copy


def test_moto_describe_target_health_returns_mutable_status_objects() -> None:
    with mock_aws():
        backend = ELBv2Backend(REGION, "123456789012")
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        group = backend.create_target_group(
            "g", vpc_id=vpc_id, protocol="TCP", port=80, target_type="ip"
        )
        backend.register_targets(group.arn, [{"Id": "10.0.0.5"}])
        (status,) = backend.describe_target_health(group.arn, [])
        assert (status.instance_id, status.status, status.reason) == ("10.0.0.5", "healthy", None)
        assert hasattr(status, "description")
        assert list(group.targets) == ["10.0.0.5"]
