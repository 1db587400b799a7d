"""The day after a migration: discovery, plan and report say what happened, and agree."""

from __future__ import annotations

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.errors import FingerprintMismatchError, LegacyGroupInUseError
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.realism import Realism
from ipsync_migrator.local.variants import VariantEstate, seed_variants
from ipsync_migrator.models import DiscoveryReport, FindingCode, Verdict
from ipsync_migrator.planning import plan_migration
from ipsync_migrator.reporting import build_report
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import create_target_group
from ipsync_migrator.steps.cutover import cutover
from ipsync_migrator.steps.health import verify_bake
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.probe import attach_probe, release_probe
from ipsync_migrator.steps.retire import finalize, retire_legacy
from ipsync_migrator.steps.rollback import rollback
from tests.integration.engine.conftest import FAST, until_gate

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:ipsync-migrator-migrate:shop-1"


def migrate(ctx: StepContext, target_group_arn: str, retire: bool = True) -> str:
    """Every step of a migration up to retirement (or its bake), as the state machine runs
    them."""
    mid = str(preflight(ctx, target_group_arn, EXECUTION, FAST)["migrationId"])
    create_target_group(ctx, mid, EXECUTION)
    attach_probe(ctx, mid, EXECUTION)
    until_gate(ctx, mid, EXECUTION)
    cutover(ctx, mid, EXECUTION)
    release_probe(ctx, mid, EXECUTION)
    assert verify_bake(ctx, mid, EXECUTION)["gate"] == "passed"
    if retire:
        retire_legacy(ctx, mid, EXECUTION)
    return mid


def only(report: DiscoveryReport, migration_id: str) -> list:  # type: ignore[type-arg]
    return [d for d in report.deployments if d.id == migration_id]


