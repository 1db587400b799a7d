"""Event vocabulary: detail-types spelled once, and self-contained event details.

Each detail carries the migration's before-state, so a replayed event alone is enough to
roll that migration back (EventBridge replays are unordered and may repeat).
"""

from __future__ import annotations

from typing import Any, Protocol

from ipsync_migrator.journal import MigrationRecord, utc_now
from ipsync_migrator.models import stable_suffix


class DetailType:
    STARTED = "Migration Started"
    STEP_COMPLETED = "Migration Step Completed"
    CUT_OVER = "Migration Cut Over"
    RETIRED = "Migration Retired"
    FINALIZED = "Migration Finalized"
    ROLLED_BACK = "Migration Rolled Back"
    FAILED = "Migration Failed"
    APPROVAL_REQUESTED = "Migration Approval Requested"
    FLEET_COMPLETED = "Fleet Completed"


#: Detail-types whose replay means "roll this migration back".
ROLLBACK_TRIGGERS = (
    DetailType.STARTED,
    DetailType.STEP_COMPLETED,
    DetailType.CUT_OVER,
    DetailType.RETIRED,
)


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


def migration_detail(
    record: MigrationRecord,
    step: str,
    account: str,
    region: str,
    before: Any = None,
    after: Any = None,
) -> dict[str, Any]:
    """The detail of one migration event: who, what, and enough state to undo it."""
    deployment = record.deployment
    return {
        "migrationId": record.migration_id,
        "owner": record.owner,
        # The owner is the execution's ARN when a state machine drives the migration.
        "executionArn": record.owner if record.owner.startswith("arn:") else None,
        "step": step,
        "state": record.state.value,
        "account": account,
        "region": region,
        "time": utc_now(),
        "targetGroupArn": deployment.get("targetGroupArn"),
        "loadBalancerArns": [n["arn"] for n in deployment.get("networkLoadBalancers", [])],
        "newTargetGroupArn": record.new_target_group_arn,
        "before": before,
        "after": after,
        "preMigration": {
            "listenerActions": record.saved_listener_actions,
            "legacySnapshot": record.legacy_snapshot,
        },
    }


REPLAY_PREFIX = "ipsync-rollback"


def replay_name(migration_id: str | None, stamp: str) -> str:
    """Name of a rollback replay: all migrations, or one (by a hash of its id); <= 64 chars."""
    scope = stable_suffix(migration_id) if migration_id else "all"
    return f"{REPLAY_PREFIX}-{scope}-{stamp}"[:64]


def replay_applies_to(name: str, migration_id: str) -> bool:
    """Whether a replay named `name` is meant to roll back `migration_id`."""
    if not name.startswith(REPLAY_PREFIX + "-"):
        return True  # a replay started by hand (console, CLI): it covers every migration
    scope = name[len(REPLAY_PREFIX) + 1 :].split("-", 1)[0]
    return scope in ("all", stable_suffix(migration_id))
