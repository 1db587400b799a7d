"""Recognise a legacy IP-sync function from its configuration (DOMAIN.md section 1).

A function is legacy only when several independent signals agree: the pair of variables
naming the ALB and the NLB target group (with a real target group ARN), plus supporting
signals. The handler name is a weak signal only: copies renamed it freely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ipsync_migrator.models import Variant

TARGET_GROUP_ARN = re.compile(
    r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:targetgroup/[\w-]+/\w+$"
)

V1_SUPPORTING = frozenset(
    {
        "ALB_LISTENER",
        "S3_BUCKET",
        "MAX_LOOKUP_PER_INVOCATION",
        "INVOCATIONS_BEFORE_DEREGISTRATION",
        "CW_METRIC_FLAG_IP_COUNT",
        "MAX_DEREGISTRATION_PERCENT",
    }
)
HOSTNAME_SUPPORTING = frozenset(
    {
        "DNS_SERVER",
        "BUCKET_REGION",
        "REMOVE_UNTRACKED_TG_IP",
        "S3_BUCKET",
        "MAX_LOOKUP_PER_INVOCATION",
        "INVOCATIONS_BEFORE_DEREGISTRATION",
        "MAX_DEREGISTRATION_PERCENT",
    }
)
OFFICIAL_DESCRIPTION = "register application load balancer to network load balancer"
OFFICIAL_HANDLER_MODULE = "populate_nlb_tg_with_alb"
#: How many supporting signals must agree besides the core pair of variables.
MIN_SUPPORTING_SIGNALS = 2


@dataclass(frozen=True)
class Fingerprint:
    """What identified the function: its variant, the names it syncs, and the evidence."""

    variant: Variant
    target_group_arn: str
    alb_dns_name: str
    alb_port: int | None
    s3_bucket: str | None
    #: False when SAME_VPC says the ALB lives in another VPC (v2); None when not stated.
    same_vpc: bool | None
    evidence: tuple[str, ...]


def fingerprint(
    environment: Mapping[str, str], description: str = "", handler: str = ""
) -> Fingerprint | None:
    """Return the fingerprint of a legacy IP-sync function, or None for anything else."""
    if "TARGET_FQDN" in environment and "ELB_TG_ARN" in environment:
        variant, dns_key, tg_key, supporting = (
            Variant.HOSTNAME,
            "TARGET_FQDN",
            "ELB_TG_ARN",
            HOSTNAME_SUPPORTING,
        )
    elif "ALB_DNS_NAME" in environment and "NLB_TG_ARN" in environment:
        variant = Variant.V2 if "SAME_VPC" in environment else Variant.V1
        dns_key, tg_key, supporting = "ALB_DNS_NAME", "NLB_TG_ARN", V1_SUPPORTING
    else:
        return None

    target_group_arn = environment[tg_key].strip()
    alb_dns_name = environment[dns_key].strip()
    if not TARGET_GROUP_ARN.match(target_group_arn) or not alb_dns_name:
        return None

    evidence = [f"env:{key}" for key in sorted(supporting & environment.keys())]
    if variant == Variant.V2:
        evidence.append("env:SAME_VPC")
    if OFFICIAL_DESCRIPTION in description.lower():
        evidence.append("description")
    if handler.lower().startswith(OFFICIAL_HANDLER_MODULE + "."):
        evidence.append("handler")
    if len(evidence) < MIN_SUPPORTING_SIGNALS:
        return None

    return Fingerprint(
        variant=variant,
        target_group_arn=target_group_arn,
        alb_dns_name=alb_dns_name,
        alb_port=_port(environment.get("ALB_LISTENER")),
        s3_bucket=environment.get("S3_BUCKET") or None,
        same_vpc=_flag(environment.get("SAME_VPC")),
        evidence=(f"env:{dns_key}", f"env:{tg_key}", *evidence),
    )


def normalize_dns_name(name: str) -> str:
    """Canonical form of an ALB DNS name: lower case, no trailing dot, no `internal-` prefix."""
    name = name.strip().lower().rstrip(".")
    if "://" in name:
        name = name.split("://", 1)[1]
    name = name.split("/", 1)[0].split(":", 1)[0]
    return name.removeprefix("internal-")


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
