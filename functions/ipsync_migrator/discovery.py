"""Find and classify every legacy IP-sync deployment in one account and region (read-only).

API calls grow with pages and with the load balancers involved: every list is read once,
and only the target groups, load balancers and functions that belong to a legacy
deployment are looked at in detail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ipsync_migrator.aws.elb import LoadBalancing
from ipsync_migrator.aws.functions import Functions
from ipsync_migrator.aws.identity import account_id
from ipsync_migrator.aws.network import Network
from ipsync_migrator.aws.schedules import Schedules
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.fingerprint import Fingerprint, fingerprint, normalize_dns_name
from ipsync_migrator.models import (
    Deployment,
    DiscoveryReport,
    LegacyFunction,
    ListenerRef,
    NetworkLoadBalancerRef,
    Schedule,
    TargetGroupSpec,
    Verdict,
)
from ipsync_migrator.naming import (
    STACK_NAME_TAG,
    TAG_MIGRATION_ID,
    migration_id_for_function,
    migration_id_for_target_group,
    new_target_group_name,
    ownership_tags,
)
from ipsync_migrator.preflight import (
    DeploymentFacts,
    NlbFacts,
    classify,
    lost_attributes,
    translate_health_check,
    verdict_of,
)

Progress = Callable[[str], None]


@dataclass
class _Estate:
    """The account-wide lists, each read once."""

    target_groups: dict[str, dict[str, Any]]
    load_balancers: dict[str, dict[str, Any]]
    albs_by_dns: dict[str, dict[str, Any]]


def discover(
    clients: ClientFactory,
    progress: Progress | None = None,
    target_group_arn: str | None = None,
) -> DiscoveryReport:
    """Discover and classify every legacy deployment visible to `clients`.

    With `target_group_arn`, only the deployment(s) syncing that group are resolved.
    """
    say = progress or (lambda _: None)
    elb, network = LoadBalancing(clients), Network(clients)
    say("Reading Lambda functions")
    legacy = [
        (config, fp)
        for config, fp in _legacy_functions(Functions(clients))
        if target_group_arn is None or fp.target_group_arn == target_group_arn
    ]
    account = account_id(clients)
    if not legacy:
        return DiscoveryReport(account=account, region=clients.region)

    say("Reading load balancers and target groups")
    estate = _read_estate(elb)
    say(f"Resolving {len(legacy)} legacy deployments")
    facts = _Resolver(clients, elb, network, estate).resolve(legacy)
    deployments = [build_deployment(f) for f in facts]
    deployments.sort(key=lambda d: (d.verdict != Verdict.MIGRATABLE, d.id))
    return DiscoveryReport(account=account, region=clients.region, deployments=deployments)


def build_deployment(facts: DeploymentFacts) -> Deployment:
    """Turn resolved facts into a classified deployment (pure)."""
    findings = classify(facts)
    verdict = verdict_of(findings)
    group = facts.target_group
    tg_arn = facts.fingerprint.target_group_arn
    deployment_id = (
        migration_id_for_target_group(tg_arn)
        if group is not None
        else migration_id_for_function(facts.function.arn)
    )
    alb_listener = facts.alb_listener_on(facts.alb_port)
    proposed = None
    if verdict == Verdict.MIGRATABLE and group is not None:
        proposed = TargetGroupSpec(
            name=new_target_group_name(tg_arn),
            port=int(facts.alb_port or 0),
            vpc_id=group["VpcId"],
            health_check=translate_health_check(facts)[0],
            tags=ownership_tags(deployment_id, tg_arn),
        )
    return Deployment(
        id=deployment_id,
        function=facts.function,
        schedules=facts.schedules,
        target_group_arn=tg_arn,
        target_group_name=group["TargetGroupName"] if group else "",
        target_group_vpc_id=group.get("VpcId") if group else None,
        target_group_port=group.get("Port") if group else None,
        target_group_stack_name=facts.stacks.get("target group"),
        network_load_balancers=[_nlb_ref(n, facts.stacks) for n in facts.nlbs],
        alb_dns_name=facts.fingerprint.alb_dns_name,
        application_load_balancer_arn=facts.alb["LoadBalancerArn"] if facts.alb else None,
        alb_port=facts.alb_port,
        alb_listener_protocol=alb_listener.get("Protocol") if alb_listener else None,
        s3_bucket=facts.fingerprint.s3_bucket,
        attributes_lost=lost_attributes(facts.target_group_attributes),
        verdict=verdict,
        findings=findings,
        proposed_target_group=proposed,
    )


def forwards_to(actions: Iterable[dict[str, Any]], target_group_arn: str) -> bool:
    """True when a listener's actions send traffic to `target_group_arn` (plain or weighted)."""
    for action in actions:
        if action.get("TargetGroupArn") == target_group_arn:
            return True
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if any(g.get("TargetGroupArn") == target_group_arn for g in groups):
            return True
    return False


