"""Fingerprinting legacy IP-sync functions, and the decoys that must not match."""

from __future__ import annotations

import pytest

from ipsync_migrator.fingerprint import fingerprint, normalize_dns_name
from ipsync_migrator.models import Variant

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-ip/0123456789abcdef"
ALB = "my-alb-1234567890.us-east-1.elb.amazonaws.com"
V1_ENV = {
    "ALB_DNS_NAME": ALB,
    "ALB_LISTENER": "80",
    "NLB_TG_ARN": TG,
    "S3_BUCKET": "state",
    "MAX_LOOKUP_PER_INVOCATION": "50",
    "INVOCATIONS_BEFORE_DEREGISTRATION": "3",
    "CW_METRIC_FLAG_IP_COUNT": "True",
}


def test_official_v1_function_is_recognised_with_its_port_and_bucket() -> None:
    found = fingerprint(V1_ENV, handler="populate_NLB_TG_with_ALB.lambda_handler")
    assert found is not None
    assert found.variant == Variant.V1
    assert (found.target_group_arn, found.alb_dns_name, found.alb_port) == (TG, ALB, 80)
    assert found.s3_bucket == "state"
    assert found.same_vpc is None


@pytest.mark.parametrize(("same_vpc", "expected"), [("true", True), ("false", False)])
def test_v2_is_told_apart_by_same_vpc(same_vpc: str, expected: bool) -> None:
    found = fingerprint({**V1_ENV, "SAME_VPC": same_vpc})
    assert found is not None
    assert found.variant == Variant.V2
    assert found.same_vpc is expected


def test_hostname_variant_is_recognised() -> None:
    env = {
        "TARGET_FQDN": ALB,
        "ELB_TG_ARN": TG,
        "DNS_SERVER": "10.0.0.2",
        "BUCKET_REGION": "us-east-1",
        "REMOVE_UNTRACKED_TG_IP": "True",
    }
    found = fingerprint(env)
    assert found is not None
    assert found.variant == Variant.HOSTNAME
    assert found.alb_port is None


def test_renamed_handler_does_not_hide_a_legacy_function() -> None:
    assert fingerprint(V1_ENV, handler="index.main") is not None


def test_core_pair_plus_official_description_and_handler_is_enough() -> None:
    env = {"ALB_DNS_NAME": ALB, "NLB_TG_ARN": TG}
    found = fingerprint(
        env,
        description="Register Application Load Balancer to Network Load Balancer",
        handler="populate_NLB_TG_with_ALB.lambda_handler",
    )
    assert found is not None


@pytest.mark.parametrize(
    "env",
    [
        {"ALB_DNS_NAME": ALB},
        {"ALB_DNS_NAME": ALB, "LOG_LEVEL": "info", "S3_BUCKET": "x"},
        {"NLB_TG_ARN": TG, "S3_BUCKET": "x", "ALB_LISTENER": "80"},
        {"ALB_DNS_NAME": ALB, "NLB_TG_ARN": TG},
        {"ALB_DNS_NAME": ALB, "NLB_TG_ARN": TG, "S3_BUCKET": "x"},
        {**V1_ENV, "NLB_TG_ARN": "my-target-group"},
        {**V1_ENV, "ALB_DNS_NAME": " "},
        {"TARGET_FQDN": "api.example.com", "DNS_SERVER": "10.0.0.2", "BUCKET_REGION": "x"},
    ],
    ids=[
        "dns-only",
        "dns-and-bucket",
        "tg-without-dns",
        "core-pair-alone",
        "core-pair-one-signal",
        "tg-not-an-arn",
        "blank-dns",
        "hostname-without-tg",
    ],
)
def test_decoys_are_not_flagged(env: dict[str, str]) -> None:
    assert fingerprint(env) is None


def test_official_handler_name_alone_is_not_enough() -> None:
    assert (
        fingerprint({"S3_BUCKET": "x"}, handler="populate_NLB_TG_with_ALB.lambda_handler") is None
    )


@pytest.mark.parametrize(
    "written",
    [
        "internal-My-ALB-123.us-east-1.elb.amazonaws.com.",
        "my-alb-123.us-east-1.elb.amazonaws.com",
        "INTERNAL-MY-ALB-123.US-EAST-1.ELB.AMAZONAWS.COM",
        " my-alb-123.us-east-1.elb.amazonaws.com. ",
    ],
)
def test_dns_names_match_case_insensitively_without_internal_prefix_or_dot(written: str) -> None:
    assert normalize_dns_name(written) == "my-alb-123.us-east-1.elb.amazonaws.com"
