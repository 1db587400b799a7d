"""The acceptance run's disposable legacy estate: built, observed and torn down by run id.

The same code runs against the local runtime's emulator and against a real account. It
builds what a team that followed the 2017 blog post has: a VPC with two subnets in two zones,
an internal ALB answering a fixed 200, an internal NLB whose TCP listener forwards to an
IP-type target group holding the ALB's IPs, and the legacy function (fingerprinted like the
official template, a no-op zip) with its schedule rule and invoke permission. Internal load
balancers need no internet gateway, which keeps a real run cheap.

Every resource carries the tag ``ipsync-acceptance-run=<run id>`` and a name made of the run
id, so ``teardown`` finds them all from the run id alone (also after a crash, also the target
group and probe listener the migrator itself created in the estate's VPC), in this order: the
stack (and the journal table and event archive it retains), listeners, NLB, target groups,
ALB, function, rule, role, VPC. Each part is idempotent; what is still there afterwards is
reported, never hidden.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from ipsync_migrator.aws.errors import error_code
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.estate import (
    LEGACY_CODE,
    LEGACY_DESCRIPTION,
    LEGACY_HANDLER,
    legacy_environment,
)
from ipsync_migrator.local.health import forwarded_target_group_arns

TAG_KEY = "ipsync-acceptance-run"
PORT = 80
VPC_CIDR = "10.42.0.0/16"
SUBNET_CIDRS = ("10.42.0.0/20", "10.42.16.0/20")
#: The official target id of the published template's schedule rule.
RULE_TARGET_ID = "TargetFunctionV1"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Waits:
    """How patient to be with AWS's asynchronous work (seconds)."""

    #: Load balancers turning active, their network interfaces appearing, a role propagating.
    build: float
    #: Stack deletion, load balancers releasing their network interfaces, the VPC going.
    teardown: float
    interval: float


#: The emulator does everything at once; a generous bound only against hangs.
LOCAL_WAITS = Waits(build=30, teardown=60, interval=0.2)
#: AWS: an ALB takes 2-5 minutes to turn active; its network interfaces go minutes after it.
AWS_WAITS = Waits(build=900, teardown=1800, interval=10)


@dataclass(frozen=True)
class Names:
    """Every name of one run's resources, derived from its run id."""

    run_id: str

    @property
    def prefix(self) -> str:
        return f"ipsacc-{self.run_id}"

    @property
    def stack(self) -> str:
        # Short: CloudFormation names the event archive <stack>-EventArchive-<12 characters>,
        # and an archive name has at most 48 (the emulator refuses a longer one).
        return f"ipsync-acc-{self.run_id}"

    @property
    def alb(self) -> str:
        return f"{self.prefix}-alb"

    @property
    def nlb(self) -> str:
        return f"{self.prefix}-nlb"

    @property
    def target_group(self) -> str:
        return f"{self.prefix}-ip-tg"

    @property
    def security_group(self) -> str:
        return f"{self.prefix}-alb"

    @property
    def function(self) -> str:
        return f"{self.prefix}-alb-ip-sync"

    @property
    def rule(self) -> str:
        return f"{self.prefix}-alb-ip-sync-schedule"

    @property
    def role(self) -> str:
        return f"{self.prefix}-legacy"

    @property
    def log_group(self) -> str:
        """Where the schedule's invocations of the legacy function log (AWS creates it)."""
        return f"/aws/lambda/{self.function}"

    @property
    def state_bucket(self) -> str:
        """The function's S3_BUCKET: named, never created (the no-op code never writes)."""
        return f"{self.prefix}-state"


@dataclass(frozen=True)
class LegacyEstate:
    """What the builder created: the ids the checks and the CLI need."""

    names: Names
    vpc_id: str
    alb_arn: str
    nlb_arn: str
    listener_arn: str
    target_group_arn: str
    function_arn: str
    alb_ips: frozenset[str]


