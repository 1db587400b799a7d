"""Fleet migrations: many accounts and regions, one child migration per migratable deployment.

The fleet state machine (statemachine/fleet.asl.json) calls `discover_fleet` once, runs one
migration execution per item it returns (a Map), then calls `report_fleet` on the results.
One account or region that cannot be read never stops the others: it becomes an error entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from ipsync_migrator.aws.identity import caller_arn
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.errors import InvalidInputError, IpsyncError, validation_problems
from ipsync_migrator.events import DetailType, Publisher
from ipsync_migrator.journal import utc_now
from ipsync_migrator.models import (
    Deployment,
    MigrationOptions,
    Model,
    Severity,
    Target,
    Verdict,
    stable_suffix,
)

ACCOUNT_ID = r"^\d{12}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
ROLE_ARN = r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
#: Step Functions execution names: at most 80 characters.
EXECUTION_NAME_LENGTH = 80
#: Above this many migrations the fleet state machine uses a Distributed Map (fleet.asl.json).
DISTRIBUTED_MAP_THRESHOLD = 40
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
#: The fleet state machine's task names (handlers' step names, logs and metrics).
DISCOVER_FLEET_STEP = "discover_fleet"
FLEET_REPORT_STEP = "fleet_report"
#: The fleet state machine's discovery state: its output is {"fleet": discover_fleet(...)}.
FLEET_DISCOVER_STATE = "DiscoverFleet"
#: The fleet state machine's report state (statemachine/fleet.asl.json): its output is the report.
FLEET_REPORT_STATE = "FleetReport"


class FleetTarget(Model):
    """One account of the fleet, the regions to migrate in it and how to get in."""

    account_id: str = Field(pattern=ACCOUNT_ID)
    regions: list[Annotated[str, Field(pattern=REGION)]] = Field(min_length=1)
    #: Default: the hub's own credentials in the hub account, else the member role
    #: (the hub stack's MemberRoleName parameter) in this account.
    role_arn: str | None = Field(default=None, pattern=ROLE_ARN)
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)

    @model_validator(mode="after")
    def _consistent(self) -> FleetTarget:
        if len(set(self.regions)) != len(self.regions):
            raise ValueError(f"regions of account {self.account_id} are listed twice")
        if self.role_arn and self.role_arn.split(":")[4] != self.account_id:
            raise ValueError(f"roleArn {self.role_arn} is not in account {self.account_id}")
        return self


class FleetSpec(Model):
    """What `migrate --fleet FILE` starts: the fleet state machine's input."""

    targets: list[FleetTarget] = Field(min_length=1)
    max_concurrency: int = Field(default=4, ge=1, le=1000)
    tolerated_failure_percentage: float = Field(default=0, ge=0, le=100)
    options: MigrationOptions = Field(default_factory=MigrationOptions)

    @model_validator(mode="after")
    def _accounts_once(self) -> FleetSpec:
        accounts = [t.account_id for t in self.targets]
        twice = sorted({a for a in accounts if accounts.count(a) > 1})
        if twice:
            raise ValueError(f"accounts listed twice: {', '.join(twice)} (list regions once)")
        return self


def parse_fleet_spec(data: Any, source: str = "fleet input") -> FleetSpec:
    """Validate a fleet spec; a bad one is an InvalidInputError naming every bad field."""
    try:
        return FleetSpec.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, "top level")
        raise InvalidInputError(
            f"Invalid {source}: {problems}.",
            'A fleet file is JSON (or YAML): {"targets": [{"accountId": "123456789012", '
            '"regions": ["us-east-1"]}], "maxConcurrency": 4, "toleratedFailurePercentage": 0, '
            '"options": {...}}; see events/statemachine/fleet.json.',
        ) from None


