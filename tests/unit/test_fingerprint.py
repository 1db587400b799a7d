"""Fingerprinting legacy IP-sync functions, and the decoys that must not match."""

from __future__ import annotations

import json

import pytest

from ipsync_migrator.fingerprint import (
    ReferenceKind,
    alb_suffix,
    fingerprint,
    normalize_dns_name,
    normalize_key,
    parse_input,
    still_syncs,
)
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
        {"ALB_DNS_NAME": ALB, "NLB_TG_ARN": TG},
        {"ALB_DNS_NAME": ALB, "NLB_TG_ARN": TG, "S3_BUCKET": "x"},
        {**V1_ENV, "NLB_TG_ARN": "my-target-group"},
        {"TARGET_FQDN": "api.example.com", "DNS_SERVER": "10.0.0.2", "BUCKET_REGION": "x"},
    ],
    ids=[
        "dns-only",
        "dns-and-bucket",
        "core-pair-alone",
        "core-pair-one-signal",
        "tg-not-an-arn",
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


TG2 = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tls/fedcba9876543210"
ALB_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
)


@pytest.mark.parametrize(
    "key", ["ALB_DNS_NAME", "albDnsName", "AlbDnsName", "alb-dns-name", "alb_dns_name"]
)
def test_parameter_names_match_in_any_naming_style(key: str) -> None:
    # Given the official parameters written in another naming style (Terraform/CDK copies)
    env = {key: ALB, "nlbTgArn": TG, "s3Bucket": "state", "albListener": "443"}

    found = fingerprint(env)

    assert found is not None
    assert (found.target_group_arn, found.alb_port, found.s3_bucket) == (TG, 443, "state")
    assert found.alb_reference is not None
    assert found.alb_reference.kind == ReferenceKind.DNS_NAME
    assert normalize_key(key) == "albdnsname"


def test_parameters_in_the_schedule_targets_input_are_read() -> None:
    # Given a copy whose handler reads event['albDescription'], event['nlbTargetGroupArn'] and
    # event['targetPort'] from its schedule rule's Input (a public GitHub copy), with only
    # camelCase logging settings in its environment
    document = parse_input(
        json.dumps(
            {
                "albDescription": "ELB app/web/50dc6c495c0c9188",
                "nlbTargetGroupArn": TG,
                "targetPort": 80,
            }
        )
    )
    assert document is not None

    found = fingerprint(
        {"logLevel": "INFO"}, handler="index.handler", inputs=[document], scheduled=True
    )
    assert found is not None
    assert (found.target_group_arn, found.alb_port) == (TG, 80)
    assert found.alb_reference is not None
    assert found.alb_reference.kind == ReferenceKind.ENI_DESCRIPTION
    assert found.alb_reference.looks_like_alb
    assert "parameters in the schedule target's Input" in found.evidence
    assert "invoked by a schedule rule" in found.evidence
    assert any(e.startswith("input nlbTargetGroupArn names target group") for e in found.evidence)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, None), ("", None), ("not json", None), ("[1, 2]", None), ('{"a": 1}', {"a": 1})],
)
def test_only_json_objects_count_as_input(text: str | None, expected: object) -> None:
    assert parse_input(text) == expected


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("ALB_ARN", ALB_ARN, ReferenceKind.ARN),
        ("ALB_NAME", "web", ReferenceKind.NAME),
        ("ALB_NAME", "app/web/50dc6c495c0c9188", ReferenceKind.ARN),
        ("ALB_DNS_NAME", "internal-web-1.us-east-1.elb.amazonaws.com.", ReferenceKind.DNS_NAME),
        ("TARGET_FQDN", "api.example.com", ReferenceKind.HOSTNAME),
    ],
)
def test_the_alb_may_be_named_by_name_arn_suffix_or_dns_name(
    key: str, value: str, kind: ReferenceKind
) -> None:
    found = fingerprint({key: value, "NLB_TG_ARN": TG, "ALB_LISTENER": "80", "S3_BUCKET": "s"})
    assert found is not None and found.alb_reference is not None
    assert found.alb_reference.kind == kind


def test_alb_suffix_reads_arns_suffixes_and_eni_descriptions() -> None:
    expected = ("web", "50dc6c495c0c9188")
    assert alb_suffix(ALB_ARN) == expected
    assert alb_suffix("app/web/50dc6c495c0c9188") == expected
    assert alb_suffix("ELB app/web/50dc6c495c0c9188") == expected
    assert alb_suffix("net/web/50dc6c495c0c9188") is None