@dataclass(frozen=True)
class Observed:
    """The estate as it is now, in the terms the acceptance checks speak."""

    #: Target type of each group the NLB's production listener forwards to.
    listener_group_types: tuple[str, ...]
    listener_group_arns: tuple[str, ...]
    #: The production listener's default actions, as ELB reports them.
    listener_actions: tuple[dict[str, Any], ...]
    #: Listeners on the NLB other than the production one (a probe left behind).
    other_listeners: int
    #: alb-type target groups in the estate's VPC, with the ids registered in each.
    alb_groups: dict[str, frozenset[str]]
    #: Ids registered in the legacy IP group (None: the group is gone).
    ip_group_targets: frozenset[str] | None
    #: The legacy schedule rule's state (None: the rule is gone).
    rule_state: str | None
    #: The legacy function's reserved concurrency (None: no reservation).
    reserved_concurrency: int | None
    function_exists: bool


# ---- build -----------------------------------------------------------------------------------


def build_estate(clients: ClientFactory, run_id: str, waits: Waits) -> LegacyEstate:
    """Create the legacy estate of `run_id`; return when the ALB's IPs are in the IP group."""
    names = Names(run_id)
    ec2, elb = clients.client("ec2"), clients.client("elbv2")
    tags = [{"Key": TAG_KEY, "Value": run_id}]

    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=[_spec("vpc", names)])["Vpc"][
        "VpcId"
    ]
    _eventually(
        lambda: ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["State"] == "available" or None,
        waits.build,
        waits.interval,
        f"{vpc_id} to be available",
    )
    subnet_ids = tuple(
        ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=[_spec("subnet", names)],
        )["Subnet"]["SubnetId"]
        for cidr, zone in zip(SUBNET_CIDRS, _two_zones(ec2), strict=True)
    )
    # Internal load balancers: the ALB admits the VPC (the NLB's nodes and health checks).
    group_id = ec2.create_security_group(
        GroupName=names.security_group,
        Description="ipsync-migrator acceptance run: the ALB admits the VPC",
        VpcId=vpc_id,
        TagSpecifications=[_spec("security-group", names)],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": PORT,
                "ToPort": PORT,
                "IpRanges": [{"CidrIp": VPC_CIDR}],
            }
        ],
    )

    alb = elb.create_load_balancer(
        Name=names.alb,
        Type="application",
        Scheme="internal",
        Subnets=list(subnet_ids),
        SecurityGroups=[group_id],
        Tags=tags,
    )["LoadBalancers"][0]
    elb.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Port=PORT,
        Protocol="HTTP",
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"},
            }
        ],
        Tags=tags,
    )
    nlb = elb.create_load_balancer(
        Name=names.nlb, Type="network", Scheme="internal", Subnets=list(subnet_ids), Tags=tags
    )["LoadBalancers"][0]
    # As the ALB (always cross-zone): no CROSS_ZONE_MISMATCH warning to explain.
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=nlb["LoadBalancerArn"],
        Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}],
    )
    target_group_arn = elb.create_target_group(
        Name=names.target_group,
        Protocol="TCP",
        Port=PORT,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckProtocol="TCP",
        Tags=tags,
    )["TargetGroups"][0]["TargetGroupArn"]
    listener_arn = elb.create_listener(
        LoadBalancerArn=nlb["LoadBalancerArn"],
        Port=PORT,
        Protocol="TCP",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
        Tags=tags,
    )["Listeners"][0]["ListenerArn"]

    # What the legacy function's runs did: the ALB's IPs, from its network interfaces, which
    # exist once it is being provisioned and settle when it is active.
    balancers = [alb["LoadBalancerArn"], nlb["LoadBalancerArn"]]
    _eventually(
        lambda: (
            all(
                lb["State"]["Code"] == "active"
                for lb in elb.describe_load_balancers(LoadBalancerArns=balancers)["LoadBalancers"]
            )
            or None
        ),
        waits.build,
        waits.interval,
        f"{names.alb} and {names.nlb} to be active",
    )
    alb_ips = _eventually(
        lambda: _alb_ips(ec2, alb["LoadBalancerArn"], len(subnet_ids)),
        waits.build,
        waits.interval,
        f"the network interfaces of {names.alb}",
    )
    elb.register_targets(
        TargetGroupArn=target_group_arn, Targets=[{"Id": ip, "Port": PORT} for ip in alb_ips]
    )

    function_arn = _legacy_function(clients, names, alb["DNSName"], target_group_arn, waits)
    _schedule(clients, names, function_arn)
    return LegacyEstate(
        names=names,
        vpc_id=vpc_id,
        alb_arn=alb["LoadBalancerArn"],
        nlb_arn=nlb["LoadBalancerArn"],
        listener_arn=listener_arn,
        target_group_arn=target_group_arn,
        function_arn=function_arn,
        alb_ips=alb_ips,
    )


