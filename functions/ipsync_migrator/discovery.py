"""Find and classify every legacy IP-sync deployment in one account and region (read-only).

API calls grow with pages and with the load balancers involved: every list is read once
(functions, schedule rules, load balancers, target groups, ALB network interfaces), plus one
call per schedule rule for its targets; only the target groups, load balancers and functions
that belong to a legacy deployment are looked at in detail. Ordinary functions cost nothing
beyond their share of a page.

Design (issue 11):
- A function is a candidate by its fingerprint (fingerprint.py): parameters from its
  environment or its schedule targets' `Input`, in any naming style.
- One deployment per legacy target group: a function feeding several groups yields several
  deployments sharing the function; each carries FUNCTION_SHARED naming the others, a blocker
  when one of them cannot migrate (retiring the function would stop its sync).
- The ALB is resolved from the function's reference (DNS name, name, ARN, ARN suffix, ENI
  description) and, strongest, from the data: the IP group's targets being an ALB's ENI
  addresses. Every deployment carries the signals that matched and a confidence.
- Look-alikes are dropped: a candidate whose ALB is found neither by reference nor by data is
  reported only when its reference can only be an ALB (blocked ALB_NOT_FOUND: elsewhere) or
  its parameters say "ALB" by name (possible, with the evidence). Generic host names (EC2,
  RDS/Aurora, custom) that are no ALB's, and functions naming no ALB, are never reported.
- The day after: with a journal (and always from the project's own tags), a deployment this
  project migrated is reported `migrated` with its migration's state and execution; one
  finalized (function deleted) comes from the journal alone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from ipsync_migrator.aws.elb import LoadBalancing
from ipsync_migrator.aws.functions import Functions
from ipsync_migrator.aws.identity import account_id
from ipsync_migrator.aws.metrics import function_metrics
from ipsync_migrator.aws.network import Network
from ipsync_migrator.aws.schedules import Schedules
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.fingerprint import (
    AlbReference,
    Fingerprint,
    ReferenceKind,
    alb_suffix,
    fingerprint,
    normalize_dns_name,
    parse_input,
)
from ipsync_migrator.journal import Journal, MigrationRecord, MigrationState
from ipsync_migrator.models import (
    Confidence,
    Deployment,
    DiscoveryReport,
    Finding,
    FindingCode,
    LegacyFunction,
    ListenerRef,
    MigrationStatus,
    NetworkLoadBalancerRef,
    Schedule,
    Severity,
    TargetGroupSpec,
    Verdict,
)
from ipsync_migrator.naming import (
    MANAGED_BY_VALUE,
    STACK_NAME_TAG,
    TAG_MANAGED_BY,
    TAG_MIGRATION_ID,
    TAG_SOURCE_TARGET_GROUP,
    migration_id_for_function,
    migration_id_for_target_group,
    new_target_group_name,
    ownership_tags,
)
from ipsync_migrator.preflight import (
    ORPHAN_CLEANUP_COMMAND,
    DeploymentFacts,
    NlbFacts,
    classify,
    lost_attributes,
    translate_health_check,
    verdict_of,
)
from ipsync_migrator.reporting import MIGRATED_STATES, ORPHAN_CLEANUP

Progress = Callable[[str], None]
_NEXT_STEP = {
    MigrationState.IN_PROGRESS.value: "its execution is running: follow it with "
    "`ipsync-migrator status ID`.",
    MigrationState.CUT_OVER.value: "traffic is on the alb target group; the legacy function "
    "retires after the bake and drain (`ipsync-migrator status ID`).",
    MigrationState.RETIRED.value: "the legacy function is disabled; `ipsync-migrator finalize "
    "ID` deletes it and its schedule, `ipsync-migrator rollback ID` undoes the migration.",
    MigrationState.FINALIZED.value: "nothing is left to do.",
}


@dataclass
class _Estate:
    """The account-wide lists, each read once."""

    target_groups: dict[str, dict[str, Any]]
    load_balancers: dict[str, dict[str, Any]]
    albs_by_dns: dict[str, dict[str, Any]]
    albs_by_name: dict[str, dict[str, Any]]
    albs_by_suffix: dict[tuple[str, str], dict[str, Any]]
    #: ALB ARN -> its ENI addresses; address -> ALB ARN.
    alb_ips: dict[str, list[str]]
    ip_owner: dict[str, str]


@dataclass(frozen=True)
class _Candidate:
    config: dict[str, Any]
    fingerprint: Fingerprint
    schedules: list[Schedule]


def discover(
    clients: ClientFactory,
    progress: Progress | None = None,
    target_group_arn: str | None = None,
    journal: Journal | None = None,
    records: Iterable[MigrationRecord] | None = None,
    account: str | None = None,
) -> DiscoveryReport:
    """Discover and classify every legacy deployment visible to `clients`.

    With `target_group_arn`, only the deployment(s) syncing that group are resolved. With a
    `journal` (or its `records`, read once for a fleet), migrations it records are reported
    as migrated (and finalized ones listed). `account`: the credentials' account, if the
    caller already read it (GetCallerIdentity otherwise).
    """
    say = progress or (lambda _: None)
    elb, network = LoadBalancing(clients), Network(clients)
    say("Reading Lambda functions and schedules")
    schedules = Schedules(clients)
    candidates = [
        c
        for c in _candidates(Functions(clients).all(), schedules.schedule_rules())
        # The function's other groups too: a sibling that cannot migrate blocks this one.
        if target_group_arn is None or c.fingerprint.syncs(target_group_arn)
    ]
    account = account or account_id(clients)
    if records is None and journal is not None:
        records = journal.all()
    journaled = _records_here(records or [], account, clients.region)
    deployments: list[Deployment] = []
    if candidates:
        say("Reading load balancers, target groups and ALB network interfaces")
        estate = _read_estate(elb, network)
        say(f"Resolving {len(candidates)} candidate deployments")
        resolver = _Resolver(clients, elb, estate)
        facts = resolver.resolve(candidates)
        metrics = function_metrics(clients, {f.function.name for f in facts})
        facts = [replace(f, metrics=metrics.get(f.function.name)) for f in facts]
        deployments = [resolver.migrated_by_tags(build_deployment(f)) for f in facts]
        deployments = _with_siblings(deployments)
    deployments = _with_journal(deployments, journaled, target_group_arn)
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
    signals, confidence = evidence_of(facts)
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
        signals=signals,
        confidence=confidence,
    )


def evidence_of(facts: DeploymentFacts) -> tuple[list[str], Confidence]:
    """The signals behind a deployment, strongest first, and the confidence they give."""
    signals: list[str] = []
    confidence = Confidence.POSSIBLE
    alb = facts.alb
    if alb is not None and facts.group_target_ips and facts.alb_ips:
        matched = sorted(set(facts.group_target_ips) & set(facts.alb_ips))
        if matched:
            signals.append(
                f"data: the IP group's targets {', '.join(matched)} are ENI addresses of ALB "
                f"{alb['LoadBalancerName']}"
            )
            confidence = Confidence.CONFIRMED
    if alb is not None:
        if facts.alb_found_by:
            signals.append(facts.alb_found_by)
        if confidence != Confidence.CONFIRMED:
            confidence = Confidence.LIKELY
    elif (
        facts.fingerprint.alb_reference is not None
        and facts.fingerprint.alb_reference.looks_like_alb
    ):
        signals.append(
            f"{facts.fingerprint.alb_reference.source} is an ALB's "
            f"({facts.fingerprint.alb_reference.value}), not found in this account and region"
        )
        confidence = Confidence.LIKELY
    signals += list(facts.fingerprint.evidence)
    return signals, confidence


def forwards_to(actions: Iterable[dict[str, Any]], target_group_arn: str) -> bool:
    """True when a listener's actions send traffic to `target_group_arn` (plain or weighted)."""
    for action in actions:
        if action.get("TargetGroupArn") == target_group_arn:
            return True
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if any(g.get("TargetGroupArn") == target_group_arn for g in groups):
            return True
    return False


