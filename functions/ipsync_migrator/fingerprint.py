"""Recognise a legacy IP-sync function by what it is configured to do (DOMAIN.md sections 1, 6).

A function is a candidate only when its parameters name at least one NLB target group (a real
target group ARN) and several independent signals agree: supporting parameters of the
published function, the official description or handler, a schedule, parameters passed in the
schedule's `Input`. Parameters are read from the environment and from the schedule targets'
`Input` in any naming style seen in public modules (`ALB_DNS_NAME`, `albDnsName`,
`alb-dns-name` all mean the same). The handler name is a weak signal only: copies renamed it.

Whether the candidate really syncs an ALB is decided by discovery, which owns the data: the
ALB named by the parameters (DNS name, name, ARN, ARN suffix `app/<name>/<id>` or ENI
description `ELB app/<name>/<id>`) and, strongest, the IP group's targets being that ALB's
ENI addresses. A function whose only reference is a generic host name (`TARGET_FQDN`) that is
not an ALB's (an EC2 or RDS name) is a look-alike and is never reported.

One function may feed several groups (`NLB_TG_ARN=arn1,arn2` with `ALB_LISTENER=80,443`, or
several target-group parameters): the fingerprint lists every group with its port, paired by
position; discovery makes one deployment per group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ipsync_migrator.models import Variant

TARGET_GROUP_ARN = re.compile(
    r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:targetgroup/[\w-]+/\w+$"
)
_ARN_IN_TEXT = re.compile(
    r"arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:targetgroup/[\w-]+/[0-9a-fA-F]+"
)
#: `app/<name>/<id>`: the ALB ARN's resource suffix, also the ENI description's tail.
ALB_SUFFIX = re.compile(r"(?:^|[:/\s])app/([\w-]+)/([0-9a-fA-F]+)$")
#: An ALB DNS name: `[internal-|dualstack.]<name>-<id>.<region>.elb.amazonaws.com[.cn]`. NLB
#: names read `<name>-<id>.elb.<region>.amazonaws.com` instead (ELB user guides, "DNS name").
ALB_DNS = re.compile(r"^[\w-]+\.[a-z]{2}(?:-[a-z]+)+-\d\.elb\.amazonaws\.com(?:\.cn)?$")
#: AWS endpoints that are never an ALB (RDS/Aurora, caches, search...): look-alike syncs.
NON_ALB_AWS_NAME = re.compile(r"\.(rds|cache|es|docdb|redshift|neptune|kafka)\.amazonaws\.com")


def normalize_key(key: str) -> str:
    """`ALB_DNS_NAME`, `albDnsName`, `alb-dns-name` -> `albdnsname`."""
    return re.sub(r"[^a-z0-9]", "", key.lower())


# Parameter names by meaning, normalized. Seen in: the official template (AWS blog 2017,
# v2 2021), trussworks/terraform-aws-nlb-tg-to-alb (official names), the hostname variant
# (aws-samples hostname-as-target-for-elastic-load-balancers), Node.js copies using
# NLB_TARGET_GROUP_ARN / NLB_TARGET_PORT / ALB_ARN, and schedule-Input copies using
# albDescription / nlbTargetGroupArn / targetPort (public GitHub repositories).
ALB_DNS_KEYS = frozenset(
    {"albdnsname", "albdns", "internalalbdnsname", "albhostname", "albendpoint", "albfqdn"}
)
ALB_NAME_KEYS = frozenset({"albname", "applicationloadbalancername", "loadbalancername"})
ALB_ARN_KEYS = frozenset({"albarn", "applicationloadbalancerarn", "loadbalancerarn", "albid"})
ALB_DESCRIPTION_KEYS = frozenset({"albdescription", "albenidescription"})
HOSTNAME_KEYS = frozenset({"targetfqdn", "targetfqdns", "targethostname", "targetdnsname", "fqdn"})
TARGET_GROUP_KEYS = frozenset(
    {
        "nlbtgarn",
        "elbtgarn",
        "nlbtargetgrouparn",
        "nlbtargetgrouparns",
        "targetgrouparn",
        "targetgrouparns",
        "tgarn",
        "nlbtlstgarn",
    }
)
PORT_KEYS = frozenset(
    {"alblistener", "alblistenerport", "alblisteners", "albport", "nlbtargetport", "targetport"}
)
BUCKET_KEYS = frozenset({"s3bucket", "s3bucketname", "statusbucket", "statuss3bucket"})
SUPPORTING_KEYS = frozenset(
    {
        "maxlookupperinvocation",
        "invocationsbeforederegistration",
        "cwmetricflagipcount",
        "maxderegistrationpercent",
        "samevpc",
        "dnsserver",
        "dnsservers",
        "bucketregion",
        "removeuntrackedtgip",
    }
    | PORT_KEYS
    | BUCKET_KEYS
)
OFFICIAL_DESCRIPTION = "register application load balancer to network load balancer"
OFFICIAL_HANDLER_MODULE = "populate_nlb_tg_with_alb"
#: How many supporting signals must agree besides a target group parameter.
MIN_SUPPORTING_SIGNALS = 2


class ReferenceKind(StrEnum):
    """How the function names the load balancer whose addresses it syncs."""

    DNS_NAME = "dns name"
    NAME = "name"
    ARN = "arn"
    ENI_DESCRIPTION = "eni description"
    #: A generic host name (hostname variant): an ALB's only if it resolves to one.
    HOSTNAME = "hostname"


@dataclass(frozen=True)
class AlbReference:
    kind: ReferenceKind
    value: str
    source: str  # e.g. "env ALB_DNS_NAME", "input albDescription"

    @property
    def looks_like_alb(self) -> bool:
        """True when the value itself can only be an ALB (not an EC2/RDS/custom name)."""
        if self.kind in (ReferenceKind.ARN, ReferenceKind.ENI_DESCRIPTION):
            return ALB_SUFFIX.search(self.value.strip()) is not None
        if self.kind == ReferenceKind.NAME:
            return False
        return ALB_DNS.match(normalize_dns_name(self.value)) is not None

    @property
    def names_a_non_alb_service(self) -> bool:
        return NON_ALB_AWS_NAME.search(normalize_dns_name(self.value)) is not None


@dataclass(frozen=True)
class SyncedGroup:
    target_group_arn: str
    #: The ALB listener port the function registers the IPs on, when its parameters say.
    port: int | None
    source: str


@dataclass(frozen=True)
class Fingerprint:
    """What identified the function: the groups it feeds, the ALB it names, the evidence."""

    variant: Variant
    groups: tuple[SyncedGroup, ...]
    alb_reference: AlbReference | None
    s3_bucket: str | None
    #: False when SAME_VPC says the ALB lives in another VPC (v2); None when not stated.
    same_vpc: bool | None
    evidence: tuple[str, ...]
    #: The group this fingerprint is about (discovery makes one deployment per group).
    target_group_arn: str = ""
    alb_port: int | None = None

    @property
    def alb_dns_name(self) -> str:
        """The ALB as the function names it (DNS name, name, ARN...), or ''."""
        return self.alb_reference.value if self.alb_reference else ""

    def syncs(self, target_group_arn: str) -> bool:
        return any(g.target_group_arn == target_group_arn for g in self.groups)

    def for_group(self, group: SyncedGroup) -> Fingerprint:
        """This fingerprint about one of its groups."""
        return replace(self, target_group_arn=group.target_group_arn, alb_port=group.port)


def fingerprint(
    environment: Mapping[str, str],
    description: str = "",
    handler: str = "",
    inputs: Iterable[Mapping[str, Any]] = (),
    scheduled: bool = False,
) -> Fingerprint | None:
    """The fingerprint of a legacy IP-sync function, or None for anything else.

    `inputs` are the parsed `Input` objects of the schedule targets invoking the function;
    `scheduled` says whether any schedule rule invokes it.
    """
    params: dict[str, tuple[str, str]] = {}  # normalized key -> (source, value)
    for key, value in environment.items():
        params.setdefault(normalize_key(key), (f"env {key}", str(value)))
    input_keys = []
    for document in inputs:
        for key, value in document.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                params.setdefault(normalize_key(key), (f"input {key}", str(value)))
                input_keys.append(key)

    groups = _groups(params)
    if not groups:
        return None
    reference = _reference(params)
    supporting = sorted(source for key, (source, _) in params.items() if key in SUPPORTING_KEYS)
    evidence = [f"{source} (supporting parameter)" for source in supporting]
    if OFFICIAL_DESCRIPTION in description.lower():
        evidence.append("official description")
    if handler.lower().startswith(OFFICIAL_HANDLER_MODULE + "."):
        evidence.append(f"official handler {handler}")
    if scheduled:
        evidence.append("invoked by a schedule rule")
    if input_keys:
        evidence.append("parameters in the schedule target's Input")
    if len(evidence) < MIN_SUPPORTING_SIGNALS:
        return None

    core = [f"{g.source} names target group {g.target_group_arn}" for g in groups]
    if reference is not None:
        core.append(f"{reference.source} names the load balancer ({reference.kind.value})")
    if reference is not None and reference.kind == ReferenceKind.HOSTNAME:
        variant = Variant.HOSTNAME
    elif "samevpc" in params:
        variant = Variant.V2
    else:
        variant = Variant.V1
    bucket = next((params[k][1] for k in sorted(BUCKET_KEYS) if k in params), None)
    found = Fingerprint(
        variant=variant,
        groups=tuple(groups),
        alb_reference=reference,
        s3_bucket=bucket or None,
        same_vpc=_flag(params["samevpc"][1]) if "samevpc" in params else None,
        evidence=(*core, *evidence),
    )
    return found.for_group(groups[0])


def still_syncs(
    configuration: Mapping[str, Any],
    rule_targets: Iterable[Mapping[str, Any]],
    target_group_arn: str,
) -> bool:
    """Does the function (its configuration now, and its schedule rules' targets now) still
    have the fingerprint of the sync of `target_group_arn`? For the re-check before a delete:
    it reads the Input too, and any of the function's groups."""
    targets = list(rule_targets)
    inputs = [i for t in targets if (i := parse_input(t.get("Input"))) is not None]
    found = fingerprint(
        configuration.get("Environment", {}).get("Variables", {}),
        configuration.get("Description", ""),
        configuration.get("Handler", ""),
        inputs=inputs,
        scheduled=bool(targets),
    )
    return found is not None and found.syncs(target_group_arn)


def parse_input(text: str | None) -> dict[str, Any] | None:
    """A schedule target's `Input` as an object, or None (absent, not JSON, not an object)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _groups(params: dict[str, tuple[str, str]]) -> list[SyncedGroup]:
    """Every target group the parameters name, each with its port when they pair up."""
    ports = _ports(params)
    result: list[SyncedGroup] = []
    seen: set[str] = set()
    # Named target-group parameters first (in a stable order), then any other value that
    # holds target group ARNs.
    keys = sorted(params, key=lambda k: (k not in TARGET_GROUP_KEYS, k))
    for key in keys:
        source, value = params[key]
        arns = [a for a in _ARN_IN_TEXT.findall(value) if TARGET_GROUP_ARN.match(a)]
        if not arns or (key not in TARGET_GROUP_KEYS and not _only_arns(value, arns)):
            continue
        for index, arn in enumerate(arns):
            if arn in seen:
                continue
            seen.add(arn)
            result.append(SyncedGroup(arn, None, source))
            if len(arns) == len(ports) and len(arns) > 1:
                result[-1] = SyncedGroup(arn, ports[index], source)
    if len(ports) == 1:
        result = [SyncedGroup(g.target_group_arn, ports[0], g.source) for g in result]
    elif len(ports) == len(result) and all(g.port is None for g in result):
        result = [
            SyncedGroup(g.target_group_arn, port, g.source)
            for g, port in zip(result, ports, strict=True)
        ]
    return result


def _only_arns(value: str, arns: list[str]) -> bool:
    rest = value
    for arn in arns:
        rest = rest.replace(arn, "")
    return not re.sub(r"[\s,;\[\]\"']", "", rest)


def _ports(params: dict[str, tuple[str, str]]) -> list[int]:
    for key in sorted(PORT_KEYS):
        if key in params:
            parts = [p for p in re.split(r"[\s,;]+", params[key][1].strip()) if p]
            ports = [_port(p) for p in parts]
            if ports and all(p is not None for p in ports):
                return [p for p in ports if p is not None]
    return []


def _reference(params: dict[str, tuple[str, str]]) -> AlbReference | None:
    for keys, kind in (
        (ALB_ARN_KEYS, ReferenceKind.ARN),
        (ALB_DESCRIPTION_KEYS, ReferenceKind.ENI_DESCRIPTION),
        (ALB_DNS_KEYS, ReferenceKind.DNS_NAME),
        (ALB_NAME_KEYS, ReferenceKind.NAME),
        (HOSTNAME_KEYS, ReferenceKind.HOSTNAME),
    ):
        for key in sorted(keys):
            if key in params and params[key][1].strip():
                source, value = params[key]
                return AlbReference(_refine(kind, value.strip()), value.strip(), source)
    return None


def _refine(kind: ReferenceKind, value: str) -> ReferenceKind:
    """A value says more than its key: an ARN or `app/<name>/<id>` is one wherever it is."""
    if kind == ReferenceKind.ENI_DESCRIPTION:
        return kind
    if ALB_SUFFIX.search(value):
        return ReferenceKind.ARN
    if kind == ReferenceKind.NAME and "." in value:
        return ReferenceKind.DNS_NAME
    return kind


def normalize_dns_name(name: str) -> str:
    """Canonical form of an ALB DNS name: lower case, no trailing dot, no `internal-` or
    `dualstack.` prefix."""
    name = name.strip().lower().rstrip(".")
    if "://" in name:
        name = name.split("://", 1)[1]
    name = name.split("/", 1)[0].split(":", 1)[0]
    return name.removeprefix("dualstack.").removeprefix("internal-")


def alb_suffix(value: str) -> tuple[str, str] | None:
    """(name, id) from an ALB ARN, `app/<name>/<id>` or `ELB app/<name>/<id>`."""
    match = ALB_SUFFIX.search(value.strip())
    return (match.group(1), match.group(2)) if match else None


def _port(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        port = int(value.strip())
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1", "yes")
