"""Lambda entry point of the fleet's `DiscoverFleet` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.aws.fleets import FleetBucket
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.fleet import DISCOVER_FLEET_STEP, discover_fleet, parse_fleet_spec
from ipsync_migrator.handlers.requests import FleetDiscoverRequest
from ipsync_migrator.handlers.runtime import step_context
from ipsync_migrator.models import Target
from ipsync_migrator.observability import parse, step_handler


def _clients_for(target: Target) -> ClientFactory:
    return step_context(target).clients


@step_handler(DISCOVER_FLEET_STEP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(FleetDiscoverRequest, event)
    settings = ServiceSettings.from_env()
    hub_context = step_context()
    hub = hub_context.clients
    return discover_fleet(
        parse_fleet_spec(request.spec),
        request.fleet_execution_id,
        clients_for=_clients_for,
        hub=hub,
        member_role_name=settings.member_role_name,
        objects=FleetBucket(hub, settings.fleet_bucket),
        journal=hub_context.journal,
    )
