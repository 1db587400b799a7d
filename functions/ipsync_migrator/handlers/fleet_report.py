"""Lambda entry point of the fleet's `FleetReport` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.aws.fleets import FleetBucket, FleetExecutions
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.fleet import FLEET_REPORT_STEP, report_fleet
from ipsync_migrator.handlers.requests import FleetReportRequest
from ipsync_migrator.handlers.runtime import step_context
from ipsync_migrator.observability import parse, step_handler


@step_handler(FLEET_REPORT_STEP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(FleetReportRequest, event)
    hub = step_context()
    return report_fleet(
        FleetBucket(hub.clients, ServiceSettings.from_env().fleet_bucket),
        FleetExecutions(hub.clients),
        hub.bus,
        hub.account,
        hub.clients.region,
        fleet_execution_id=request.fleet_execution_id,
        discovery_key=request.discovery_key,
        report_key=request.report_key,
        results=request.result_writer_details,
        tolerated_failure_percentage=request.tolerated_failure_percentage,
    )