def _two_zones(ec2: Any) -> list[str]:
    zones = sorted(
        z["ZoneName"]
        for z in ec2.describe_availability_zones()["AvailabilityZones"]
        if z.get("State", "available") == "available"
        and z.get("ZoneType", "availability-zone") == "availability-zone"
    )
    if len(zones) < 2:
        raise RuntimeError(f"The region has fewer than two availability zones: {zones}.")
    return zones[:2]


def _alb_ips(ec2: Any, alb_arn: str, expected: int) -> frozenset[str] | None:
    """The ALB's private IPs from its ENIs (``ELB app/<name>/<id>``); None until all exist."""
    name, lb_id = alb_arn.split(":loadbalancer/app/", 1)[1].split("/")[:2]
    interfaces = ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"ELB app/{name}/{lb_id}"]}]
    )["NetworkInterfaces"]
    ips = frozenset(eni["PrivateIpAddress"] for eni in interfaces)
    return ips if len(ips) >= expected else None


def _legacy_function(
    clients: ClientFactory, names: Names, alb_dns_name: str, target_group_arn: str, waits: Waits
) -> str:
    iam, lam = clients.client("iam"), clients.client("lambda")
    role_arn = iam.create_role(
        RoleName=names.role,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
        Description="ipsync-migrator acceptance run: the legacy function's role (no policies)",
        Tags=[{"Key": TAG_KEY, "Value": names.run_id}],
    )["Role"]["Arn"]

    def create() -> str | None:
        try:
            return str(
                lam.create_function(
                    FunctionName=names.function,
                    Runtime="python3.13",
                    Role=role_arn,
                    Handler=LEGACY_HANDLER,
                    Code={"ZipFile": LEGACY_CODE},
                    Description=LEGACY_DESCRIPTION,
                    Timeout=300,
                    Environment={
                        "Variables": legacy_environment(
                            alb_dns_name,
                            target_group_arn,
                            names.state_bucket,
                            clients.region,
                            alb_port=PORT,
                        )
                    },
                    Tags={TAG_KEY: names.run_id},
                )["FunctionArn"]
            )
        except ClientError as exc:
            # A new role takes seconds to reach Lambda ("cannot be assumed by Lambda").
            if error_code(exc) == "InvalidParameterValueException":
                return None
            raise

    arn = _eventually(create, waits.build, waits.interval, f"the role {names.role} in Lambda")
    _eventually(
        lambda: (
            lam.get_function_configuration(FunctionName=names.function).get("State")
            in ("Active", None)
            or None
        ),
        waits.build,
        waits.interval,
        f"{names.function} to be active",
    )
    return arn


