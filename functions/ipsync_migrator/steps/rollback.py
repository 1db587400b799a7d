"""Step `rollback`: undo a migration from whatever point the journal says it reached.

Read-verify-write in reverse, and everything it can:

1. the legacy sync back on (schedule rules enabled, reserved concurrency restored);
2. the old group refilled with the ALB's current IPs;
3. when production listeners must move back, the old group first proves healthy: its
   targets are checked through a return probe listener when no listener uses the group
   (an unused group never reports healthy). Until then the rollback is `pending` and its
   caller polls; past rollbackHealthTimeoutSeconds production stays on the new group, and
   the rollback says so;
4. each listener is restored only while it still carries what the migration set, and read
   back; one a person changed since is reported and left, unless the caller forces it;
5. the probes are removed, and the new group deleted unless a listener still uses it.

A failing call in one part (a denied read, a throttled write) is recorded with the call, the
missing permission and the fix, and the other parts go on. The rollback ends `rolled_back`
when everything is undone, `rollback_incomplete` with the leftovers otherwise; running it
again, once the cause is fixed, goes on from there. Every part checks before it acts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from ipsync_migrator.aws.executions import is_execution_arn, stop_execution
from ipsync_migrator.errors import (
    ConcurrentMigrationError,
    IpsyncError,
    NotFoundError,
    StepPreconditionError,
)
from ipsync_migrator.events import DetailType
from ipsync_migrator.journal import MigrationRecord, MigrationState, utc_now
from ipsync_migrator.models import MigrationOptions, TargetGroupSpec
from ipsync_migrator.naming import TAG_MIGRATION_ID
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.context import StepContext, deployment_of
from ipsync_migrator.steps.cutover import canonical_actions, planned_listener_changes
from ipsync_migrator.steps.legacy_switch import restore_legacy
from ipsync_migrator.steps.listeners import describe, group_users, listeners_forwarding_to
from ipsync_migrator.steps.nlb_identity import AFTER_ROLLBACK, verify_identity
from ipsync_migrator.steps.probe import attach_return_probe, remove_probes

ATTEMPTS = 5
#: The owner a rollback from the CLI or a replay holds the migration by.
ROLLBACK_HOLDER_PREFIX = "rollback:"
#: A begun step older than this is no longer running: the longest step function timeout is
#: 60 s (template.yaml), and Step Functions retries a timed-out step as a new invocation.
IN_FLIGHT_SECONDS = 300
PASSED, PENDING, FAILED = "passed", "pending", "failed"
T = TypeVar("T")


def rollback(
    ctx: StepContext,
    migration_id: str,
    reason: str = "",
    owner: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Undo the migration as far as it can, in one pass; `pending` while the old group heals.

    With `owner` it undoes only while that owner holds the migration: the state machine's
    Rollback for its own run, or a caller polling a rollback it started (the `owner` it got
    back). Without (the CLI, a replay), it first takes the migration over: a new owner and
    epoch in a conditional write, then it stops the execution that drove it, so no later step
    of that run acts. A write that lost a race re-reads the record and undoes again from it.
    `force` restores listeners even where someone changed them since cutover.
    """
    holder = owner or f"{ROLLBACK_HOLDER_PREFIX}{uuid.uuid4()}"
    stopped: str | None = None
    for _ in range(ATTEMPTS):
        record = ctx.load(migration_id)
        if record.state == MigrationState.ROLLED_BACK:
            # Already done, or a concurrent run (a duplicated replayed event) recorded it first.
            return {"alreadyRolledBack": True, "state": record.state.value}
        _refuse_finalized(record)
        try:
            if record.owner != holder:
                if owner is not None:
                    return {"superseded": True, "by": record.owner, "state": record.state.value}
                previous = record.owner
                record = _take_over(ctx, record, holder, reason)
                if stopped is None and is_execution_arn(previous):
                    stop_execution(ctx.hub, previous, f"rolled back: {reason}"[:1000])
                    stopped = previous
            elif (record.in_flight or {}).get("step") != Step.ROLLBACK:
                record = _start(ctx, record, reason)
            outcome = undo(ctx, record, force)
            if outcome.pending:
                record.rollback_report = {**record.rollback_report, **outcome.progress()}
                ctx.save(record)
                return {**outcome.result(), "pending": True, "owner": holder, "state": "pending"}
            _finish(ctx, record, outcome, reason)
        except ConcurrentMigrationError:
            latest = ctx.load(migration_id)
            if latest.owner != holder and (latest.in_flight or {}).get("step") == Step.ROLLBACK:
                # Another rollback took it over meanwhile: it goes on, this one stands back
                # (taking it back would make the two steal it from each other in turn).
                return {"superseded": True, "by": latest.owner, "state": latest.state.value}
            continue  # someone else wrote meanwhile: re-read, and undo again from that record
        state = (
            MigrationState.ROLLED_BACK if outcome.complete else MigrationState.ROLLBACK_INCOMPLETE
        )
        return {
            **outcome.result(),
            "state": state.value,
            "owner": holder,
            "stoppedExecution": stopped,
        }
    raise ConcurrentMigrationError(
        f"Migration '{migration_id}' kept changing during rollback.",
        "Run `ipsync-migrator rollback` again once other runs have stopped.",
    )


