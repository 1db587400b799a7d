"""Lambda entry point of the fleet's `DiscoverTarget` task (one account and region)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.aws.fleets import FleetBucket
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.fleet import DISCOVER_TARGET_STEP, discover_target
from ipsync_migrator.handlers.requests import FleetDiscoverRequest
from ipsync_migrator.handlers.runtime import step_context
from ipsync_migrator.models import Target
from ipsync_migrator.observability import parse, step_handler


def _clients_for(target: Target) -> ClientFactory:
    return step_context(target).clients


@step_handler(DISCOVER_TARGET_STEP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(FleetDiscoverRequest, event)
    settings = ServiceSettings.from_env()
    hub = step_context()
    return discover_target(
        request.target,
        request.index,
        request.fleet_execution_id,
        request.options,
        clients_for=_clients_for,
        member_role_name=settings.member_role_name,
        objects=FleetBucket(hub.clients, settings.fleet_bucket),
        journal=hub.journal,
    )