def _schedule(clients: ClientFactory, names: Names, function_arn: str) -> None:
    events, lam = clients.client("events"), clients.client("lambda")
    rule_arn = str(
        events.put_rule(
            Name=names.rule,
            ScheduleExpression="rate(1 minute)",
            State="ENABLED",
            Description="ipsync-migrator acceptance run: the legacy IP-sync schedule",
            Tags=[{"Key": TAG_KEY, "Value": names.run_id}],
        )["RuleArn"]
    )
    events.put_targets(Rule=names.rule, Targets=[{"Id": RULE_TARGET_ID, "Arn": function_arn}])
    lam.add_permission(
        FunctionName=names.function,
        StatementId=f"{names.rule}-invoke",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )


# ---- observe ---------------------------------------------------------------------------------


def observe(clients: ClientFactory, estate: LegacyEstate) -> Observed:
    """Read the estate's listeners, groups, schedule and function as they are now."""
    elb, events, lam = clients.client("elbv2"), clients.client("events"), clients.client("lambda")
    listeners = elb.describe_listeners(LoadBalancerArn=estate.nlb_arn)["Listeners"]
    production = next(li for li in listeners if li["ListenerArn"] == estate.listener_arn)
    # A plain forward reads back with a ForwardConfig naming the same group: once each.
    arns = tuple(dict.fromkeys(forwarded_target_group_arns(production["DefaultActions"])))
    groups = {g["TargetGroupArn"]: g for g in _all(elb, "describe_target_groups", "TargetGroups")}
    alb_groups = {
        arn: _registered(elb, arn)
        for arn, g in groups.items()
        if g.get("VpcId") == estate.vpc_id and g["TargetType"] == "alb"
    }
    return Observed(
        listener_group_types=tuple(groups[arn]["TargetType"] for arn in arns),
        listener_group_arns=arns,
        listener_actions=tuple(production["DefaultActions"]),
        other_listeners=len(listeners) - 1,
        alb_groups=alb_groups,
        ip_group_targets=(
            _registered(elb, estate.target_group_arn) if estate.target_group_arn in groups else None
        ),
        rule_state=_absent_as_none(lambda: events.describe_rule(Name=estate.names.rule)["State"]),
        reserved_concurrency=_absent_as_none(
            lambda: lam.get_function_concurrency(FunctionName=estate.names.function).get(
                "ReservedConcurrentExecutions"
            )
        ),
        function_exists=_absent_as_none(
            lambda: lam.get_function(FunctionName=estate.names.function)
        )
        is not None,
    )


def _registered(elb: Any, arn: str) -> frozenset[str]:
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return frozenset(h["Target"]["Id"] for h in health)


# ---- teardown ----------------------------------------------------------------------------------


@dataclass
class Teardown:
    """What one teardown removed and what went wrong on the way."""

    deleted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: What a scan by run id still finds afterwards.
    leftovers: list[str] = field(default_factory=list)

    def attempt(self, label: str, delete: Callable[[], Any]) -> None:
        """Run one deletion; a failure is noted, and the teardown goes on."""
        try:
            if delete() is not False:  # False: there was nothing to delete
                self.deleted.append(label)
        except Exception as exc:  # one failure must not keep the rest alive (and billed)
            self.problems.append(f"{label}: {_describe(exc)}")