# --- candidates ---------------------------------------------------------------------------


def _unqualified(function_arn: str) -> str:
    """A function ARN without its version or alias qualifier."""
    parts = function_arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 else function_arn


def _candidates(
    configs: list[dict[str, Any]], rules: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> list[_Candidate]:
    """Every (function, group) whose fingerprint says it may be the workaround."""
    by_function: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for rule, targets in rules:
        for target in targets:
            by_function[_unqualified(target.get("Arn", ""))].append((rule, target))
    result = []
    for config in configs:
        invoked_by = by_function.get(config["FunctionArn"], [])
        inputs = [i for _, t in invoked_by if (i := parse_input(t.get("Input"))) is not None]
        found = fingerprint(
            config.get("Environment", {}).get("Variables", {}),
            config.get("Description", ""),
            config.get("Handler", ""),
            inputs=inputs,
            scheduled=bool(invoked_by),
        )
        if found is None:
            continue
        schedules = _schedules(invoked_by, rules, config["FunctionArn"])
        result += [_Candidate(config, found.for_group(g), schedules) for g in found.groups]
    return result


def _schedules(
    invoked_by: list[tuple[dict[str, Any], dict[str, Any]]],
    rules: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    function_arn: str,
) -> list[Schedule]:
    targets_of = {rule["Name"]: targets for rule, targets in rules}
    seen: dict[str, Schedule] = {}
    for rule, _ in invoked_by:
        others = [
            t.get("Arn", "")
            for t in targets_of.get(rule["Name"], [])
            if _unqualified(t.get("Arn", "")) != function_arn
        ]
        seen.setdefault(
            rule["Name"],
            Schedule(
                rule=rule["Name"],
                arn=rule.get("Arn", ""),
                expression=rule.get("ScheduleExpression", ""),
                enabled=rule.get("State") == "ENABLED",
                event_bus=rule.get("EventBusName", "default"),
                other_targets=others,
            ),
        )
    return list(seen.values())


def _read_estate(elb: LoadBalancing, network: Network) -> _Estate:
    load_balancers = {lb["LoadBalancerArn"]: lb for lb in elb.load_balancers()}
    albs = [lb for lb in load_balancers.values() if lb.get("Type") == "application"]
    by_suffix = {s: lb for lb in albs if (s := alb_suffix(lb["LoadBalancerArn"])) is not None}
    alb_ips: dict[str, list[str]] = {}
    ip_owner: dict[str, str] = {}
    for description, addresses in (network.alb_interfaces() if albs else {}).items():
        suffix = alb_suffix(description)
        owner = by_suffix.get(suffix) if suffix else None
        if owner is None:
            continue
        for address in addresses:
            alb_ips.setdefault(owner["LoadBalancerArn"], []).append(address["ip"])
            ip_owner[address["ip"]] = owner["LoadBalancerArn"]
    return _Estate(
        target_groups={tg["TargetGroupArn"]: tg for tg in elb.target_groups()},
        load_balancers=load_balancers,
        albs_by_dns={normalize_dns_name(lb["DNSName"]): lb for lb in albs},
        albs_by_name={lb["LoadBalancerName"].lower(): lb for lb in albs},
        albs_by_suffix=by_suffix,
        alb_ips=alb_ips,
        ip_owner=ip_owner,
    )


def _by_reference(estate: _Estate, reference: AlbReference | None) -> dict[str, Any] | None:
    if reference is None:
        return None
    value = reference.value.strip()
    suffix = alb_suffix(value)
    if suffix is not None:
        return estate.albs_by_suffix.get(suffix)
    if reference.kind == ReferenceKind.NAME:
        return estate.albs_by_name.get(value.lower())
    return estate.albs_by_dns.get(normalize_dns_name(value))


def _reportable(fp: Fingerprint, alb: dict[str, Any] | None) -> bool:
    """Only what can be an ALB sync is reported; look-alikes never are (module docstring)."""
    if alb is not None:
        return True
    reference = fp.alb_reference
    if reference is None or reference.names_a_non_alb_service:
        return False
    if reference.looks_like_alb:
        return True
    return reference.kind != ReferenceKind.HOSTNAME


class _Resolver:
    """Reads the per-deployment details, caching by load balancer so nothing is read twice."""

    def __init__(self, clients: ClientFactory, elb: LoadBalancing, estate: _Estate):
        self._functions = Functions(clients)
        self._network = Network(clients)
        self._elb, self._estate = elb, estate
        self._listeners: dict[str, list[dict[str, Any]]] = {}
        self._lb_attributes: dict[str, dict[str, str]] = {}
        self._concurrency: dict[str, int | None] = {}
        self._owned: dict[str, tuple[str, dict[str, str]]] | None = None

    def resolve(self, candidates: list[_Candidate]) -> list[DeploymentFacts]:
        groups = self._estate.target_groups
        involved = list(dict.fromkeys(c.fingerprint.target_group_arn for c in candidates))
        targets = {arn: self._elb.target_health(arn) for arn in involved if arn in groups}
        chosen: list[tuple[_Candidate, dict[str, Any] | None, str, list[str] | None]] = []
        for candidate in candidates:
            fp = candidate.fingerprint
            health = targets.get(fp.target_group_arn)
            ips = [h["Target"]["Id"] for h in health] if health is not None else None
            alb, found_by = self._alb_of(fp, ips)
            if not _reportable(fp, alb):
                continue
            if fp.alb_port is None and health:
                ports = {h["Target"].get("Port") for h in health}
                if len(ports) == 1 and None not in ports:
                    fp = replace(fp, alb_port=int(next(iter(ports))))
            chosen.append((replace(candidate, fingerprint=fp), alb, found_by, ips))

        present = [c.fingerprint.target_group_arn for c, *_ in chosen]
        present = [arn for arn in dict.fromkeys(present) if arn in groups]
        albs = [alb for _, alb, _, _ in chosen if alb is not None]
        alb_groups = self._alb_group_registrations({alb["LoadBalancerArn"] for alb in albs})
        security_groups = self._network.security_groups(
            sg for alb in albs for sg in alb.get("SecurityGroups", [])
        )
        vpc_cidrs = self._network.vpc_cidrs(alb["VpcId"] for alb in albs if alb.get("VpcId"))
        nlbs_by_group = {arn: self._nlbs_forwarding_to(groups[arn]) for arn in present}
        # The groups' and their listeners' tags in one batched read (20 ARNs a call).
        tags = self._elb.tags(
            [
                *present,
                *(
                    li["ListenerArn"]
                    for nlbs in nlbs_by_group.values()
                    for n in nlbs
                    for li in n.listeners
                ),
            ]
        )
        facts = []
        for candidate, alb, found_by, ips in chosen:
            fp = candidate.fingerprint
            group = groups.get(fp.target_group_arn)
            function = self._function(candidate.config, fp)
            stacks = {"function": function.stack_name} if function.stack_name else {}
            if group is None:
                facts.append(
                    DeploymentFacts(
                        function=function,
                        fingerprint=fp,
                        schedules=candidate.schedules,
                        target_group=None,
                        stacks=stacks,
                    )
                )
                continue
            nlbs = nlbs_by_group[fp.target_group_arn]
            if STACK_NAME_TAG in tags.get(group["TargetGroupArn"], {}):
                stacks["target group"] = tags[group["TargetGroupArn"]][STACK_NAME_TAG]
            for listener in (li for n in nlbs for li in n.listeners):
                stack = tags.get(listener["ListenerArn"], {}).get(STACK_NAME_TAG)
                if stack:
                    stacks[f"listener {listener['ListenerArn'].rsplit('/', 1)[-1]}"] = stack
            alb_arn = alb["LoadBalancerArn"] if alb else None
            migration_id = migration_id_for_target_group(fp.target_group_arn)
            facts.append(
                DeploymentFacts(
                    function=function,
                    fingerprint=fp,
                    schedules=candidate.schedules,
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
                    alb_found_by=found_by,
                    group_target_ips=ips,
                    alb_ips=self._estate.alb_ips.get(alb_arn) if alb_arn else None,
                )
            )
        return facts

    def _alb_of(self, fp: Fingerprint, ips: list[str] | None) -> tuple[dict[str, Any] | None, str]:
        """The ALB a deployment syncs: by its reference, else by the data (ENI addresses)."""
        alb = _by_reference(self._estate, fp.alb_reference)
        if alb is not None and fp.alb_reference is not None:
            return alb, (
                f"{fp.alb_reference.source} resolves to ALB {alb['LoadBalancerName']} by "
                f"{fp.alb_reference.kind.value}"
            )
        owners = Counter(
            self._estate.ip_owner[ip] for ip in ips or [] if ip in self._estate.ip_owner
        )
        if owners:
            arn, _ = owners.most_common(1)[0]
            alb = self._estate.load_balancers[arn]
            return alb, (
                f"ALB {alb['LoadBalancerName']} found by its ENIs (description "
                f"'ELB app/{'/'.join(alb_suffix(arn) or ())}') holding the group's targets"
            )
        return None, ""

    def migrated_by_tags(self, deployment: Deployment) -> Deployment:
        """A deployment whose traffic already flows to an alb group we created for it."""
        if deployment.verdict == Verdict.ORPHANED or deployment.network_load_balancers:
            return deployment
        owned = self._owned_groups().get(deployment.target_group_arn)
        if owned is None:
            return deployment
        new_arn, tags = owned
        new_group = self._estate.target_groups.get(new_arn, {})
        old_group = self._estate.target_groups.get(deployment.target_group_arn, {})
        lb_arns = {*new_group.get("LoadBalancerArns", []), *old_group.get("LoadBalancerArns", [])}
        if not any(
            forwards_to(li.get("DefaultActions", []), new_arn)
            for lb in lb_arns
            for li in self._listeners_of(lb)
        ):
            return deployment
        retired = not any(s.enabled for s in deployment.schedules) and (
            self._reserved(deployment.function.name) == 0
        )
        state = MigrationState.RETIRED if retired else MigrationState.CUT_OVER
        status = MigrationStatus(
            state=state.value,
            new_target_group_arn=new_arn,
            source=f"tags of {tags.get(TAG_MIGRATION_ID, new_arn)}",
        )
        return _as_migrated(deployment, status)

    def _reserved(self, name: str) -> int | None:
        if name not in self._concurrency:
            self._concurrency[name] = self._functions.reserved_concurrency(name)
        return self._concurrency[name]

    def _owned_groups(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Legacy group ARN -> (our alb group's ARN, its tags), from the tags we put on it."""
        if self._owned is None:
            alb_type = [
                arn
                for arn, tg in self._estate.target_groups.items()
                if tg.get("TargetType") == "alb"
            ]
            self._owned = {}
            for arn, tags in self._elb.tags(alb_type).items():
                if tags.get(TAG_MANAGED_BY) == MANAGED_BY_VALUE and tags.get(
                    TAG_SOURCE_TARGET_GROUP
                ):
                    self._owned[tags[TAG_SOURCE_TARGET_GROUP]] = (arn, tags)
        return self._owned

    def _function(self, config: dict[str, Any], fp: Fingerprint) -> LegacyFunction:
        tags = self._functions.tags(config["FunctionArn"])
        return LegacyFunction(
            arn=config["FunctionArn"],
            name=config["FunctionName"],
            variant=fp.variant,
            handler=config.get("Handler", ""),
            description=config.get("Description", ""),
            environment=config.get("Environment", {}).get("Variables", {}),
            reserved_concurrency=self._reserved(config["FunctionName"]),
            stack_name=tags.get(STACK_NAME_TAG),
        )

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


# --- one function, several groups ---------------------------------------------------------


def _with_siblings(deployments: list[Deployment]) -> list[Deployment]:
    """Deployments sharing a function learn of each other (FUNCTION_SHARED)."""
    by_function: dict[str, list[Deployment]] = defaultdict(list)
    for deployment in deployments:
        by_function[deployment.function.arn].append(deployment)
    result = []
    for deployment in deployments:
        others = [d for d in by_function[deployment.function.arn] if d.id != deployment.id]
        if not others or deployment.verdict == Verdict.MIGRATED:
            result.append(deployment)
            continue
        # A sibling already migrated no longer needs the function; any other verdict does.
        stuck = [d for d in others if d.verdict not in (Verdict.MIGRATABLE, Verdict.MIGRATED)]
        names = ", ".join(f"{d.id} ({d.verdict.value})" for d in others)
        finding = Finding(
            code=FindingCode.FUNCTION_SHARED,
            severity=Severity.BLOCKER if stuck else Severity.WARNING,
            message=f"Function {deployment.function.name} also syncs {names}: retiring it "
            "after this migration stops their sync too.",
            remediation="Split the function (one per target group) or keep the Lambda: "
            f"{', '.join(d.id for d in stuck)} cannot migrate."
            if stuck
            else "Migrate them together (`ipsync-migrator migrate "
            + " ".join(sorted([deployment.id, *(d.id for d in others)]))
            + "`).",
        )
        findings = [finding, *deployment.findings]
        verdict = verdict_of(findings) if deployment.verdict == Verdict.MIGRATABLE else None
        update: dict[str, Any] = {"findings": findings}
        if verdict is not None and verdict != deployment.verdict:
            update |= {"verdict": verdict, "proposed_target_group": None}
        result.append(deployment.model_copy(update=update))
    return result


# --- the day after ------------------------------------------------------------------------


def _records_here(
    records: Iterable[MigrationRecord], account: str, region: str
) -> list[MigrationRecord]:
    """The journal's migrations of this account and region (a hub journal holds a fleet's)."""
    result = []
    for record in records:
        arn = str(record.deployment.get("targetGroupArn", ""))
        parts = arn.split(":")
        if len(parts) > 4 and (parts[3], parts[4]) == (region, account):
            result.append(record)
    return result


def _execution(record: MigrationRecord) -> str | None:
    """The execution that drove the migration (a rollback's takeover is not one)."""
    for run in reversed(record.runs):
        if ":execution:" in str(run.get("owner", "")):
            return str(run["owner"])
    return record.owner or None


def _as_migrated(
    deployment: Deployment, status: MigrationStatus, orphan: bool = False
) -> Deployment:
    execution = f" by {status.execution}" if status.execution else ""
    if orphan:
        # An orphan's cleanup (steps/orphan.py): still an orphan, with how far it got.
        finding = Finding(
            code=FindingCode.MIGRATED,
            severity=Severity.INFO,
            message=f"Orphan cleaned up by ipsync-migrator{execution}: {status.state}.",
            remediation=f"`{ORPHAN_CLEANUP_COMMAND} ID --delete` deletes the function and its "
            f"schedule; `{ORPHAN_CLEANUP_COMMAND} ID --undo` restores them."
            if status.state == MigrationState.RETIRED.value
            else "Nothing is left to do.",
        )
        return deployment.model_copy(
            update={"verdict": Verdict.ORPHANED, "migration": status, "findings": [finding]}
        )
    finding = Finding(
        code=FindingCode.MIGRATED,
        severity=Severity.INFO,
        message=f"Migrated by ipsync-migrator{execution}: {status.state} (from the "
        f"{status.source}).",
        remediation="Next: " + _NEXT_STEP.get(status.state, "see `ipsync-migrator status ID`."),
    )
    return deployment.model_copy(
        update={
            "verdict": Verdict.MIGRATED,
            "migration": status,
            "findings": [finding],
            "proposed_target_group": None,
        }
    )


def _with_journal(
    deployments: list[Deployment], records: list[MigrationRecord], target_group_arn: str | None
) -> list[Deployment]:
    """The journal's word wins for migrations it drove; finalized ones come from it alone."""
    by_id = {d.id: d for d in deployments}
    for record in records:
        if record.state.value not in MIGRATED_STATES or not record.deployment:
            continue
        journaled = Deployment.model_validate(record.deployment)
        if target_group_arn is not None and journaled.target_group_arn != target_group_arn:
            continue
        status = MigrationStatus(
            state=record.state.value,
            execution=_execution(record),
            new_target_group_arn=record.new_target_group_arn,
            updated_at=record.updated_at,
        )
        # The journal's pre-migration view, with today's signals when discovery still sees it.
        seen = by_id.get(record.migration_id)
        base = journaled.model_copy(
            update={"signals": seen.signals, "confidence": seen.confidence} if seen else {}
        )
        by_id[record.migration_id] = _as_migrated(
            base, status, orphan=bool(record.plan.get(ORPHAN_CLEANUP))
        )
    return list(by_id.values())


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