def _legacy_functions(functions: Functions) -> Iterable[tuple[dict[str, Any], Fingerprint]]:
    for config in functions.all():
        env = config.get("Environment", {}).get("Variables", {})
        found = fingerprint(env, config.get("Description", ""), config.get("Handler", ""))
        if found is not None:
            yield config, found


def _read_estate(elb: LoadBalancing) -> _Estate:
    load_balancers = {lb["LoadBalancerArn"]: lb for lb in elb.load_balancers()}
    albs_by_dns = {
        normalize_dns_name(lb["DNSName"]): lb
        for lb in load_balancers.values()
        if lb.get("Type") == "application"
    }
    return _Estate(
        target_groups={tg["TargetGroupArn"]: tg for tg in elb.target_groups()},
        load_balancers=load_balancers,
        albs_by_dns=albs_by_dns,
    )


class _Resolver:
    """Reads the per-deployment details, caching by load balancer so nothing is read twice."""

    def __init__(
        self, clients: ClientFactory, elb: LoadBalancing, network: Network, estate: _Estate
    ):
        self._functions = Functions(clients)
        self._schedules = Schedules(clients)
        self._elb, self._network, self._estate = elb, network, estate
        self._listeners: dict[str, list[dict[str, Any]]] = {}
        self._lb_attributes: dict[str, dict[str, str]] = {}

    def resolve(self, legacy: list[tuple[dict[str, Any], Fingerprint]]) -> list[DeploymentFacts]:
        groups = self._estate.target_groups
        albs = {
            fp.target_group_arn: self._estate.albs_by_dns.get(normalize_dns_name(fp.alb_dns_name))
            for _, fp in legacy
        }
        involved_groups = [fp.target_group_arn for _, fp in legacy if fp.target_group_arn in groups]
        tags = self._elb.tags(involved_groups)
        alb_groups = self._alb_group_registrations(
            {alb["LoadBalancerArn"] for alb in albs.values() if alb is not None}
        )
        security_groups = self._network.security_groups(
            sg for alb in albs.values() if alb for sg in alb.get("SecurityGroups", [])
        )
        vpc_cidrs = self._network.vpc_cidrs(
            alb["VpcId"] for alb in albs.values() if alb and alb.get("VpcId")
        )
        nlbs_by_group = {arn: self._nlbs_forwarding_to(groups[arn]) for arn in involved_groups}
        listener_tags = self._elb.tags(
            li["ListenerArn"] for nlbs in nlbs_by_group.values() for n in nlbs for li in n.listeners
        )
        facts = []
        for config, fp in legacy:
            group = groups.get(fp.target_group_arn)
            alb = albs[fp.target_group_arn] if group is not None else None
            function = self._function(config, fp)
            stacks = {"function": function.stack_name} if function.stack_name else {}
            if group is None:
                facts.append(
                    DeploymentFacts(
                        function=function,
                        fingerprint=fp,
                        schedules=self._schedules_of(function.arn),
                        target_group=None,
                        stacks=stacks,
                    )
                )
                continue
            nlbs = nlbs_by_group[fp.target_group_arn]
            if STACK_NAME_TAG in tags.get(group["TargetGroupArn"], {}):
                stacks["target group"] = tags[group["TargetGroupArn"]][STACK_NAME_TAG]
            for listener in (li for n in nlbs for li in n.listeners):
                stack = listener_tags.get(listener["ListenerArn"], {}).get(STACK_NAME_TAG)
                if stack:
                    stacks[f"listener {listener['ListenerArn'].rsplit('/', 1)[-1]}"] = stack
            alb_arn = alb["LoadBalancerArn"] if alb else None
            migration_id = migration_id_for_target_group(fp.target_group_arn)
            facts.append(
                DeploymentFacts(
                    function=function,
                    fingerprint=fp,
                    schedules=self._schedules_of(function.arn),
                    target_group=group,
                    target_group_attributes=self._elb.target_group_attributes(
                        group["TargetGroupArn"]
                    ),
                    nlbs=nlbs,
                    alb=alb,
                    alb_listeners=self._listeners_of(alb_arn) if alb_arn else [],
                    alb_security_groups=[
                        security_groups[sg]
                        for sg in (alb or {}).get("SecurityGroups", [])
                        if sg in security_groups
                    ],
                    vpc_cidrs=vpc_cidrs.get((alb or {}).get("VpcId", ""), []),
                    other_alb_groups=[
                        arn
                        for arn, owner in alb_groups.get(alb_arn or "", {}).items()
                        if owner != migration_id
                    ],
                    stacks=stacks,
                )
            )
        return facts

    def _function(self, config: dict[str, Any], fp: Fingerprint) -> LegacyFunction:
        tags = self._functions.tags(config["FunctionArn"])
        return LegacyFunction(
            arn=config["FunctionArn"],
            name=config["FunctionName"],
            variant=fp.variant,
            handler=config.get("Handler", ""),
            description=config.get("Description", ""),
            environment=config.get("Environment", {}).get("Variables", {}),
            reserved_concurrency=self._functions.reserved_concurrency(config["FunctionName"]),
            stack_name=tags.get(STACK_NAME_TAG),
        )

    def _schedules_of(self, function_arn: str) -> list[Schedule]:
        return [
            Schedule(
                rule=rule["Name"],
                arn=rule.get("Arn", ""),
                expression=rule.get("ScheduleExpression", "") or rule.get("EventPattern", ""),
                enabled=rule.get("State") == "ENABLED",
                event_bus=rule.get("EventBusName", "default"),
            )
            for rule in self._schedules.rules_targeting(function_arn)
        ]

    def _nlbs_forwarding_to(self, group: dict[str, Any]) -> list[NlbFacts]:
        result = []
        for lb_arn in group.get("LoadBalancerArns", []):
            lb = self._estate.load_balancers.get(lb_arn)
            if lb is None or lb.get("Type") != "network":
                continue
            listeners = [
                li
                for li in self._listeners_of(lb_arn)
                if forwards_to(li.get("DefaultActions", []), group["TargetGroupArn"])
            ]
            if listeners:
                result.append(NlbFacts(lb, self._attributes_of(lb_arn), listeners))
        return result

    def _alb_group_registrations(self, alb_arns: set[str]) -> dict[str, dict[str, str]]:
        """For each involved ALB: the alb-type groups it is registered in -> their migration id."""
        if not alb_arns:
            return {}
        alb_type = [
            arn for arn, tg in self._estate.target_groups.items() if tg.get("TargetType") == "alb"
        ]
        tags = self._elb.tags(alb_type)
        result: dict[str, dict[str, str]] = {}
        for arn in alb_type:
            for health in self._elb.target_health(arn):
                target = health["Target"]["Id"]
                if target in alb_arns:
                    result.setdefault(target, {})[arn] = tags.get(arn, {}).get(TAG_MIGRATION_ID, "")
        return result

    def _listeners_of(self, lb_arn: str) -> list[dict[str, Any]]:
        if lb_arn not in self._listeners:
            self._listeners[lb_arn] = self._elb.listeners(lb_arn)
        return self._listeners[lb_arn]

    def _attributes_of(self, lb_arn: str) -> dict[str, str]:
        if lb_arn not in self._lb_attributes:
            self._lb_attributes[lb_arn] = self._elb.load_balancer_attributes(lb_arn)
        return self._lb_attributes[lb_arn]


def _nlb_ref(nlb: NlbFacts, stacks: dict[str, str]) -> NetworkLoadBalancerRef:
    lb = nlb.load_balancer
    return NetworkLoadBalancerRef(
        arn=lb["LoadBalancerArn"],
        name=lb["LoadBalancerName"],
        scheme=lb.get("Scheme", ""),
        vpc_id=lb.get("VpcId", ""),
        availability_zones=[z["ZoneName"] for z in lb.get("AvailabilityZones", [])],
        cross_zone=nlb.attributes.get("load_balancing.cross_zone.enabled") == "true",
        listeners=[
            ListenerRef(
                arn=li["ListenerArn"],
                port=li["Port"],
                protocol=li["Protocol"],
                default_actions=li.get("DefaultActions", []),
                stack_name=stacks.get(f"listener {li['ListenerArn'].rsplit('/', 1)[-1]}"),
            )
            for li in nlb.listeners
        ],
    )