def teardown(clients: ClientFactory, run_id: str, waits: Waits) -> Teardown:
    """Delete everything of `run_id` (stack first, VPC last); safe to run again and again."""
    names, result = Names(run_id), Teardown()
    ec2, elb = clients.client("ec2"), clients.client("elbv2")
    lam, events, iam = clients.client("lambda"), clients.client("events"), clients.client("iam")
    step = result.attempt

    _delete_stack(clients, names, waits, result)
    try:
        vpc_ids = _vpcs(ec2, run_id)
        balancers = _balancers(elb, names, vpc_ids)
        groups = _target_groups(elb, names, vpc_ids)
    except Exception as exc:
        result.problems.append(f"finding the load balancers: {_describe(exc)}")
        vpc_ids, balancers, groups = [], [], []
    for lb in balancers:
        for listener in _all(
            elb, "describe_listeners", "Listeners", LoadBalancerArn=lb["LoadBalancerArn"]
        ):
            step(
                f"listener {lb['LoadBalancerName']}:{listener['Port']}",
                partial(elb.delete_listener, ListenerArn=listener["ListenerArn"]),
            )
    nlbs = [lb for lb in balancers if lb["Type"] == "network"]
    for lb in nlbs:
        delete = partial(elb.delete_load_balancer, LoadBalancerArn=lb["LoadBalancerArn"])
        step(f"NLB {lb['LoadBalancerName']}", delete)
    # Target groups before the ALB: an ALB registered in an alb-type group cannot be deleted.
    # A group stays "in use" for a moment after its load balancer is deleted.
    for group in groups:
        delete = partial(elb.delete_target_group, TargetGroupArn=group["TargetGroupArn"])
        step(
            f"target group {group['TargetGroupName']}",
            partial(_retry, delete, {"ResourceInUse"}, waits),
        )
    for lb in (lb for lb in balancers if lb not in nlbs):
        delete = partial(elb.delete_load_balancer, LoadBalancerArn=lb["LoadBalancerArn"])
        step(f"ALB {lb['LoadBalancerName']}", delete)

    logs = clients.client("logs")
    for label, delete in [
        (f"function {names.function}", partial(lam.delete_function, FunctionName=names.function)),
        (
            f"log group {names.log_group}",
            partial(logs.delete_log_group, logGroupName=names.log_group),
        ),
    ]:
        step(label, partial(_ignore_absent, delete))
    step(f"rule {names.rule}", partial(_delete_rule, events, names.rule))
    step(
        f"role {names.role}", partial(_ignore_absent, partial(iam.delete_role, RoleName=names.role))
    )
    for vpc_id in vpc_ids:
        step(f"VPC {vpc_id}", partial(_delete_vpc, ec2, vpc_id, waits))
    try:
        result.leftovers = leftovers(clients, run_id)
    except Exception as exc:
        result.problems.append(f"looking for leftovers: {_describe(exc)}")
    return result


def leftovers(clients: ClientFactory, run_id: str) -> list[str]:
    """Everything of `run_id` that still exists (an empty list: nothing is left)."""
    names = Names(run_id)
    ec2, elb = clients.client("ec2"), clients.client("elbv2")
    vpc_ids = _vpcs(ec2, run_id)
    found = [f"VPC {v}" for v in vpc_ids]
    found += [f"load balancer {lb['LoadBalancerArn']}" for lb in _balancers(elb, names, vpc_ids)]
    found += [f"target group {g['TargetGroupArn']}" for g in _target_groups(elb, names, vpc_ids)]
    lam, events = clients.client("lambda"), clients.client("events")
    if _absent_as_none(lambda: lam.get_function(FunctionName=names.function)) is not None:
        found.append(f"function {names.function}")
    if _absent_as_none(lambda: events.describe_rule(Name=names.rule)) is not None:
        found.append(f"rule {names.rule}")
    iam = clients.client("iam")
    if _absent_as_none(lambda: iam.get_role(RoleName=names.role)) is not None:
        found.append(f"role {names.role}")
    logs = clients.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=names.log_group)["logGroups"]
    found += [f"log group {g['logGroupName']}" for g in groups]
    stack = _stack(clients.client("cloudformation"), names.stack)
    if stack is not None:
        found.append(f"stack {names.stack} ({stack['StackStatus']})")
    found += [f"{kind} {name}" for kind, name in _retained(clients, names)]
    return found


# -- the stack and what it retains


