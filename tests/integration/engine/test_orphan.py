"""An orphaned deployment's cleanup: retire with a snapshot, undo exactly, delete later."""

from __future__ import annotations

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.errors import (
    FingerprintMismatchError,
    InvalidInputError,
    StepPreconditionError,
)
from ipsync_migrator.journal import MigrationRecord
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.estate import EstateBuilder
from ipsync_migrator.models import Deployment, FindingCode, Verdict
from ipsync_migrator.preflight import ORPHAN_CLEANUP_COMMAND
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.orphan import delete_orphan, retire_orphan, undo_orphan
from tests.integration.engine.conftest import snapshot

OWNER = "cli:tester"


@pytest.fixture
def orphan(aws: ClientFactory, demo: DemoEstate) -> Deployment:
    """An orphan whose schedule is enabled and whose concurrency is reserved (5)."""
    b = EstateBuilder(aws)
    vpc = b.vpc("10.9.0.0/16")
    alb = b.alb("gone-alb", vpc)
    group = b.ip_target_group("gone-ip-tg", vpc)
    b.legacy_function("gone-ip-sync", alb.dns_name, group)
    b.lam.put_function_concurrency(FunctionName="gone-ip-sync", ReservedConcurrentExecutions=5)
    b.elb.delete_target_group(TargetGroupArn=group)
    [found] = [d for d in discover(aws).deployments if d.function.name == "gone-ip-sync"]
    assert found.verdict == Verdict.ORPHANED
    return found


def test_the_orphan_finding_names_a_command_that_exists(orphan: Deployment) -> None:
    [finding] = [f for f in orphan.findings if f.code == FindingCode.TARGET_GROUP_NOT_FOUND]
    assert f"`{ORPHAN_CLEANUP_COMMAND} ID`" in finding.remediation
    assert "finalize" not in finding.remediation


def test_retire_then_undo_restores_exactly_what_was_there(
    aws: ClientFactory, ctx: StepContext, orphan: Deployment
) -> None:
    before = snapshot(aws)

    # When the orphan is retired
    retire_orphan(ctx, orphan, OWNER)
    # Then its schedule is disabled and its concurrency 0, and discovery says how far it got
    retired = snapshot(aws)
    assert retired["rules"]["gone-ip-sync-schedule"] == "DISABLED"
    assert retired["functions"]["gone-ip-sync"] == 0
    [seen] = [d for d in discover(aws, journal=ctx.journal).deployments if d.id == orphan.id]
    assert seen.verdict == Verdict.ORPHANED
    assert seen.migration is not None and seen.migration.state == "retired"
    assert "--delete" in seen.findings[0].remediation and "--undo" in seen.findings[0].remediation
    # and retiring again changes nothing
    assert retire_orphan(ctx, orphan, OWNER) == {"already": "retired"}

    # When it is undone, Then everything is as before (rule enabled, concurrency 5)
    undo_orphan(ctx, orphan.id)
    assert snapshot(aws) == before
    # and it can be retired again
    retire_orphan(ctx, orphan, OWNER)
    assert snapshot(aws)["functions"]["gone-ip-sync"] == 0


def test_delete_removes_function_rule_and_permission_after_a_retire(
    aws: ClientFactory, ctx: StepContext, orphan: Deployment
) -> None:
    # Given a journal record of a migration under that id: delete refuses it
    ctx.journal.save(MigrationRecord(migration_id=orphan.id))
    with pytest.raises(InvalidInputError, match="not an orphan's cleanup"):
        delete_orphan(ctx, orphan.id)

    # When the orphan is retired, then deleted
    retire_orphan(ctx, orphan, OWNER)
    result = delete_orphan(ctx, orphan.id)

    # Then its function, rule and invoke permission are gone, and a second delete is a no-op
    assert "function gone-ip-sync" in result["deleted"]
    assert "rule gone-ip-sync-schedule" in result["deleted"]
    after = snapshot(aws)
    assert "gone-ip-sync" not in after["functions"]
    assert "gone-ip-sync-schedule" not in after["rules"]
    assert delete_orphan(ctx, orphan.id) == {"alreadyFinalized": True}
    with pytest.raises(StepPreconditionError, match="function was deleted"):
        undo_orphan(ctx, orphan.id)


def test_delete_is_refused_when_the_group_exists_again(
    aws: ClientFactory, ctx: StepContext, orphan: Deployment
) -> None:
    # Given a retired orphan whose target group someone re-created under the same ARN: moto
    # gives a new ARN, so the journaled deployment is pointed at a group that exists
    retire_orphan(ctx, orphan, OWNER)
    record = ctx.journal.get(orphan.id)
    assert record is not None
    b = EstateBuilder(aws)
    group = b.ip_target_group("back-ip-tg", b.vpc("10.8.0.0/16"))
    record.deployment["targetGroupArn"] = group
    ctx.journal.save(record)

    with pytest.raises(StepPreconditionError, match="is not an orphan"):
        delete_orphan(ctx, orphan.id)
    assert "gone-ip-sync" in snapshot(aws)["functions"]


def test_a_deployment_whose_group_exists_is_refused_and_nothing_changes(
    aws: ClientFactory, ctx: StepContext, demo: DemoEstate
) -> None:
    [shop] = [d for d in discover(aws).deployments if d.target_group_arn == demo.shop_tg]
    before = snapshot(aws)
    with pytest.raises(InvalidInputError, match="not orphaned"):
        retire_orphan(ctx, shop, OWNER)
    assert snapshot(aws) == before
    assert ctx.journal.get(shop.id) is None


def test_a_function_that_changed_since_discovery_is_refused(
    aws: ClientFactory, ctx: StepContext, orphan: Deployment
) -> None:
    aws.client("lambda").update_function_configuration(
        FunctionName="gone-ip-sync", Environment={"Variables": {"PURPOSE": "reused"}}
    )
    before = snapshot(aws)
    with pytest.raises(FingerprintMismatchError):
        retire_orphan(ctx, orphan, OWNER)
    assert snapshot(aws) == before
