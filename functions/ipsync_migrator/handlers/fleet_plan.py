"""Lambda entry point of the fleet's `PlanFleet` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.aws.fleets import FleetBucket
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.fleet import PLAN_FLEET_STEP, parse_fleet_spec, plan_fleet
from ipsync_migrator.handlers.requests import FleetPlanRequest
from ipsync_migrator.handlers.runtime import step_context
from ipsync_migrator.observability import parse, step_handler


@step_handler(PLAN_FLEET_STEP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(FleetPlanRequest, event)
    settings = ServiceSettings.from_env()
    hub = step_context().clients
    return plan_fleet(
        parse_fleet_spec(request.spec),
        request.fleet_execution_id,
        hub=hub,
        member_role_name=settings.member_role_name,
        objects=FleetBucket(hub, settings.fleet_bucket),
    )