def _delete_stack(clients: ClientFactory, names: Names, waits: Waits, result: Teardown) -> None:
    """The stack, then what it retains (DeletionPolicy: Retain): journal, archive, bucket."""
    cfn = clients.client("cloudformation")
    try:
        recorded = _retained_by_stack(cfn, names.stack)
    except Exception as exc:
        result.problems.append(f"reading the resources of stack {names.stack}: {_describe(exc)}")
        recorded = []
    result.attempt(f"stack {names.stack}", partial(_delete_stack_and_wait, cfn, names.stack, waits))
    try:
        # By name too: a stack deleted before (an earlier teardown) lists nothing any more.
        retained = list(dict.fromkeys([*recorded, *_retained(clients, names)]))
    except Exception as exc:
        result.problems.append(f"finding what stack {names.stack} retained: {_describe(exc)}")
        retained = recorded
    deletes = {"table": _delete_table, "archive": _delete_archive, "bucket": _delete_bucket}
    for kind, name in retained:
        result.attempt(f"{kind} {name}", partial(deletes[kind], clients, name))


#: Types of the stack's resources it keeps when deleted, and what the teardown calls them.
_RETAINED_TYPES = {
    "AWS::DynamoDB::Table": "table",
    "AWS::Events::Archive": "archive",
    "AWS::S3::Bucket": "bucket",
}


def _retained_by_stack(cfn: Any, stack: str) -> list[tuple[str, str]]:
    if _stack(cfn, stack) is None:
        return []
    return [
        (_RETAINED_TYPES[r["ResourceType"]], r["PhysicalResourceId"])
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        for r in page["StackResourceSummaries"]
        if r["ResourceType"] in _RETAINED_TYPES and r.get("PhysicalResourceId")
    ]


def _retained(clients: ClientFactory, names: Names) -> list[tuple[str, str]]:
    """Retained resources of the run's stack, found by the names CloudFormation gives them
    (``<stack>-<logical id>-<suffix>``, lower case for buckets; archives by their bus)."""
    ddb, events, s3 = clients.client("dynamodb"), clients.client("events"), clients.client("s3")
    found = [
        ("table", t)
        for page in ddb.get_paginator("list_tables").paginate()
        for t in page["TableNames"]
        if t.startswith(f"{names.stack}-")
    ]
    bus, token = f":event-bus/{names.stack}-events", None
    while True:
        page = events.list_archives(**({"NextToken": token} if token else {}))
        found += [
            ("archive", a["ArchiveName"])
            for a in page.get("Archives", [])
            if a.get("EventSourceArn", "").endswith(bus) or a["ArchiveName"].startswith(names.stack)
        ]
        token = page.get("NextToken")
        if not token:
            break
    found += [
        ("bucket", b["Name"])
        for b in s3.list_buckets().get("Buckets", [])
        if b["Name"].startswith(f"{names.stack.lower()}-")
    ]
    return found


def _stack(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):  # CloudFormation's only signal (a ValidationError)
            return None
        raise
    return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack


def _delete_stack_and_wait(cfn: Any, name: str, waits: Waits) -> bool:
    if _stack(cfn, name) is None:
        return False
    cfn.delete_stack(StackName=name)

    def gone() -> bool | None:
        stack = _stack(cfn, name)
        if stack is None:
            return True
        if stack["StackStatus"] == "DELETE_FAILED":
            raise RuntimeError(f"DELETE_FAILED: {stack.get('StackStatusReason', '')}")
        return None

    _eventually(gone, waits.teardown, waits.interval, f"the deletion of stack {name}")
    return True


def _delete_table(clients: ClientFactory, table: str) -> bool:
    ddb = clients.client("dynamodb")
    description = _absent_as_none(lambda: ddb.describe_table(TableName=table)["Table"])
    if description is None:
        return False
    if description.get("DeletionProtectionEnabled"):
        ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=table)
    return True


def _delete_archive(clients: ClientFactory, archive: str) -> bool:
    events = clients.client("events")
    return _ignore_absent(partial(events.delete_archive, ArchiveName=archive))


