"""The demo estate: one deployment of every variant and every verdict, plus decoys."""

from __future__ import annotations

from dataclasses import dataclass

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.estate import EstateBuilder


@dataclass(frozen=True)
class DemoEstate:
    """Target group ARNs / function names of the seeded deployments, by role in the demo."""

    shop_tg: str  # v1, migratable
    api_tg: str  # v2 SAME_VPC=true, HTTPS ALB, CloudFormation-managed, attributes lost
    media_tg: str  # hostname variant, migratable
    payments_tg: str  # blocked: TLS listener on the NLB
    admin_tg: str  # blocked: ALB has no listener on ALB_LISTENER
    partner_tg: str  # blocked: SAME_VPC=false, ALB in another account
    reports_function: str  # orphaned: its target group was deleted


def seed_demo(clients: ClientFactory) -> DemoEstate:
    """Create the demo estate in whatever `clients` points at (the emulator)."""
    b = EstateBuilder(clients)
    vpc = b.vpc("10.0.0.0/16", zones=("a", "b"))

    shop_alb = b.alb("shop-alb", vpc, listeners=((80, "HTTP"),))
    # Static addresses and PrivateLink: what teams kept the workaround for (status shows
    # they read the same after cutover and rollback).
    shop_nlb = b.nlb("shop-nlb", vpc, elastic_ips=True)
    b.endpoint_service(shop_nlb)
    shop_tg = b.ip_target_group("shop-ip-tg", vpc, port=80)
    b.listener(shop_nlb, 80, shop_tg)
    b.sync_alb_ips(shop_alb, shop_tg, 80)
    b.legacy_function("shop-alb-ip-sync", shop_alb.dns_name, shop_tg, alb_port=80)

    api_alb = b.alb(
        "api-alb", vpc, listeners=((443, "HTTPS"),), internal=True, ingress_cidrs=["10.0.0.0/16"]
    )
    api_nlb = b.nlb("api-nlb", vpc, internal=True, cross_zone=True)
    stack = {"aws:cloudformation:stack-name": "api-edge"}
    api_tg = b.ip_target_group(
        "api-ip-tg",
        vpc,
        port=443,
        attributes={"deregistration_delay.timeout_seconds": "30"},
        tags=stack,
    )
    b.listener(api_nlb, 443, api_tg, tags=stack)
    b.sync_alb_ips(api_alb, api_tg, 443)
    # DNS name as users wrote it: upper case with a trailing dot.
    b.legacy_function(
        "api-ip-sync",
        api_alb.dns_name.upper() + ".",
        api_tg,
        alb_port=443,
        variant="v2",
        same_vpc=True,
        handler="sync.main",  # renamed handler: still found by its environment
        stack_name="api-edge",
    )

    media_alb = b.alb("media-alb", vpc)
    media_nlb = b.nlb("media-nlb", vpc)
    media_tg = b.ip_target_group("media-ip-tg", vpc, port=80)
    b.listener(media_nlb, 80, media_tg)
    b.sync_alb_ips(media_alb, media_tg, 80)
    b.legacy_function(
        "media-fqdn-sync",
        media_alb.dns_name,
        media_tg,
        variant="hostname",
        schedule="rate(5 minutes)",
    )

    pay_alb = b.alb("payments-alb", vpc, listeners=((443, "HTTPS"),))
    pay_nlb = b.nlb("payments-nlb", vpc)
    pay_tg = b.ip_target_group("payments-ip-tg", vpc, port=443)
    b.listener(pay_nlb, 443, pay_tg, protocol="TLS")
    b.legacy_function("payments-ip-sync", pay_alb.dns_name, pay_tg, alb_port=443)

    admin_alb = b.alb("admin-alb", vpc, listeners=((80, "HTTP"),))
    admin_nlb = b.nlb("admin-nlb", vpc)
    admin_tg = b.ip_target_group("admin-ip-tg", vpc, port=8443)
    b.listener(admin_nlb, 8443, admin_tg)
    b.legacy_function("admin-ip-sync", admin_alb.dns_name, admin_tg, alb_port=8443)

    partner_nlb = b.nlb("partner-nlb", vpc)
    partner_tg = b.ip_target_group("partner-ip-tg", vpc, port=80)
    b.listener(partner_nlb, 80, partner_tg)
    b.legacy_function(
        "partner-ip-sync",
        "internal-partner-alb-1234567890.eu-west-1.elb.amazonaws.com",
        partner_tg,
        variant="v2",
        same_vpc=False,
    )

    gone_tg = b.ip_target_group("reports-ip-tg", vpc, port=80)
    reports_alb = b.alb("reports-alb", vpc)
    b.legacy_function("reports-ip-sync", reports_alb.dns_name, gone_tg, schedule_enabled=False)
    b.elb.delete_target_group(TargetGroupArn=gone_tg)

    # Decoys: ordinary functions with a look-alike variable or two. Never reported.
    b.function("web-frontend", {"ALB_DNS_NAME": shop_alb.dns_name, "LOG_LEVEL": "info"})
    b.function("tg-auditor", {"NLB_TG_ARN": shop_tg, "ALB_DNS_NAME": shop_alb.dns_name})
    b.function("populate-cache", {"S3_BUCKET": "cache"}, handler=LEGACY_HANDLER_DECOY)

    return DemoEstate(
        shop_tg=shop_tg,
        api_tg=api_tg,
        media_tg=media_tg,
        payments_tg=pay_tg,
        admin_tg=admin_tg,
        partner_tg=partner_tg,
        reports_function="reports-ip-sync",
    )


#: A decoy that copies the official handler name but is not an IP-sync function.
LEGACY_HANDLER_DECOY = "populate_NLB_TG_with_ALB.lambda_handler"