def test_a_retired_migration_is_reported_migrated_not_blocked(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given shop migrated and retired
    mid = migrate(ctx, demo.shop_tg)

    # When discovery runs with the project's tags only (no journal at hand)
    [by_tags] = only(discover(aws), mid)
    # Then it is migrated (retired), not "blocked TARGET_GROUP_UNUSED, retire the function"
    assert by_tags.verdict == Verdict.MIGRATED
    assert by_tags.migration is not None and by_tags.migration.state == "retired"
    assert by_tags.migration.new_target_group_arn
    assert by_tags.blockers == []
    assert [f.code for f in by_tags.findings] == [FindingCode.MIGRATED]

    # When discovery also reads the journal
    report = discover(aws, journal=ctx.journal)
    [journaled] = only(report, mid)
    # Then it names the execution that migrated it, and what is next
    assert journaled.verdict == Verdict.MIGRATED
    assert journaled.migration is not None
    assert (journaled.migration.state, journaled.migration.execution) == ("retired", EXECUTION)
    assert "finalize" in journaled.findings[0].remediation
    # and the other demo deployments keep their verdicts
    assert {d.verdict for d in report.deployments if d.id != mid} == {
        Verdict.MIGRATABLE,
        Verdict.BLOCKED,
        Verdict.ORPHANED,
    }

    # Then plan changes nothing and blocks nothing, and the report agrees with discovery
    plan = plan_migration(journaled)
    assert (plan.verdict, plan.changes, plan.blockers) == (Verdict.MIGRATED, [], [])
    summary = build_report(report, ctx.journal.all())
    row = next(r for r in summary.rows if r.id == mid)
    assert (row.verdict, row.outcome, row.blockers) == ("migrated", "retired", [])
    assert {r.id: r.verdict for r in summary.rows} == {
        d.id: d.verdict.value for d in report.deployments
    }


def test_a_finalized_migration_is_listed_from_the_journal(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given shop migrated, then finalized (its function and schedule are gone)
    mid = migrate(ctx, demo.shop_tg)
    finalize(ctx, mid)
    assert only(discover(aws), mid) == []

    # When discovery reads the journal, Then it is there, finalized
    [found] = only(discover(aws, journal=ctx.journal), mid)
    assert found.verdict == Verdict.MIGRATED
    assert found.migration is not None and found.migration.state == "finalized"
    assert found.function.name == "shop-alb-ip-sync"


def test_a_rolled_back_migration_is_migratable_again(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given shop migrated, then rolled back
    mid = migrate(ctx, demo.shop_tg)
    result = rollback(ctx, mid, reason="test")
    for _ in range(20):  # a rollback may wait (pending) while the old group turns healthy
        if not result.get("pending"):
            break
        result = rollback(ctx, mid, reason="test", owner=result.get("owner"))
    assert result.get("state") == "rolled_back", result

    # Then discovery (journal or not) sees the legacy deployment again, migratable
    for report in (discover(aws), discover(aws, journal=ctx.journal)):
        [found] = only(report, mid)
        assert found.verdict == Verdict.MIGRATABLE, found.findings
        assert found.migration is None


@pytest.fixture
def variants(aws: ClientFactory, realism: Realism) -> VariantEstate:
    return seed_variants(aws)


def test_every_migratable_variant_migrates_and_then_reads_migrated(
    aws: ClientFactory, ctx: StepContext, variants: VariantEstate
) -> None:
    # Given every public variant (Input parameters, ALB by name, ARN, suffix, ENIs, two
    # groups of one function, a broken sync)
    before = discover(aws)
    migratable = [d for d in before.deployments if d.verdict == Verdict.MIGRATABLE]
    assert len(migratable) == 9

    # When each is migrated through its bake, then retired (a function feeding two groups is
    # retired only once both are cut over: retiring it earlier is refused, naming the sibling)
    baked = [
        migrate(ctx, d.target_group_arn, retire=False)
        for d in sorted(migratable, key=lambda d: d.target_group_name)
    ]
    for mid in baked:
        retire_legacy(ctx, mid, EXECUTION)

    # Then each forwards through its alb group, and discovery reads each as migrated, retired
    after = discover(aws, journal=ctx.journal)
    states = {
        d.id: (d.verdict, d.migration.state if d.migration else None) for d in after.deployments
    }
    assert {states[d.id] for d in migratable} == {(Verdict.MIGRATED, "retired")}
    [possible] = [d for d in after.deployments if d.target_group_arn == variants.possible_tg]
    assert possible.verdict == Verdict.POSSIBLE


def test_a_function_feeding_two_groups_is_not_retired_while_the_other_is_used(
    aws: ClientFactory, ctx: StepContext, variants: VariantEstate
) -> None:
    # Given the two groups of one function, and only the first migrated through its bake
    report = discover(aws)
    first, second = sorted(
        (d for d in report.deployments if d.verdict == Verdict.MIGRATABLE and "multi" in d.id),
        key=lambda d: d.target_group_name,
    )
    mid = migrate(ctx, first.target_group_arn, retire=False)

    # When its legacy sync is to be retired, Then it is refused: the other group needs it
    with pytest.raises(LegacyGroupInUseError, match="also syncs"):
        retire_legacy(ctx, mid, EXECUTION)
    # and once the other group is cut over too, both retire
    other = migrate(ctx, second.target_group_arn, retire=False)
    retire_legacy(ctx, mid, EXECUTION)
    retire_legacy(ctx, other, EXECUTION)


def test_a_shared_schedule_loses_only_the_functions_target_and_gets_it_back(
    aws: ClientFactory, ctx: StepContext, variants: VariantEstate
) -> None:
    # Given the Input variant: its cron rule also notifies an SNS topic
    events = aws.client("events")
    [rule] = events.list_rule_names_by_target(
        TargetArn=ctx.functions.configuration("alb-ip-register")["FunctionArn"]  # type: ignore[index]
    )["RuleNames"]
    before = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert len(before) == 2

    # When the migration retires the legacy sync
    mid = migrate(ctx, variants.input_tg)

    # Then the rule stays enabled and keeps the topic; only the function's target is gone
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    after = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert [t["Arn"].split(":")[2] for t in after] == ["sns"]

    # When it is rolled back, Then the function's target is back exactly as it was (its Input)
    assert rollback(ctx, mid, reason="test")["state"] == "rolled_back"
    restored = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert sorted(restored, key=lambda t: t["Id"]) == sorted(before, key=lambda t: t["Id"])

    # When it is migrated again and finalized, Then the rule and the topic survive
    mid = migrate(ctx, variants.input_tg)
    finalize(ctx, mid, owner=EXECUTION)
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    assert [t["Arn"].split(":")[2] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == [
        "sns"
    ]


def test_a_function_changed_after_losing_its_shared_target_is_not_deleted(
    aws: ClientFactory, ctx: StepContext, variants: VariantEstate
) -> None:
    # Given the Input variant retired (its target, the only proof of what it syncs, removed)
    mid = migrate(ctx, variants.input_tg)
    # When someone gives the function another job before finalize
    aws.client("lambda").update_function_configuration(
        FunctionName="alb-ip-register", Environment={"Variables": {"logLevel": "DEBUG"}}
    )
    # Then the saved target no longer proves the fingerprint: nothing is deleted
    with pytest.raises(FingerprintMismatchError):
        finalize(ctx, mid, owner=EXECUTION)
    assert ctx.functions.configuration("alb-ip-register") is not None