def test_several_ports_feed_several_groups_paired_by_position() -> None:
    # Given ALB_LISTENER=80,443 and NLB_TG_ARN listing two groups
    env = {**V1_ENV, "ALB_LISTENER": "80, 443", "NLB_TG_ARN": f"{TG},{TG2}"}

    found = fingerprint(env)

    assert found is not None
    assert [(g.target_group_arn, g.port) for g in found.groups] == [(TG, 80), (TG2, 443)]
    second = found.for_group(found.groups[1])
    assert (second.target_group_arn, second.alb_port) == (TG2, 443)
    assert found.syncs(TG2) and not found.syncs("arn:other")


def test_a_second_target_group_variable_is_a_second_group() -> None:
    # Given the public copy that adds NLB_TLS_TG_ARN for the HTTPS listener's group
    found = fingerprint({**V1_ENV, "NLB_TLS_TG_ARN": TG2})
    assert found is not None
    assert {g.target_group_arn for g in found.groups} == {TG, TG2}
    assert all(g.port == 80 for g in found.groups)


@pytest.mark.parametrize(
    ("value", "alb_like", "non_alb_service"),
    [
        ("my-alb-1234567890.us-east-1.elb.amazonaws.com", True, False),
        ("internal-my-alb-1234567890.eu-west-1.elb.amazonaws.com.", True, False),
        ("dualstack.my-alb-1234567890.us-gov-west-1.elb.amazonaws.com", True, False),
        ("my-nlb-1234567890.elb.us-east-1.amazonaws.com", False, False),
        ("db.cluster-abc.us-east-1.rds.amazonaws.com", False, True),
        ("ip-10-0-0-5.ec2.internal", False, False),
        ("api.example.com", False, False),
    ],
)
def test_only_alb_shaped_names_count_as_an_alb_by_themselves(
    value: str, alb_like: bool, non_alb_service: bool
) -> None:
    found = fingerprint(
        {"TARGET_FQDN": value, "ELB_TG_ARN": TG, "DNS_SERVER": "x", "S3_BUCKET": "y"}
    )
    assert found is not None and found.alb_reference is not None
    assert found.alb_reference.looks_like_alb is alb_like
    assert found.alb_reference.names_a_non_alb_service is non_alb_service


def test_a_group_parameter_without_an_alb_reference_is_a_candidate_for_the_data_to_decide() -> None:
    # Given the supporting parameters and a group, but the ALB named only by a Kubernetes
    # ingress (a public copy): only the IP group's targets can tell (discovery decides)
    found = fingerprint(
        {"NLB_TG_ARN": TG, "S3_BUCKET": "x", "ALB_LISTENER": "80", "FIRST_INGRESS_NAME": "ns/web"}
    )
    assert found is not None and found.alb_reference is None
    blank = fingerprint({**V1_ENV, "ALB_DNS_NAME": " "})
    assert blank is not None and blank.alb_reference is None


def test_an_rds_sync_names_no_alb() -> None:
    # Given an RDS IP sync into an NLB group (the same shape, a database endpoint)
    env = {
        "RDS_ENDPOINT": "db.cluster-abc.us-east-1.rds.amazonaws.com",
        "NLB_TG_ARN": TG,
        "S3_BUCKET": "x",
        "MAX_LOOKUP_PER_INVOCATION": "50",
    }
    found = fingerprint(env, scheduled=True)
    assert found is not None and found.alb_reference is None


def test_the_recheck_before_a_delete_reads_the_input_and_every_group() -> None:
    # Given a function whose parameters are in its schedule target's Input, and one feeding
    # two groups
    target = {
        "Id": "register",
        "Input": json.dumps({"albName": "web", "nlbTargetGroupArn": TG, "targetPort": 80}),
    }
    in_input = {"Environment": {"Variables": {"logLevel": "INFO"}}, "Handler": "index.main"}
    two_groups = {"Environment": {"Variables": {**V1_ENV, "NLB_TG_ARN": f"{TG},{TG2}"}}}

    # Then each still syncs its groups; a function reused for something else does not
    assert still_syncs(in_input, [target], TG)
    assert not still_syncs(in_input, [], TG)
    assert still_syncs(two_groups, [], TG2) and still_syncs(two_groups, [], TG)
    reused = {"Environment": {"Variables": {"PURPOSE": "reused"}}}
    assert not still_syncs(reused, [target, {"Id": "x"}], TG2)
