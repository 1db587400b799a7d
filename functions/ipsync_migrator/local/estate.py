"""Build realistic estates of legacy IP-sync deployments in the emulator (or any sandbox).

One builder seeds the demo, the tests and the benchmark, so they all see the same shapes.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from ipsync_migrator.clients import ClientFactory

LEGACY_DESCRIPTION = "Register Application Load Balancer to Network Load Balancer"
LEGACY_HANDLER = "populate_NLB_TG_with_ALB.lambda_handler"
_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("populate_NLB_TG_with_ALB.py", source)
    return buffer.getvalue()


#: A no-op stand-in for the published function (nothing here ever runs it).
LEGACY_CODE = _zip("def lambda_handler(event, context):\n    return {'synced': True}\n")


def legacy_environment(
    alb_dns_name: str,
    target_group_arn: str,
    bucket: str,
    region: str,
    alb_port: int = 80,
    variant: str = "v1",
    same_vpc: bool | None = None,
) -> dict[str, str]:
    """The environment a legacy function of `variant` (v1, v2 or hostname) was deployed with."""
    if variant == "hostname":
        return {
            "TARGET_FQDN": alb_dns_name,
            "ELB_TG_ARN": target_group_arn,
            "DNS_SERVER": "169.254.169.253",
            "BUCKET_REGION": region,
            "S3_BUCKET": bucket,
            "REMOVE_UNTRACKED_TG_IP": "True",
        }
    env = {
        "ALB_DNS_NAME": alb_dns_name,
        "ALB_LISTENER": str(alb_port),
        "NLB_TG_ARN": target_group_arn,
        "S3_BUCKET": bucket,
        "MAX_LOOKUP_PER_INVOCATION": "50",
        "INVOCATIONS_BEFORE_DEREGISTRATION": "3",
        "CW_METRIC_FLAG_IP_COUNT": "True",
    }
    if variant == "v2":
        env["SAME_VPC"] = "false" if same_vpc is False else "true"
    return env


@dataclass(frozen=True)
class Vpc:
    id: str
    cidr: str
    subnets: list[str]
    zones: list[str]


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    name: str
    dns_name: str
    vpc: Vpc


@dataclass
class EstateBuilder:
    """Creates VPCs, load balancers, target groups, listeners and (legacy) functions."""

    clients: ClientFactory
    _role_arn: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.elb = self.clients.client("elbv2")
        self.ec2 = self.clients.client("ec2")
        self.lam = self.clients.client("lambda")
        self.events = self.clients.client("events")
        self.region = self.clients.region

    # --- network --------------------------------------------------------------------

    def vpc(self, cidr: str = "10.0.0.0/16", zones: tuple[str, ...] = ("a", "b")) -> Vpc:
        vpc_id = self.ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        base = cidr.split(".")
        subnets, zone_names = [], []
        for index, zone in enumerate(zones):
            zone_name = f"{self.region}{zone}"
            subnet_cidr = f"{base[0]}.{base[1]}.{index * 16}.0/20"
            subnets.append(
                self.ec2.create_subnet(
                    VpcId=vpc_id, CidrBlock=subnet_cidr, AvailabilityZone=zone_name
                )["Subnet"]["SubnetId"]
            )
            zone_names.append(zone_name)
        return Vpc(vpc_id, cidr, subnets, zone_names)

    def security_group(self, vpc: Vpc, name: str, port: int, cidrs: list[str]) -> str:
        group_id = self.ec2.create_security_group(
            GroupName=name, Description=f"{name} ingress", VpcId=vpc.id
        )["GroupId"]
        self.ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": c} for c in cidrs],
                }
            ],
        )
        return group_id

    # --- load balancers ---------------------------------------------------------------

    def alb(
        self,
        name: str,
        vpc: Vpc,
        listeners: tuple[tuple[int, str], ...] = ((80, "HTTP"),),
        internal: bool = False,
        ingress_cidrs: list[str] | None = None,
        zones: int | None = None,
    ) -> LoadBalancer:
        """An ALB whose listeners return a fixed 200 (the page the health check reads)."""
        sg = self.security_group(vpc, f"{name}-sg", listeners[0][0], ingress_cidrs or ["0.0.0.0/0"])
        lb = self.elb.create_load_balancer(
            Name=name,
            Type="application",
            Scheme="internal" if internal else "internet-facing",
            Subnets=vpc.subnets[: zones or len(vpc.subnets)],
            SecurityGroups=[sg],
        )["LoadBalancers"][0]
        for port, protocol in listeners:
            extra: dict[str, Any] = {}
            if protocol == "HTTPS":
                extra["Certificates"] = [{"CertificateArn": self._certificate(name)}]
            self.elb.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Port=port,
                Protocol=protocol,
                DefaultActions=[
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"},
                    }
                ],
                **extra,
            )
        return LoadBalancer(lb["LoadBalancerArn"], name, lb["DNSName"], vpc)

    def nlb(
        self,
        name: str,
        vpc: Vpc,
        internal: bool = False,
        cross_zone: bool = False,
        elastic_ips: bool = False,
    ) -> LoadBalancer:
        """An NLB in every subnet of `vpc`; with `elastic_ips`, one allocated EIP per zone
        (the static addresses teams deployed the workaround for)."""
        placement: dict[str, Any] = {"Subnets": vpc.subnets}
        if elastic_ips:
            placement = {
                "SubnetMappings": [
                    {
                        "SubnetId": subnet,
                        "AllocationId": self.ec2.allocate_address()["AllocationId"],
                    }
                    for subnet in vpc.subnets
                ]
            }
        lb = self.elb.create_load_balancer(
            Name=name,
            Type="network",
            Scheme="internal" if internal else "internet-facing",
            **placement,
        )["LoadBalancers"][0]
        if cross_zone:
            self.elb.modify_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}],
            )
        return LoadBalancer(lb["LoadBalancerArn"], name, lb["DNSName"], vpc)

    def endpoint_service(self, nlb: LoadBalancer) -> str:
        """A VPC endpoint service (PrivateLink) in front of `nlb`; its service id."""
        return str(
            self.ec2.create_vpc_endpoint_service_configuration(
                NetworkLoadBalancerArns=[nlb.arn], AcceptanceRequired=True
            )["ServiceConfiguration"]["ServiceId"]
        )

    def ip_target_group(
        self,
        name: str,
        vpc: Vpc,
        port: int = 80,
        protocol: str = "TCP",
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        arn = self.elb.create_target_group(
            Name=name,
            Protocol=protocol,
            Port=port,
            VpcId=vpc.id,
            TargetType="ip",
            HealthCheckProtocol="TCP",
            **({"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}),
        )["TargetGroups"][0]["TargetGroupArn"]
        if attributes:
            self.elb.modify_target_group_attributes(
                TargetGroupArn=arn,
                Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()],
            )
        return str(arn)

    def listener(
        self,
        load_balancer: LoadBalancer,
        port: int,
        target_group_arn: str,
        protocol: str = "TCP",
        tags: dict[str, str] | None = None,
    ) -> str:
        extra: dict[str, Any] = {}
        if protocol == "TLS":
            extra["Certificates"] = [{"CertificateArn": self._certificate(load_balancer.name)}]
        if tags:
            extra["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return str(
            self.elb.create_listener(
                LoadBalancerArn=load_balancer.arn,
                Port=port,
                Protocol=protocol,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
                **extra,
            )["Listeners"][0]["ListenerArn"]
        )

    def alb_ips(self, alb: LoadBalancer) -> list[str]:
        """The ALB's current addresses, from its ENIs (the realism adapter creates them)."""
        name, lb_id = alb.arn.split(":loadbalancer/", 1)[1].split("/")[1:3]
        interfaces = self.ec2.describe_network_interfaces(
            Filters=[{"Name": "description", "Values": [f"ELB app/{name}/{lb_id}"]}]
        )["NetworkInterfaces"]
        return sorted(eni["PrivateIpAddress"] for eni in interfaces)

    def sync_alb_ips(self, alb: LoadBalancer, target_group_arn: str, port: int) -> list[str]:
        """Do what one run of the legacy function does: register the ALB's current IPs."""
        ips = self.alb_ips(alb)
        if ips:
            self.elb.register_targets(
                TargetGroupArn=target_group_arn, Targets=[{"Id": ip, "Port": port} for ip in ips]
            )
        return ips

    # --- functions -------------------------------------------------------------------

    def legacy_function(
        self,
        name: str,
        alb_dns_name: str,
        target_group_arn: str,
        alb_port: int = 80,
        variant: str = "v1",
        same_vpc: bool | None = None,
        schedule: str | None = "rate(1 minute)",
        schedule_enabled: bool = True,
        handler: str = LEGACY_HANDLER,
        description: str = LEGACY_DESCRIPTION,
        stack_name: str | None = None,
        bucket: str | None = None,
    ) -> str:
        """A legacy IP-sync function of `variant` (v1, v2 or hostname), with its schedule."""
        env = legacy_environment(
            alb_dns_name,
            target_group_arn,
            bucket or f"{name}-state",
            self.region,
            alb_port=alb_port,
            variant=variant,
            same_vpc=same_vpc,
        )
        tags = {"aws:cloudformation:stack-name": stack_name} if stack_name else {}
        arn = self.function(name, env, handler=handler, description=description, tags=tags)
        if schedule:
            self.schedule(f"{name}-schedule", arn, schedule, enabled=schedule_enabled)
        return arn

    def function(
        self,
        name: str,
        environment: dict[str, str],
        handler: str = "app.handler",
        description: str = "",
        tags: dict[str, str] | None = None,
        runtime: str = "python3.13",
        vpc: Vpc | None = None,
    ) -> str:
        extra: dict[str, Any] = {}
        if vpc is not None:
            extra["VpcConfig"] = {"SubnetIds": vpc.subnets, "SecurityGroupIds": []}
        return str(
            self.lam.create_function(
                FunctionName=name,
                Runtime=runtime,
                Role=self._role(),
                Handler=handler,
                Code={"ZipFile": LEGACY_CODE},
                Description=description,
                Environment={"Variables": environment},
                Tags=tags or {},
                **extra,
            )["FunctionArn"]
        )

    def schedule(
        self,
        rule: str,
        function_arn: str,
        expression: str,
        enabled: bool = True,
        target_id: str = "TargetFunctionV1",
        target_input: dict[str, Any] | None = None,
        other_targets: list[dict[str, Any]] | None = None,
    ) -> str:
        """A schedule rule invoking `function_arn` (with `target_input` as its Input), plus
        `other_targets`, and the invoke permission."""
        rule_arn = self.events.put_rule(
            Name=rule,
            ScheduleExpression=expression,
            State="ENABLED" if enabled else "DISABLED",
        )["RuleArn"]
        target: dict[str, Any] = {"Id": target_id, "Arn": function_arn}
        if target_input is not None:
            target["Input"] = json.dumps(target_input)
        self.events.put_targets(Rule=rule, Targets=[target, *(other_targets or [])])
        self.lam.add_permission(
            FunctionName=function_arn,
            StatementId=f"{rule}-invoke",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule_arn,
        )
        return str(rule_arn)

    def _role(self) -> str:
        if self._role_arn is None:
            iam = self.clients.client("iam")
            try:  # another builder on the same account may have created it
                self._role_arn = iam.get_role(RoleName="legacy-ipsync-role")["Role"]["Arn"]
            except iam.exceptions.NoSuchEntityException:
                self._role_arn = iam.create_role(
                    RoleName="legacy-ipsync-role",
                    AssumeRolePolicyDocument=json.dumps(_ROLE_POLICY),
                )["Role"]["Arn"]
        return self._role_arn

    def _certificate(self, name: str) -> str:
        acm = self.clients.client("acm")
        return str(acm.request_certificate(DomainName=f"{name}.example.com")["CertificateArn"])
