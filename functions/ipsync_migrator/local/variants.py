"""Public variants of the IP-sync workaround, and look-alikes that must never be reported.

Each fixture is modelled on a public deployment (named beside it) and built with the same
`EstateBuilder` as the demo, in whatever `clients` points at. Seed it with the realism adapter
installed: ALBs then have their ENIs, and the IP groups hold the ALBs' real addresses, which is
the data discovery trusts most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.estate import (
    LEGACY_HANDLER,
    EstateBuilder,
    LoadBalancer,
    Vpc,
    legacy_environment,
)


@dataclass(frozen=True)
class VariantEstate:
    """Target group ARNs (and function names) of the seeded variants, by fixture."""

    terraform_tg: str
    input_tg: str
    by_name_tg: str
    by_arn_tg: str
    by_suffix_tg: str
    multi_port_tgs: tuple[str, str]
    by_eni_tg: str
    broken_tg: str
    broken_stale_ip: str
    broken_missing_ip: str
    possible_tg: str
    #: Functions shaped like the workaround that sync no ALB: never reported.
    lookalikes: tuple[str, ...]


def _behind_nlb(
    b: EstateBuilder, name: str, vpc: Vpc, alb: LoadBalancer, port: int = 80, sync: bool = True
) -> str:
    """An NLB whose TCP listener on `port` forwards to a new IP group synced with `alb`."""
    nlb = b.nlb(f"{name}-nlb", vpc)
    group = b.ip_target_group(f"{name}-ip-tg", vpc, port=port)
    b.listener(nlb, port, group)
    if sync:
        b.sync_alb_ips(alb, group, port)
    return group


def seed_variants(clients: ClientFactory) -> VariantEstate:
    """Create every variant and look-alike in `clients`' account and region."""
    b = EstateBuilder(clients)
    vpc = b.vpc("10.1.0.0/16", zones=("a", "b"))
    region = b.region
    account = clients.client("sts").get_caller_identity()["Account"]

    # trussworks/terraform-aws-nlb-tg-to-alb (main.tf): the official variable names, its own
    # rule name "<name>-<job>-trigger", target id = the function name, python3.8.
    alb = b.alb("tf-alb", vpc)
    terraform_tg = _behind_nlb(b, "tf", vpc, alb)
    env = {
        "ALB_DNS_NAME": alb.dns_name,
        "ALB_LISTENER": "80",
        "S3_BUCKET": "tf-state",
        "NLB_TG_ARN": terraform_tg,
        "MAX_LOOKUP_PER_INVOCATION": "50",
        "INVOCATIONS_BEFORE_DEREGISTRATION": "3",
        "CW_METRIC_FLAG_IP_COUNT": "true",
    }
    arn = b.function("example-nlb-tg-updater", env, handler=LEGACY_HANDLER, runtime="python3.8")
    b.schedule(
        "example-nlb-tg-updater-trigger", arn, "rate(1 minute)", target_id="example-nlb-tg-updater"
    )

    # A public GitHub copy whose handler reads event['albDescription'],
    # event['nlbTargetGroupArn'] and event['targetPort']: the parameters live in the schedule
    # target's Input; the environment holds camelCase settings only. cron() schedule, and the
    # rule has a second target (a notification topic).
    alb = b.alb("input-alb", vpc)
    input_tg = _behind_nlb(b, "input", vpc, alb)
    arn = b.function("alb-ip-register", {"logLevel": "INFO"}, handler="handler.lambda_handler")
    suffix = alb.arn.split(":loadbalancer/", 1)[1]
    b.schedule(
        "register-alb-ips-every-minute",
        arn,
        "cron(0/1 * * * ? *)",
        target_id="register",
        target_input={
            "albDescription": f"ELB {suffix}",
            "nlbTargetGroupArn": input_tg,
            "targetPort": 80,
        },
        other_targets=[{"Id": "notify", "Arn": f"arn:aws:sns:{region}:{account}:ip-sync-runs"}],
    )

    # The 2017 template kept by hand, python2.7, the ALB named by its name (ALB_NAME).
    alb = b.alb("legacy27-alb", vpc)
    by_name_tg = _behind_nlb(b, "legacy27", vpc, alb)
    env = {
        "ALB_NAME": "legacy27-alb",
        "ALB_LISTENER": "80",
        "NLB_TG_ARN": by_name_tg,
        "S3_BUCKET": "legacy27-state",
        "INVOCATIONS_BEFORE_DEREGISTRATION": "3",
    }
    arn = b.function("legacy27-sync", env, handler="sync.handler", runtime="python2.7")
    b.schedule("legacy27-sync-schedule", arn, "rate(1 minute)")

    # A Node.js copy (public GitHub): NLB_TARGET_GROUP_ARN, NLB_TARGET_PORT, ALB_ARN, and the
    # ALB's IPs read from its ENIs instead of DNS.
    alb = b.alb("node-alb", vpc)
    by_arn_tg = _behind_nlb(b, "node", vpc, alb)
    env = {"NLB_TARGET_GROUP_ARN": by_arn_tg, "NLB_TARGET_PORT": "80", "ALB_ARN": alb.arn}
    arn = b.function("node-alb-eni-sync", env, handler="index.handler", runtime="nodejs18.x")
    b.schedule("node-alb-eni-sync", arn, "rate(5 minutes)", target_id="lambda")

    # The ALB named by its ARN suffix app/<name>/<id> (CDK-style parameter).
    alb = b.alb("cdk-alb", vpc)
    by_suffix_tg = _behind_nlb(b, "cdk", vpc, alb)
    env = {
        "albName": alb.arn.split(":loadbalancer/", 1)[1],
        "targetGroupArn": by_suffix_tg,
        "albListener": "80",
        "s3Bucket": "cdk-state",
    }
    arn = b.function("CdkStaticIpSync", env, handler="index.main")
    b.schedule("CdkStaticIpSyncRule", arn, "rate(1 minute)", target_id="Target0")

    # Several ports feeding several groups (issue 11): ALB_LISTENER=80,443 and NLB_TG_ARN
    # listing one group per port, on one NLB.
    alb = b.alb("multi-alb", vpc, listeners=((80, "HTTP"), (443, "HTTPS")))
    nlb = b.nlb("multi-nlb", vpc)
    http_tg = b.ip_target_group("multi-80-ip-tg", vpc, port=80)
    https_tg = b.ip_target_group("multi-443-ip-tg", vpc, port=443)
    b.listener(nlb, 80, http_tg)
    b.listener(nlb, 443, https_tg)
    b.sync_alb_ips(alb, http_tg, 80)
    b.sync_alb_ips(alb, https_tg, 443)
    env = legacy_environment(alb.dns_name, f"{http_tg},{https_tg}", "multi-state", region)
    arn = b.function("multi-port-sync", {**env, "ALB_LISTENER": "80,443"}, handler=LEGACY_HANDLER)
    b.schedule("multi-port-sync-schedule", arn, "rate(1 minute)")

    # The hostname variant (aws-samples hostname-as-target-for-elastic-load-balancers) in a
    # VPC, syncing a company CNAME of the ALB: only the group's targets (the ALB's ENI
    # addresses) tell which ALB it is.
    alb = b.alb("cname-alb", vpc, internal=True)
    by_eni_tg = _behind_nlb(b, "cname", vpc, alb)
    env = {
        "TARGET_FQDN": "www.internal.example.com",
        "ELB_TG_ARN": by_eni_tg,
        "DNS_SERVER": "10.1.0.2",
        "REMOVE_UNTRACKED_TG_IP": "True",
    }
    arn = b.function("cname-sync", env, handler="lambda_function.lambda_handler", vpc=vpc)
    b.schedule("cname-sync-every-5-minutes", arn, "rate(5 minutes)")

    # A broken sync (a VPC function without DNS): one stale address, one missing; its runs
    # fail (Errors in CloudWatch).
    alb = b.alb("broken-alb", vpc)
    broken_tg = _behind_nlb(b, "broken", vpc, alb, sync=False)
    current = b.alb_ips(alb)
    stale = "10.1.200.9"
    b.elb.register_targets(
        TargetGroupArn=broken_tg, Targets=[{"Id": ip, "Port": 80} for ip in [current[0], stale]]
    )
    b.legacy_function("broken-ip-sync", alb.dns_name, broken_tg)
    put_function_metrics(clients, "broken-ip-sync", errors=1440, throttles=3)

    # ALB_DNS_NAME set to a company name that is no ALB here, the group empty: possible.
    alb = b.alb("elsewhere-alb", vpc)
    possible_tg = _behind_nlb(b, "possible", vpc, alb, sync=False)
    b.legacy_function("possible-ip-sync", "api.example.com", possible_tg)

    # Look-alikes. An RDS/Aurora IP sync into an NLB group (Terraform module using the
    # hostname function for db_instances: TARGET_FQDNS, ELB_TG_ARN, DNS_SERVERS).
    rds_tg = b.ip_target_group("rds-ip-tg", vpc, port=5432)
    b.elb.register_targets(TargetGroupArn=rds_tg, Targets=[{"Id": "10.1.3.7", "Port": 5432}])
    env = {
        "TARGET_FQDNS": f"orders.cluster-c1x2.{region}.rds.amazonaws.com",
        "ELB_TG_ARN": rds_tg,
        "DNS_SERVERS": "10.1.0.2",
        "REMOVE_UNTRACKED_TG_IP": "true",
    }
    arn = b.function("rds-nlb-sync", env, handler="lambda_function.lambda_handler")
    b.schedule("rds-nlb-sync", arn, "rate(1 minute)")
    # The hostname variant syncing an EC2 instance's name.
    ec2_tg = b.ip_target_group("bastion-ip-tg", vpc, port=22)
    b.elb.register_targets(TargetGroupArn=ec2_tg, Targets=[{"Id": "10.1.4.4", "Port": 22}])
    env = {
        "TARGET_FQDN": f"ip-10-1-4-4.{region}.compute.internal",
        "ELB_TG_ARN": ec2_tg,
        "DNS_SERVER": "10.1.0.2",
        "REMOVE_UNTRACKED_TG_IP": "True",
        "MAX_LOOKUP_PER_INVOCATION": "10",
    }
    arn = b.function("bastion-hostname-sync", env, handler="lambda_function.lambda_handler")
    b.schedule("bastion-hostname-sync", arn, "rate(5 minutes)")
    # A scheduled function that only reads an ALB's name (a health reporter).
    env = {"ALB_DNS_NAME": alb.dns_name, "S3_BUCKET": "reports", "ALB_LISTENER": "80"}
    arn = b.function("alb-health-reporter", env, handler="report.handler")
    b.schedule("alb-health-reporter", arn, "cron(0 * * * ? *)")

    return VariantEstate(
        terraform_tg=terraform_tg,
        input_tg=input_tg,
        by_name_tg=by_name_tg,
        by_arn_tg=by_arn_tg,
        by_suffix_tg=by_suffix_tg,
        multi_port_tgs=(http_tg, https_tg),
        by_eni_tg=by_eni_tg,
        broken_tg=broken_tg,
        broken_stale_ip=stale,
        broken_missing_ip=current[1],
        possible_tg=possible_tg,
        lookalikes=("rds-nlb-sync", "bastion-hostname-sync", "alb-health-reporter"),
    )


def put_function_metrics(
    clients: ClientFactory, function_name: str, errors: int, throttles: int
) -> None:
    """What Lambda reports for a function's runs (the emulator's Lambda emits no metrics)."""
    when = datetime.now(UTC) - timedelta(hours=1)
    clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                "Timestamp": when,
                "Value": float(value),
                "Unit": "Count",
            }
            for name, value in (("Errors", errors), ("Throttles", throttles))
        ],
    )