def rollback_until_settled(
    ctx: StepContext,
    migration_id: str,
    reason: str = "",
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Take the migration over and poll the rollback until it ends (a replay, in one call).

    It ends by itself: past rollbackHealthTimeoutSeconds the pending health gate fails.
    """
    result = rollback(ctx, migration_id, reason, force=force)
    while result.get("pending"):
        options = MigrationOptions.model_validate(ctx.load(migration_id).options)
        sleep(options.rollback_poll_seconds)
        result = rollback(ctx, migration_id, reason, owner=result["owner"], force=force)
    return result


@dataclass
class Undo:
    """What one pass of the undo did, what it left, and why."""

    report: dict[str, Any] = field(default_factory=dict)
    #: Parts that failed: the part, the error code, its message and the fix.
    problems: list[dict[str, str]] = field(default_factory=list)
    #: What is left undone, in words a person acts on.
    leftovers: list[str] = field(default_factory=list)
    #: Why the rollback waits (the old group's health), or None.
    pending: str | None = None
    old_group_healthy_at: str | None = None

    @property
    def complete(self) -> bool:
        return not self.problems and not self.leftovers

    def attempt(self, part: str, action: Callable[[], T], default: T) -> T:
        """Run one part; a failed AWS call is recorded and the other parts go on."""
        try:
            value = action()
        except ConcurrentMigrationError:
            raise
        except IpsyncError as exc:
            self.problems.append(
                {"part": part, "error": exc.code, "message": exc.message, "fix": exc.remediation}
            )
            return default
        self.report[part] = value
        return value

    def progress(self) -> dict[str, Any]:
        progress: dict[str, Any] = {"waitingFor": self.pending, "checkedAt": utc_now()}
        if self.old_group_healthy_at:
            progress["oldGroupHealthyAt"] = self.old_group_healthy_at
        return progress

    def result(self) -> dict[str, Any]:
        return {
            **self.report,
            "complete": self.complete and self.pending is None,
            "leftovers": self.leftovers,
            "problems": self.problems,
            **({"waitingFor": self.pending} if self.pending else {}),
        }


def undo(ctx: StepContext, record: MigrationRecord, force: bool = False) -> Undo:
    """Every part of the undo, in order; each checks before it acts (idempotent)."""
    outcome = Undo()
    outcome.attempt("legacy", lambda: _restore_legacy(ctx, record), None)
    outcome.attempt("oldTargetGroup", lambda: _refill_old_group(ctx, record), None)
    to_restore = outcome.attempt(
        "listenersChecked", lambda: _listeners_to_restore(ctx, record, force, outcome), None
    )
    if to_restore is None:
        outcome.leftovers.append(
            "production listeners were not checked; they may still forward to the new group"
        )
    elif to_restore:
        gate = outcome.attempt("oldGroupHealth", lambda: _old_group_gate(ctx, record), None)
        if gate is not None and gate["gate"] == PENDING:
            outcome.pending = gate["reason"]
            return outcome  # the probes stay: the return probe is what makes health visible
        if gate is not None and gate["gate"] == PASSED:
            outcome.old_group_healthy_at = gate.get("healthyAt")
            for arn, saved in sorted(to_restore.items()):
                outcome.attempt(f"listener {arn}", partial(_restore, ctx, arn, saved), "")
            restored = [arn for arn in to_restore if f"listener {arn}" in outcome.report]
            outcome.report["listeners"] = restored
        else:
            why = gate["reason"] if gate is not None else "its health could not be read"
            outcome.leftovers.append(
                f"production stays on the new group (listeners {', '.join(sorted(to_restore))}): "
                f"the old group did not prove healthy ({why}); fix the old group's targets, "
                "then run the rollback again"
            )
    else:
        outcome.report["listeners"] = []
    outcome.attempt("probes", partial(remove_probes, ctx, record), list[str]())
    outcome.attempt("newTargetGroup", lambda: _delete_new_group(ctx, record, outcome), None)
    for problem in outcome.problems:
        outcome.leftovers.append(f"{problem['part']}: not undone ({problem['message']})")
    return outcome


def reapply_undo_if_rolled_back(ctx: StepContext, migration_id: str, step: str) -> None:
    """A step fenced after its writes: if a rollback took over, its undo goes on top of them."""
    if step == Step.ROLLBACK:
        return
    record = ctx.load(migration_id)
    in_flight = record.in_flight or {}
    if record.state == MigrationState.ROLLED_BACK or in_flight.get("step") == Step.ROLLBACK:
        outcome = undo(ctx, record)
        if record.state == MigrationState.ROLLED_BACK and not outcome.complete:
            record.state = MigrationState.ROLLBACK_INCOMPLETE
            record.rollback_report = {**record.rollback_report, **_report(outcome)}
            # A conflict: the rollback's holder wrote meanwhile, and its own pass is the later.
            with suppress(ConcurrentMigrationError):
                ctx.save(record)


def _start(ctx: StepContext, record: MigrationRecord, reason: str) -> MigrationRecord:
    record.rollback_report = {"startedAt": utc_now(), "by": record.owner, "reason": reason}
    return ctx.begin(record, Step.ROLLBACK)  # the intent, in the write that checks the token


def _take_over(
    ctx: StepContext, record: MigrationRecord, holder: str, reason: str
) -> MigrationRecord:
    """The migration's new owner and epoch, in one conditional write (before any AWS call)."""
    in_flight = record.in_flight or {}
    if in_flight.get("step") == Step.FINALIZE and _age_seconds(in_flight.get("at")) < (
        IN_FLIGHT_SECONDS
    ):
        raise StepPreconditionError(
            f"Migration '{record.migration_id}' is being finalized (deleting the legacy "
            "function): it cannot be rolled back now. Nothing was changed.",
            "Wait for finalize to end (`ipsync-migrator status ID`); once finalized, redeploy "
            "the legacy function from the journal's snapshot and point the listeners back.",
        )
    if not record.runs and record.owner:
        record.runs.append({"owner": record.owner, "epoch": record.epoch})
    record.owner = holder
    record.epoch += 1
    record.runs.append({"owner": holder, "epoch": record.epoch, "at": utc_now()})
    return _start(ctx, record, reason)


def _finish(ctx: StepContext, record: MigrationRecord, outcome: Undo, reason: str) -> None:
    record.probe_listeners = [] if "probes" in outcome.report else record.probe_listeners
    record.rollback_report = {**record.rollback_report, **_report(outcome)}
    verify_identity(ctx, record, AFTER_ROLLBACK)
    summary = "; ".join(outcome.leftovers)
    record.last_error = (
        f"rollback incomplete: {summary}" if not outcome.complete else reason or record.last_error
    )
    ctx.complete(
        record,
        Step.ROLLBACK,
        before={"state": record.state.value, "reason": reason},
        after=outcome.result(),
        state=MigrationState.ROLLED_BACK
        if outcome.complete
        else MigrationState.ROLLBACK_INCOMPLETE,
        detail_type=DetailType.ROLLED_BACK,
    )


def _end_state(outcome: Undo) -> MigrationState:
    return MigrationState.ROLLED_BACK if outcome.complete else MigrationState.ROLLBACK_INCOMPLETE


def _report(outcome: Undo) -> dict[str, Any]:
    return {
        "endedAt": utc_now(),
        "complete": outcome.complete,
        "leftovers": outcome.leftovers,
        "problems": outcome.problems,
        "waitingFor": None,
    }


def _refuse_finalized(record: MigrationRecord) -> None:
    if record.state == MigrationState.FINALIZED:
        raise StepPreconditionError(
            f"Migration '{record.migration_id}' is finalized: the legacy function is deleted, "
            "so it cannot be rolled back automatically.",
            "Redeploy the legacy function (its snapshot is in the journal), then point the "
            "listeners back at the old target group.",
        )


def _age_seconds(iso: str | None) -> float:
    if not iso:
        return float("inf")
    return (datetime.fromisoformat(utc_now()) - datetime.fromisoformat(iso)).total_seconds()


def _restore_legacy(ctx: StepContext, record: MigrationRecord) -> dict[str, Any]:
    snapshot = record.legacy_snapshot
    if snapshot is None:
        return {"changed": False}
    return {"changed": True, **restore_legacy(ctx, deployment_of(record), snapshot)}


def _refill_old_group(ctx: StepContext, record: MigrationRecord) -> dict[str, Any]:
    """Make sure the old IP group holds the ALB's current IPs (they may have changed)."""
    deployment = deployment_of(record)
    alb_arn = deployment.application_load_balancer_arn
    if alb_arn is None or ctx.elb.target_group(deployment.target_group_arn) is None:
        return {"registered": []}
    present = {h["Target"]["Id"] for h in ctx.elb.target_health(deployment.target_group_arn)}
    missing = [ip["ip"] for ip in ctx.network.load_balancer_ips(alb_arn) if ip["ip"] not in present]
    if missing:
        ctx.elb.register_targets(
            deployment.target_group_arn,
            [{"Id": ip, "Port": deployment.alb_port or 0} for ip in missing],
        )
    return {"registered": missing}


def _listeners_to_restore(
    ctx: StepContext, record: MigrationRecord, force: bool, outcome: Undo
) -> dict[str, list[dict[str, Any]]]:
    """Saved listeners that still carry what the migration set (or any, forced), read now."""
    planned = (
        planned_listener_changes(record, record.new_target_group_arn)
        if record.new_target_group_arn and record.plan.get("changes")
        else {}
    )
    to_restore: dict[str, list[dict[str, Any]]] = {}
    changed: list[str] = []
    for arn, saved in sorted(record.saved_listener_actions.items()):
        listener = ctx.elb.listener(arn)
        if listener is None:
            continue  # deleted by someone else: nothing to restore onto
        current = canonical_actions(listener["DefaultActions"])
        if current == canonical_actions(saved):
            continue  # restored already
        ours = [
            record.listener_actions_set.get(arn),
            record.canary_listener_actions.get(arn),
            planned.get(arn, (None, None))[1],
        ]
        if force or current in [canonical_actions(a) for a in ours if a is not None]:
            to_restore[arn] = saved
            continue
        changed.append(arn)
        outcome.leftovers.append(
            f"listener {arn} was changed since cutover (now {listener['DefaultActions']}), so it "
            "was left as it is: restore it by hand from the journal, or roll back with --force"
        )
    outcome.report["changedListeners"] = changed
    return to_restore


def _old_group_gate(ctx: StepContext, record: MigrationRecord) -> dict[str, Any]:
    """Are the old group's targets for the ALB's current IPs healthy? Within the timeout."""
    deployment = deployment_of(record)
    legacy = deployment.target_group_arn
    probes = {p["listenerArn"] for p in record.probe_listeners}
    users = listeners_forwarding_to(ctx, legacy, [n.arn for n in deployment.network_load_balancers])
    if not set(users) - probes:
        probe = attach_return_probe(ctx, record)
        if probe["listenerArn"] not in probes:
            record.probe_listeners.append(probe)
    health = {h["Target"]["Id"]: h.get("TargetHealth", {}) for h in ctx.elb.target_health(legacy)}
    alb_arn = deployment.application_load_balancer_arn
    wanted = (
        [ip["ip"] for ip in ctx.network.load_balancer_ips(alb_arn)] if alb_arn else list(health)
    )
    states = {ip: health.get(ip, {}).get("State", "missing") for ip in wanted}
    if states and all(state == "healthy" for state in states.values()):
        return {"gate": PASSED, "healthyAt": utc_now(), "states": states}
    proven = record.rollback_report.get("oldGroupHealthyAt")
    if proven and _age_seconds(proven) < IN_FLIGHT_SECONDS:
        return {"gate": PASSED, "healthyAt": proven, "states": states}  # seen healthy just now
    reason = ", ".join(f"{ip} {state}" for ip, state in sorted(states.items())) or "no targets"
    timeout = MigrationOptions.model_validate(record.options).rollback_health_timeout_seconds
    elapsed = _age_seconds(record.rollback_report.get("startedAt"))
    if elapsed >= timeout:
        return {"gate": FAILED, "reason": f"{reason}, after {int(elapsed)} s", "states": states}
    return {"gate": PENDING, "reason": f"old group's targets: {reason}", "states": states}


def _restore(ctx: StepContext, arn: str, saved: list[dict[str, Any]]) -> str:
    ctx.elb.set_default_actions(arn, saved)
    read_back = ctx.elb.listener(arn)
    if read_back is None or canonical_actions(read_back["DefaultActions"]) != (
        canonical_actions(saved)
    ):
        raise StepPreconditionError(
            f"Listener {arn} does not read back as restored.",
            "Run the rollback again; if it persists, restore the listener by hand from the "
            "journal (its saved actions).",
        )
    return arn


def _delete_new_group(ctx: StepContext, record: MigrationRecord, outcome: Undo) -> str | None:
    name = TargetGroupSpec.model_validate(record.plan["newTargetGroup"]).name
    group = ctx.elb.target_group_by_name(name)
    if group is None:
        return None
    arn = group["TargetGroupArn"]
    if ctx.elb.tags([arn]).get(arn, {}).get(TAG_MIGRATION_ID) != record.migration_id:
        return None  # not ours: never delete it
    users = group_users(ctx, record, arn)
    if users:
        outcome.leftovers.append(
            f"new target group {arn} kept: {', '.join(describe(li) for li in users.values())} "
            "forward to it"
        )
        return None
    try:
        # DeleteTargetGroup does not need the targets gone; deregistering first is tidier,
        # so a failure to read or deregister them does not stop the delete.
        targets = [{"Id": h["Target"]["Id"]} for h in ctx.elb.target_health(arn)]
        if targets:
            ctx.elb.deregister_targets(arn, targets)
    except NotFoundError:
        return str(arn)  # a concurrent rollback deleted it first
    except IpsyncError as exc:
        outcome.report["newTargetGroupTargets"] = f"not deregistered first ({exc.code})"
    ctx.elb.delete_target_group(arn)
    return str(arn)
