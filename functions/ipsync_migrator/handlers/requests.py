"""Input models of the Lambda handlers: what the state machine (or a person) may send."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from ipsync_migrator.fleet import ChildResult
from ipsync_migrator.models import MigrationOptions, Model, Target

MIGRATION_ID = r"^[A-Za-z0-9_-]{1,80}$"
TARGET_GROUP_ARN = r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:targetgroup/[\w-]+/\w+$"


class StepRequest(Model):
    migration_id: str = Field(pattern=MIGRATION_ID)
    #: The run driving the migration (the execution name); steps refuse another run's record.
    owner: str | None = None


class PreflightRequest(Model):
    target_group_arn: str = Field(pattern=TARGET_GROUP_ARN)
    owner: str = Field(min_length=1, max_length=256)
    options: MigrationOptions = Field(default_factory=MigrationOptions)
    target: Target = Field(default_factory=Target)


class FinalizeRequest(Model):
    migration_id: str = Field(pattern=MIGRATION_ID)
    delete_target_group: bool | None = None
    delete_state: bool | None = None


class RollbackRequest(Model):
    migration_id: str = Field(pattern=MIGRATION_ID)
    reason: str = ""


class ApprovalRequest(Model):
    """A gate opens (`taskToken`), or its wait ended unapproved (`timedOutAfterSeconds`)."""

    migration_id: str = Field(pattern=MIGRATION_ID)
    owner: str | None = None
    gate: str = Field(pattern=r"^(cutover|finalize)$")
    task_token: str | None = Field(default=None, min_length=1)
    #: Sent by the state machine once the gate's TimeoutSeconds passed (States.Timeout).
    timed_out_after_seconds: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _token_or_timeout(self) -> Self:
        if (self.task_token is None) == (self.timed_out_after_seconds is None):
            raise ValueError("send either taskToken or timedOutAfterSeconds, not both or neither")
        return self


class MigrationEventDetail(Model):
    """The part of a migration event's detail a replayed rollback needs."""

    model_config = Model.model_config | {"extra": "ignore"}

    migration_id: str = Field(pattern=MIGRATION_ID)
    owner: str = ""


class FleetDiscoverRequest(Model):
    """DiscoverFleet's input: the fleet execution's input and its id."""

    spec: dict[str, Any]
    fleet_execution_id: str = Field(min_length=1, max_length=256)


class FleetReportRequest(Model):
    """FleetReport's input: the Map's results and what discovery left out."""

    fleet_execution_id: str = Field(min_length=1, max_length=256)
    results: list[ChildResult] = Field(default_factory=list)
    skipped: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    tolerated_failure_percentage: float = Field(default=0, ge=0, le=100)