def delete_objects(s3: Any, bucket: str, prefix: str = "") -> int:
    """Delete every object under `prefix`, every version (SAM's bucket keeps them); a count."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if versions:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
            deleted += len(versions)
    return deleted


def _delete_bucket(clients: ClientFactory, bucket: str) -> bool:
    s3 = clients.client("s3")
    try:
        delete_objects(s3, bucket)
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return False
        raise
    return True


# -- load balancers, functions, rules, the VPC


def _vpcs(ec2: Any, run_id: str) -> list[str]:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": f"tag:{TAG_KEY}", "Values": [run_id]}])["Vpcs"]
    return [v["VpcId"] for v in vpcs]


def _balancers(elb: Any, names: Names, vpc_ids: list[str]) -> list[dict[str, Any]]:
    """The run's load balancers: in its VPC, or named like it."""
    return [
        lb
        for lb in _all(elb, "describe_load_balancers", "LoadBalancers")
        if lb.get("VpcId") in vpc_ids or lb["LoadBalancerName"].startswith(names.prefix)
    ]


def _target_groups(elb: Any, names: Names, vpc_ids: list[str]) -> list[dict[str, Any]]:
    """The run's target groups, the migrator's own included: in its VPC, or named like it."""
    return [
        g
        for g in _all(elb, "describe_target_groups", "TargetGroups")
        if g.get("VpcId") in vpc_ids or g["TargetGroupName"].startswith(names.prefix)
    ]


def _delete_rule(events: Any, rule: str) -> bool:
    if _absent_as_none(lambda: events.describe_rule(Name=rule)) is None:
        return False  # already gone (finalize deletes it)
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    if targets:
        events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=rule)
    return True


def _delete_vpc(ec2: Any, vpc_id: str, waits: Waits) -> None:
    """Wait for the load balancers' network interfaces to go, then groups, subnets, VPC."""
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    _eventually(
        lambda: not ec2.describe_network_interfaces(Filters=in_vpc)["NetworkInterfaces"] or None,
        waits.teardown,
        waits.interval,
        f"the network interfaces in {vpc_id} to be released",
    )
    # The default group, route table and network ACL go with the VPC.
    deletes = [
        partial(ec2.delete_security_group, GroupId=group["GroupId"])
        for group in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
        if group["GroupName"] != "default"
    ]
    deletes += [
        partial(ec2.delete_subnet, SubnetId=subnet["SubnetId"])
        for subnet in ec2.describe_subnets(Filters=in_vpc)["Subnets"]
    ]
    for delete in [*deletes, partial(ec2.delete_vpc, VpcId=vpc_id)]:
        _retry(delete, {"DependencyViolation"}, waits)


# ---- helpers ---------------------------------------------------------------------------------

_ABSENT_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "NoSuchEntity",
        "TargetGroupNotFound",
        "LoadBalancerNotFound",
        "ListenerNotFound",
    }
)


def _absent_as_none(call: Callable[[], _T]) -> _T | None:
    """The call's result, or None when the resource does not exist."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in _ABSENT_CODES:
            return None
        raise


def _ignore_absent(call: Callable[[], Any]) -> bool:
    """Run a delete; False when there was nothing to delete."""
    try:
        call()
    except ClientError as exc:
        if error_code(exc) in _ABSENT_CODES:
            return False
        raise
    return True


def _retry(call: Callable[[], Any], codes: set[str], waits: Waits) -> Any:
    """Repeat `call` while it fails with one of `codes` (AWS still releasing a dependency)."""
    deadline = time.monotonic() + waits.teardown
    while True:
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) not in codes or time.monotonic() > deadline:
                raise
        time.sleep(waits.interval)


def _eventually(
    condition: Callable[[], _T | None], timeout: float, interval: float, what: str
) -> _T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"Gave up waiting for {what} after {timeout:.0f} s.")
        time.sleep(interval)


def _spec(resource_type: str, names: Names) -> dict[str, Any]:
    return {
        "ResourceType": resource_type,
        "Tags": [{"Key": TAG_KEY, "Value": names.run_id}, {"Key": "Name", "Value": names.prefix}],
    }


def _all(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [
        item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]
    ]


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"