def load_fleet_spec(path: str | Path) -> tuple[FleetSpec, str]:
    """Read and validate a fleet file (JSON, or YAML by its suffix); also its content hash."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot read the fleet file {file}: {exc.strerror or exc}.",
            "Pass the path of an existing fleet file.",
        ) from exc
    data = _decode(file, text)
    return parse_fleet_spec(data, f"fleet file {file}"), stable_suffix(text, 12)


def _decode(file: Path, text: str) -> Any:
    fix = "Fix its syntax (see events/statemachine/fleet.json for an example)."
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - PyYAML comes with the CLI's extras
            raise InvalidInputError(
                "Reading YAML fleet files needs PyYAML.", "Write the fleet file as JSON."
            ) from exc
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"The fleet file {file} is not valid YAML: {exc}", fix) from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"The fleet file {file} is not valid JSON: {exc}.", fix) from exc


def execution_name(migration_id: str, fleet_execution_id: str) -> str:
    """The child execution's name: the migration id plus a stable hash of the fleet run.

    Unique per fleet run and deployment, the same on a retry of the same run (so a retried
    start finds its execution), and prefixed by the migration id like the CLI's own runs.
    """
    suffix = "-" + stable_suffix(fleet_execution_id)
    return migration_id[: EXECUTION_NAME_LENGTH - len(suffix)] + suffix


# --- discovery ---------------------------------------------------------------------------

ClientsFor = Callable[[Target], ClientFactory]


def discover_fleet(
    spec: FleetSpec,
    fleet_execution_id: str,
    clients_for: ClientsFor,
    hub: ClientFactory,
    member_role_name: str,
) -> dict[str, Any]:
    """Discover every account x region of the fleet; the Map's items and what is left out.

    Returns ``items`` (one per migratable deployment), ``skipped`` (blocked and orphaned
    deployments with their reasons) and ``errors`` (per account and region that could not
    be read, e.g. a role that cannot be assumed), plus the settings the Map reads.
    """
    hub_arn = caller_arn(hub)
    hub_account, partition = hub_arn.split(":")[4], hub_arn.split(":")[1]
    items: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for account in spec.targets:
        role_arn = account.role_arn
        if role_arn is None and account.account_id != hub_account:
            role_arn = f"arn:{partition}:iam::{account.account_id}:role/{member_role_name}"
        for region in account.regions:
            target = Target(
                account_id=account.account_id,
                region=region,
                role_arn=role_arn,
                external_id=account.external_id,
            )
            scope = {"accountId": account.account_id, "region": region, "roleArn": role_arn}
            try:
                _check_role_name(role_arn, member_role_name)
                report = discover(clients_for(target))
                if report.account != account.account_id:
                    raise InvalidInputError(
                        f"The credentials for account {account.account_id} act in account "
                        f"{report.account}.",
                        "Fix the fleet file's roleArn: it must be a role in that account.",
                    )
            except IpsyncError as exc:
                errors.append(
                    {
                        **scope,
                        "error": exc.code,
                        "message": exc.message,
                        "remediation": exc.remediation,
                    }
                )
                continue
            for deployment in report.deployments:
                if deployment.verdict == Verdict.MIGRATABLE:
                    items.append(_item(deployment, target, spec.options, fleet_execution_id))
                else:
                    skipped.append({**scope, **_skipped(deployment)})
    return {
        "items": items,
        "count": len(items),
        "skipped": skipped,
        "errors": errors,
        "maxConcurrency": spec.max_concurrency,
        "toleratedFailurePercentage": spec.tolerated_failure_percentage,
        "distributed": len(items) > DISTRIBUTED_MAP_THRESHOLD,
    }


def _check_role_name(role_arn: str | None, member_role_name: str) -> None:
    """The hub's functions may assume only the member role (template.yaml): say so early."""
    if role_arn and role_arn.rsplit("/", 1)[-1] != member_role_name:
        raise InvalidInputError(
            f"The hub may assume only roles named {member_role_name}, not {role_arn}.",
            "Deploy member-role.yaml with that RoleName in the account and leave roleArn out "
            "(or name that role), or redeploy the hub with another MemberRoleName.",
        )


def _item(
    deployment: Deployment, target: Target, options: MigrationOptions, fleet_execution_id: str
) -> dict[str, Any]:
    return {
        "targetGroupArn": deployment.target_group_arn,
        "migrationId": deployment.id,
        "executionName": execution_name(deployment.id, fleet_execution_id),
        "target": target.to_json_dict(),
        "options": options.to_json_dict(),
    }


def _skipped(deployment: Deployment) -> dict[str, Any]:
    reasons = [f for f in deployment.findings if f.severity == Severity.BLOCKER]
    return {
        "migrationId": deployment.id,
        "targetGroupArn": deployment.target_group_arn,
        "functionName": deployment.function.name,
        "verdict": deployment.verdict.value,
        "blockers": [
            {"code": f.code.value, "message": f.message, "remediation": f.remediation}
            for f in reasons
        ],
    }


# --- report ------------------------------------------------------------------------------


