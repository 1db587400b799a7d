"""Lambda entry point of the fleet's `DiscoverFleet` task: the targets' parts joined."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.aws.fleets import FleetBucket
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.fleet import GATHER_FLEET_STEP, gather_fleet
from ipsync_migrator.handlers.requests import FleetGatherRequest
from ipsync_migrator.handlers.runtime import step_context
from ipsync_migrator.observability import parse, step_handler


@step_handler(GATHER_FLEET_STEP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(FleetGatherRequest, event)
    hub = step_context().clients
    return gather_fleet(
        FleetBucket(hub, ServiceSettings.from_env().fleet_bucket),
        request.fleet_execution_id,
        request.result_writer_details,
    )
