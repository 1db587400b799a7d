"""Lambda entry point of rollback by replay: the target of the bus rule for replayed events."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import EventBridgeEvent, MigrationEventDetail
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import logger, parse, step_handler
from ipsync_migrator.steps.replay import ROLLBACK_BY_REPLAY, rollback_replayed


class ReplayedMigrationEvent(EventBridgeEvent):
    detail: MigrationEventDetail  # type: ignore[assignment]


@step_handler(ROLLBACK_BY_REPLAY)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(ReplayedMigrationEvent, event)
    if request.replay_name is None:
        # The bus rule only routes replayed events here; a live one is never acted on.
        logger.warning("live event ignored", extra={"id": request.id})
        return {"outcome": "ignored_live_event"}
    detail = request.detail
    return rollback_replayed(
        migration_context(detail.migration_id),
        detail.migration_id,
        detail.owner,
        request.replay_name,
        event_time=request.time,
        source=request.source,
        detail_type=request.detail_type,
    )