class ChildResult(Model):
    """One Map iteration's outcome, as fleet.asl.json shapes it."""

    model_config = Model.model_config | {"extra": "ignore"}

    status: str
    migration_id: str
    execution_name: str = ""
    execution_arn: str | None = None
    target: Target = Field(default_factory=Target)
    error: str | None = None
    cause: str | None = None


def fleet_report(
    results: Iterable[ChildResult],
    skipped: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    tolerated_failure_percentage: float,
    fleet_execution_id: str = "",
) -> dict[str, Any]:
    """Counts by outcome and whether the failures stay within the tolerated percentage.

    An account/region that could not be read counts as one failed unit: an unknown number
    of its deployments were not migrated, so it must not pass unnoticed.
    """
    children = [_child(r) for r in results]
    failed = sum(1 for c in children if c["status"] != SUCCEEDED)
    succeeded = len(children) - failed
    units = len(children) + len(errors)
    failure_percentage = round(100.0 * (failed + len(errors)) / units, 2) if units else 0.0
    within = failure_percentage <= tolerated_failure_percentage
    counts = {
        "migrations": len(children),
        "succeeded": succeeded,
        "failed": failed,
        "blocked": sum(1 for s in skipped if s.get("verdict") == Verdict.BLOCKED.value),
        "orphaned": sum(1 for s in skipped if s.get("verdict") == Verdict.ORPHANED.value),
        "accountErrors": len(errors),
    }
    summary = (
        f"{counts['migrations']} migration(s): {succeeded} succeeded, {failed} failed; "
        f"{len(errors)} account/region error(s); failure {failure_percentage:g}% "
        f"{'<=' if within else '>'} tolerated {tolerated_failure_percentage:g}%; "
        f"{counts['blocked']} blocked and {counts['orphaned']} orphaned not started"
    )
    return {
        "fleetExecutionId": fleet_execution_id,
        "counts": counts,
        "failurePercentage": failure_percentage,
        "toleratedFailurePercentage": tolerated_failure_percentage,
        "withinTolerance": within,
        "summary": summary,
        "children": children,
        "skipped": skipped,
        "errors": errors,
    }


def _child(result: ChildResult) -> dict[str, Any]:
    error, cause = result.error, result.cause
    if result.status != SUCCEEDED:
        error, cause = _child_failure(error, cause)
    return {
        "migrationId": result.migration_id,
        "executionName": result.execution_name,
        "executionArn": result.execution_arn,
        "accountId": result.target.account_id,
        "region": result.target.region,
        "status": SUCCEEDED if result.status == SUCCEEDED else FAILED,
        "error": error,
        "cause": cause,
    }


def _child_failure(error: str | None, cause: str | None) -> tuple[str | None, str | None]:
    """The child execution's own error: a failed `.sync` task's cause is its description."""
    try:
        described = json.loads(cause or "")
    except ValueError:
        return error, cause
    if not isinstance(described, dict):
        return error, cause
    inner_error = described.get("Error", described.get("error"))
    inner_cause = described.get("Cause", described.get("cause"))
    status = described.get("Status", described.get("status"))
    if inner_error is None and status:
        inner_error = f"Execution{str(status).title().replace('_', '')}"  # e.g. ExecutionAborted
    return inner_error or error, inner_cause if inner_cause is not None else cause


def report_fleet(
    bus: Publisher,
    account: str,
    region: str,
    results: Iterable[ChildResult],
    skipped: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    tolerated_failure_percentage: float,
    fleet_execution_id: str,
) -> dict[str, Any]:
    """Build the fleet report and announce it ("Fleet Completed") on the hub's bus."""
    report = fleet_report(
        results, skipped, errors, tolerated_failure_percentage, fleet_execution_id
    )
    bus.publish(
        DetailType.FLEET_COMPLETED,
        {
            "fleetExecutionArn": fleet_execution_id,
            "account": account,
            "region": region,
            "time": utc_now(),
            "withinTolerance": report["withinTolerance"],
            "failurePercentage": report["failurePercentage"],
            "toleratedFailurePercentage": tolerated_failure_percentage,
            "counts": report["counts"],
            "summary": report["summary"],
            # Compact on purpose (events are at most 256 KB): failures only.
            "failed": [
                {k: c[k] for k in ("migrationId", "accountId", "region", "error")}
                for c in report["children"]
                if c["status"] != SUCCEEDED
            ],
            "errors": [{k: e[k] for k in ("accountId", "region", "error")} for e in errors],
        },
    )
    return report
