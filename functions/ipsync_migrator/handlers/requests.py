"""Input models of the Lambda handlers: what the state machine (or a person) may send."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ipsync_migrator.map_results import EXECUTION_ARN, ResultWriterDetails
from ipsync_migrator.models import MigrationOptions, Model, Target

MIGRATION_ID = r"^[A-Za-z0-9_-]{1,80}$"
TARGET_GROUP_ARN = r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:targetgroup/[\w-]+/\w+$"


#: The fencing token's owner: the execution (ARN) that drives the migration; never blank.
Owner = Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S")]


class StepRequest(Model):
    migration_id: str = Field(pattern=MIGRATION_ID)
    #: The run driving the migration; a step refuses a record another run holds, and a
    #: request without an owner is refused before any AWS call (no anonymous writer).
    owner: Owner


class PreflightRequest(Model):
    target_group_arn: str = Field(pattern=TARGET_GROUP_ARN)
    owner: str = Field(min_length=1, max_length=256)
    options: MigrationOptions = Field(default_factory=MigrationOptions)
    target: Target = Field(default_factory=Target)


class FinalizeRequest(Model):
    migration_id: str = Field(pattern=MIGRATION_ID)
    #: The state machine's own run; absent when a person finalizes from the CLI.
    owner: Owner | None = None
    delete_target_group: bool | None = None
    delete_state: bool | None = None


class RollbackRequest(Model):
    migration_id: str = Field(pattern=MIGRATION_ID)
    reason: str = ""
    #: The state machine's Rollback undoes only while its own run holds the migration; absent
    #: (the CLI), the rollback takes the migration over and stops the execution first. A
    #: caller polling a pending rollback sends the owner the first call returned.
    owner: Owner | None = None
    #: Restore listeners even where someone changed them since cutover (a person's choice).
    force: bool = False


class ApprovalRequest(Model):
    """A gate opens (`taskToken`), or its wait ended unapproved (`timedOutAfterSeconds`)."""

    migration_id: str = Field(pattern=MIGRATION_ID)
    owner: Owner
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


class EventBridgeEvent(BaseModel):
    """An EventBridge event as a Lambda target gets it (docs.aws.amazon.com/eventbridge/latest/
    ref/overiew-event-structure.html): the fields and types of Powertools' EventBridgeModel,
    without importing its parser's every event model (a cold-start cost, docs/benchmarks.md).
    Fields EventBridge may add, such as a replay's `ingestion-time`, are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", defer_build=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any] | BaseModel
    #: Set by EventBridge on every replayed event, absent from live ones.
    replay_name: str | None = Field(default=None, alias="replay-name")


class FleetPlanRequest(Model):
    """PlanFleet's input: the fleet execution's input and its id."""

    spec: dict[str, Any]
    fleet_execution_id: str = Field(pattern=EXECUTION_ARN, max_length=256)


class FleetDiscoverRequest(Model):
    """DiscoverTarget's input: one account and region of the fleet (a DiscoverTargets item)."""

    target: Target
    index: int = Field(ge=0)
    fleet_execution_id: str = Field(pattern=EXECUTION_ARN, max_length=256)
    options: MigrationOptions = Field(default_factory=MigrationOptions)


class FleetGatherRequest(Model):
    """DiscoverFleet's input: where the DiscoverTargets Map's ResultWriter put its results."""

    fleet_execution_id: str = Field(pattern=EXECUTION_ARN, max_length=256)
    result_writer_details: ResultWriterDetails


#: The keys PlanFleet named (fleet.FleetKeys): S3 keys are at most 1,024 bytes.
FLEET_KEY = r"^fleets/[^\s]+$"


class FleetReportRequest(Model):
    """FleetReport's input: where discovery and the Map's ResultWriter put the fleet's files."""

    fleet_execution_id: str = Field(pattern=EXECUTION_ARN, max_length=256)
    discovery_key: str = Field(pattern=FLEET_KEY, max_length=1024)
    report_key: str = Field(pattern=FLEET_KEY, max_length=1024)
    #: The Map state's output `ResultWriterDetails`: the manifest's bucket and key.
    result_writer_details: ResultWriterDetails
    tolerated_failure_percentage: float = Field(default=0, ge=0, le=100)
