"""The legacy sync switched off (soft retirement) and on again (its undo).

Off: the schedule stops invoking the function (the rule disabled, or, for a rule shared with
other targets, only the function's target removed, so the others keep running) and reserved
concurrency 0. On: exactly what the snapshot taken before "off" recorded. Both are shared by
the migration (retire_legacy, rollback) and the orphan cleanup, and every write is idempotent.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import NotFoundError
from ipsync_migrator.models import Deployment
from ipsync_migrator.steps.context import StepContext

#: What soft retirement did to a rule: disabled it, or (a rule shared with other targets)
#: removed only the function's target, so the other targets keep running.
RULE_DISABLED, TARGET_REMOVED = "DISABLED", "TARGET_REMOVED"


def disable_legacy(
    ctx: StepContext, deployment: Deployment, snapshot: dict[str, Any]
) -> dict[str, Any]:
    """The soft retirement itself: the schedule stops invoking the function (the rule
    disabled, or only its target removed from a shared rule), reserved concurrency 0."""
    function_arn = deployment.function.arn
    rules: dict[str, str] = {}
    for rule in snapshot["rules"]:
        name = rule["Name"]
        if _ours(rule, function_arn) != rule["Targets"]:
            present = {t["Id"] for t in ctx.schedules.targets(name)}
            ours = [t["Id"] for t in _ours(rule, function_arn) if t["Id"] in present]
            ctx.schedules.remove_targets(name, ours)
            rules[name] = TARGET_REMOVED
        else:
            ctx.schedules.set_enabled(name, False)
            rules[name] = RULE_DISABLED
    ctx.functions.set_reserved_concurrency(deployment.function.name, 0)
    return {"rules": rules, "reservedConcurrency": 0}


def restore_legacy(
    ctx: StepContext, deployment: Deployment, snapshot: dict[str, Any]
) -> dict[str, Any]:
    """Undo `disable_legacy`: the function's targets back on shared rules, each rule in its
    snapshot state, the snapshot's reserved concurrency. Every write is idempotent."""
    function_arn = deployment.function.arn
    rules: dict[str, str | None] = {}
    for rule in snapshot["rules"]:
        name = rule["Name"]
        try:
            if _ours(rule, function_arn) != rule["Targets"]:
                ctx.schedules.put_targets(name, _ours(rule, function_arn))
            # Only ever enabled: a rule that was disabled before stays as a person left it.
            if rule.get("State") == "ENABLED":
                ctx.schedules.set_enabled(name, True)
        except NotFoundError:
            continue  # the rule was deleted since (by hand): nothing to put back on
        rules[name] = rule.get("State")
    name = deployment.function.name
    if ctx.functions.reserved_concurrency(name) != snapshot["reservedConcurrency"]:
        ctx.functions.set_reserved_concurrency(name, snapshot["reservedConcurrency"])
    return {"rules": rules, "reservedConcurrency": snapshot["reservedConcurrency"]}


def _ours(rule: dict[str, Any], function_arn: str) -> list[dict[str, Any]]:
    return [t for t in rule["Targets"] if t.get("Arn") == function_arn]
