"""Steps `check_health` and `verify_bake`: read-only gates; they never sleep.

The state machine polls them (Wait + Choice). Each returns `gate`: `passed`, `pending` or
`failed`, with the reason. Timeouts are measured from the journaled start of the phase.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ipsync_migrator.aws.alarms import alarms_in_alarm
from ipsync_migrator.discovery import forwards_to
from ipsync_migrator.journal import MigrationRecord, MigrationState, utc_now
from ipsync_migrator.models import MigrationOptions
from ipsync_migrator.steps.context import BAKE_PASSED, StepContext, deployment_of
from ipsync_migrator.steps.create_target_group import require_new_target_group
from ipsync_migrator.steps.listeners import (
    describe,
    forwarding_to,
    listeners_of,
    load_balancers_using,
)

PASSED, PENDING, FAILED = "passed", "pending", "failed"


def target_state(ctx: StepContext, group_arn: str, alb_arn: str) -> dict[str, str]:
    """The ALB target's health in `group_arn` (state `missing` when not registered)."""
    for health in ctx.elb.target_health(group_arn):
        if health["Target"]["Id"] == alb_arn:
            described = health.get("TargetHealth", {})
            return {
                "state": described.get("State", "unknown"),
                "reason": described.get("Reason", ""),
                "description": described.get("Description", ""),
            }
    return {"state": "missing", "reason": "Target.NotRegistered", "description": ""}


def check_health(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Gate before cutover: healthy for N consecutive checks, or failed / timed out."""
    # After cutover too: swap-and-watch cuts over first, by explicit choice, then checks.
    record = ctx.hold(migration_id, owner, {MigrationState.IN_PROGRESS, MigrationState.CUT_OVER})
    options = MigrationOptions.model_validate(record.options)
    group_arn = require_new_target_group(record.new_target_group_arn, migration_id)
    alb_arn = str(deployment_of(record).application_load_balancer_arn)
    health = target_state(ctx, group_arn, alb_arn)
    started = record.health.get("startedAt") or utc_now()
    streak = record.health.get("consecutiveHealthy", 0) + 1 if health["state"] == "healthy" else 0
    elapsed = _seconds_since(started)
    if health["state"] == "unhealthy":
        gate, reason = FAILED, f"ALB target unhealthy: {health['reason']}"
    elif streak >= options.healthy_checks_required:
        gate, reason = PASSED, f"healthy for {streak} consecutive checks"
    elif elapsed >= options.health_timeout_seconds:
        gate, reason = (
            FAILED,
            (f"not healthy after {int(elapsed)} s (state {health['state']}, {health['reason']})"),
        )
    else:
        gate, reason = PENDING, f"state {health['state']} ({streak} consecutive healthy)"
    record.health = {
        "passed": gate == PASSED or bool(record.health.get("passed")),
        "startedAt": started,
        "consecutiveHealthy": streak,
        "lastState": health["state"],
        "checks": record.health.get("checks", 0) + 1,
    }
    ctx.save(record)
    return {
        "gate": gate,
        "reason": reason,
        "state": health["state"],
        "targetReason": health["reason"],
        "consecutiveHealthy": streak,
    }


def verify_bake(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Gate after cutover: group healthy, listeners still on it, alarms quiet, for the bake time."""
    record = ctx.hold(migration_id, owner, {MigrationState.CUT_OVER})
    options = MigrationOptions.model_validate(record.options)
    problems = bake_problems(ctx, record, options)
    elapsed = _seconds_since(record.timestamps.get("cutOver") or utc_now())
    if problems:
        gate, reason = FAILED, "; ".join(problems)
    elif elapsed >= options.bake_seconds:
        gate, reason = PASSED, f"baked {int(elapsed)} s without a problem"
    else:
        gate, reason = PENDING, f"baking: {int(elapsed)} of {options.bake_seconds} s"
    if gate == PASSED and BAKE_PASSED not in record.timestamps:
        record.timestamps[BAKE_PASSED] = utc_now()  # what retire_legacy requires
        ctx.save(record)
    return {"gate": gate, "reason": reason}


def bake_problems(
    ctx: StepContext, record: MigrationRecord, options: MigrationOptions
) -> list[str]:
    group_arn = require_new_target_group(record.new_target_group_arn, record.migration_id)
    alb_arn = str(deployment_of(record).application_load_balancer_arn)
    problems = []
    health = target_state(ctx, group_arn, alb_arn)
    if health["state"] not in ("healthy",):
        problems.append(f"new group's ALB target is {health['state']} ({health['reason']})")
    legacy = deployment_of(record).target_group_arn
    listeners = listeners_of(ctx, load_balancers_using(ctx, record, legacy))
    for listener_arn in record.listener_actions_set or record.saved_listener_actions:
        listener = listeners.get(listener_arn) or ctx.elb.listener(listener_arn)
        if listener is None or not forwards_to(listener.get("DefaultActions", []), group_arn):
            problems.append(f"listener {listener_arn} no longer forwards to the new group")
    for listener in forwarding_to(listeners, legacy).values():
        # Added since cutover: retiring the sync would strand it, so the migration rolls back.
        problems.append(
            f"listener {describe(listener)} forwards to the legacy group, whose sync is to be "
            "retired"
        )
    alarming = alarms_in_alarm(ctx.clients, options.alarm_names)
    if alarming:
        problems.append(f"alarms in ALARM: {', '.join(alarming)}")
    return problems


def _seconds_since(iso: str) -> float:
    return (datetime.fromisoformat(utc_now()) - datetime.fromisoformat(iso)).total_seconds()
