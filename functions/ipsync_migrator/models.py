"""Typed models shared by discovery, planning, the engine and the CLI."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base: camelCase on the wire (JSON, events), snake_case in Python; immutable.

    A model's validator is built when the model is first used, not when its module is
    imported (defer_build): a Lambda handler pays only for the models its step uses.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        defer_build=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Variant(StrEnum):
    """Which published flavour of the legacy function a deployment is."""

    V1 = "v1"
    V2 = "v2"
    HOSTNAME = "hostname"


class Verdict(StrEnum):
    MIGRATABLE = "migratable"
    BLOCKED = "blocked"
    ORPHANED = "orphaned"
    #: Shaped like the workaround, but no ALB is confirmed: reported with the evidence only.
    POSSIBLE = "possible"
    #: Taken over by this project (journal or tags): its migration's state says how far.
    MIGRATED = "migrated"


class Confidence(StrEnum):
    """How sure discovery is that a deployment syncs an ALB's addresses."""

    #: The IP group's targets are (some of) the ALB's ENI addresses: the data says so.
    CONFIRMED = "confirmed"
    #: The parameters name an ALB that exists (or an ALB-shaped name elsewhere).
    LIKELY = "likely"
    #: Only the function's shape: no ALB found by name or by data.
    POSSIBLE = "possible"


class Severity(StrEnum):
    BLOCKER = "blocker"
    WARNING = "warning"
    INFO = "info"


class FindingCode(StrEnum):
    """Every finding code, spelled once."""

    TARGET_GROUP_NOT_FOUND = "TARGET_GROUP_NOT_FOUND"
    ALB_NOT_FOUND = "ALB_NOT_FOUND"
    CROSS_VPC = "CROSS_VPC"
    TARGET_GROUP_NOT_IP_TCP = "TARGET_GROUP_NOT_IP_TCP"
    LISTENER_PROTOCOL_UNSUPPORTED = "LISTENER_PROTOCOL_UNSUPPORTED"
    ALB_LISTENER_PORT_MISSING = "ALB_LISTENER_PORT_MISSING"
    ALB_NLB_LIMIT = "ALB_NLB_LIMIT"
    HEALTH_CHECK_LISTENER_MISSING = "HEALTH_CHECK_LISTENER_MISSING"
    TARGET_GROUP_UNUSED = "TARGET_GROUP_UNUSED"
    HEALTH_CHECK_TRANSLATED = "HEALTH_CHECK_TRANSLATED"
    ATTRIBUTES_LOST = "ATTRIBUTES_LOST"
    CROSS_ZONE_MISMATCH = "CROSS_ZONE_MISMATCH"
    AZ_MISMATCH = "AZ_MISMATCH"
    ALB_SECURITY_GROUP = "ALB_SECURITY_GROUP"
    NLB_TARGET_QUOTA = "NLB_TARGET_QUOTA"
    IAC_MANAGED = "IAC_MANAGED"
    SCHEDULE_DISABLED = "SCHEDULE_DISABLED"
    SCHEDULE_SHARED = "SCHEDULE_SHARED"
    ALB_UNCONFIRMED = "ALB_UNCONFIRMED"
    SYNC_BROKEN = "SYNC_BROKEN"
    FUNCTION_ACTIVITY = "FUNCTION_ACTIVITY"
    FUNCTION_SHARED = "FUNCTION_SHARED"
    MIGRATED = "MIGRATED"


class Finding(Model):
    code: FindingCode
    severity: Severity
    message: str
    remediation: str = ""


# --- What discovery reads -------------------------------------------------------------


class LegacyFunction(Model):
    arn: str
    name: str
    variant: Variant
    handler: str = ""
    description: str = ""
    environment: dict[str, str] = Field(default_factory=dict)
    reserved_concurrency: int | None = None
    stack_name: str | None = None


class Schedule(Model):
    rule: str
    expression: str = ""
    enabled: bool
    arn: str = ""
    event_bus: str = "default"
    #: ARNs of the rule's other targets (a rule may invoke more than the legacy function).
    other_targets: list[str] = Field(default_factory=list)


class ListenerRef(Model):
    arn: str
    port: int
    protocol: str
    default_actions: list[dict[str, Any]] = Field(default_factory=list)
    stack_name: str | None = None


class NetworkLoadBalancerRef(Model):
    arn: str
    name: str = ""
    scheme: str = ""
    vpc_id: str = ""
    availability_zones: list[str] = Field(default_factory=list)
    cross_zone: bool = False
    listeners: list[ListenerRef] = Field(default_factory=list)


class HealthCheck(Model):
    protocol: str
    port: str = "traffic-port"
    path: str | None = None
    interval_seconds: int = 30
    timeout_seconds: int | None = None
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str | None = None


class TargetGroupSpec(Model):
    """An `alb` target group as the engine will create it."""

    name: str
    protocol: str = "TCP"
    port: int
    vpc_id: str
    target_type: str = "alb"
    health_check: HealthCheck
    tags: dict[str, str] = Field(default_factory=dict)


class MigrationStatus(Model):
    """What this project already did to a deployment (from the journal, or its tags)."""

    state: str
    #: The execution (owner of the journal record) that drove it; None when only tags say.
    execution: str | None = None
    new_target_group_arn: str | None = None
    updated_at: str | None = None
    source: str = "journal"


class Deployment(Model):
    """One legacy IP-sync deployment, resolved and classified.

    One deployment per legacy target group: a function feeding several groups yields several
    deployments sharing `function` (finding FUNCTION_SHARED names the others).
    """

    id: str
    function: LegacyFunction
    schedules: list[Schedule] = Field(default_factory=list)
    target_group_arn: str
    target_group_name: str = ""
    target_group_vpc_id: str | None = None
    target_group_port: int | None = None
    target_group_stack_name: str | None = None
    network_load_balancers: list[NetworkLoadBalancerRef] = Field(default_factory=list)
    alb_dns_name: str = ""
    application_load_balancer_arn: str | None = None
    alb_port: int | None = None
    alb_listener_protocol: str | None = None
    s3_bucket: str | None = None
    attributes_lost: dict[str, str] = Field(default_factory=dict)
    verdict: Verdict
    findings: list[Finding] = Field(default_factory=list)
    proposed_target_group: TargetGroupSpec | None = None
    #: The evidence that made discovery report it, strongest first, and how sure it is.
    signals: list[str] = Field(default_factory=list)
    confidence: Confidence = Confidence.LIKELY
    migration: MigrationStatus | None = None

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.BLOCKER]

    def public_dict(self) -> dict[str, Any]:
        """The CLI's JSON contract for one deployment."""
        return {
            "id": self.id,
            "function": {
                "arn": self.function.arn,
                "name": self.function.name,
                "variant": self.function.variant.value,
            },
            "schedules": [
                {"rule": s.rule, "expression": s.expression, "enabled": s.enabled}
                for s in self.schedules
            ],
            "targetGroupArn": self.target_group_arn,
            "networkLoadBalancers": [
                {
                    "arn": nlb.arn,
                    "listeners": [
                        {"arn": li.arn, "port": li.port, "protocol": li.protocol}
                        for li in nlb.listeners
                    ],
                }
                for nlb in self.network_load_balancers
            ],
            "applicationLoadBalancerArn": self.application_load_balancer_arn,
            "albPort": self.alb_port,
            "verdict": self.verdict.value,
            "confidence": self.confidence.value,
            "signals": list(self.signals),
            "migration": self.migration.to_json_dict() if self.migration else None,
            "findings": [f.to_json_dict() for f in self.findings],
        }


class DiscoveryReport(Model):
    account: str
    region: str
    deployments: list[Deployment] = Field(default_factory=list)

    def public_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "deployments": [d.public_dict() for d in self.deployments],
        }

    def find(self, reference: str) -> Deployment | None:
        """Look a deployment up by id, target group ARN, function name or function ARN."""
        for deployment in self.deployments:
            if reference in (
                deployment.id,
                deployment.target_group_arn,
                deployment.function.name,
                deployment.function.arn,
            ):
                return deployment
        return None


# --- What the plan says will change ------------------------------------------------------


class ChangeAction(StrEnum):
    CREATE = "create"
    MODIFY = "modify"
    DELETE = "delete"
    DISABLE = "disable"


class PlannedChange(Model):
    order: int
    step: str
    action: ChangeAction
    resource_type: str
    resource: str
    before: Any = None
    after: Any = None
    description: str


class Plan(Model):
    """The exact, ordered changes of one migration: the dry-run the engine executes."""

    migration_id: str
    deployment_id: str
    verdict: Verdict
    target_group_arn: str
    new_target_group: TargetGroupSpec | None = None
    changes: list[PlannedChange] = Field(default_factory=list)
    attributes_lost: dict[str, str] = Field(default_factory=dict)
    blockers: list[Finding] = Field(default_factory=list)
    warnings: list[Finding] = Field(default_factory=list)
    #: CloudFormation stacks owning the resources the migration changes, by resource label.
    stacks: dict[str, str] = Field(default_factory=dict)
    #: Snippets for the team's IaC ("cloudformation", "terraform") so it keeps the change.
    template_patches: dict[str, str] = Field(default_factory=dict)


def stable_suffix(text: str, length: int = 8) -> str:
    """A short, stable hash of `text` used to derive ids and names."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


class Target(Model):
    """Where a migration's resources live, when that is not the hub's own account/region."""

    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = None
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")
    external_id: str | None = None


class Strategy(StrEnum):
    PROBE = "probe"
    SWAP_AND_WATCH = "swap-and-watch"
    WEIGHTED = "weighted"


#: How long an approval gate waits by default (a day), and at most (a week).
DEFAULT_APPROVAL_TIMEOUT_SECONDS = 86_400
MAX_APPROVAL_TIMEOUT_SECONDS = 604_800


class MigrationOptions(Model):
    """Per-migration choices; every timing has a production default and can be ~1 s in tests.

    Bounds: pollSeconds >= 1 (each poll iteration costs history events; limits.py bounds the
    loops), and an approval gate waits 1 s to a week (AwaitCutoverApproval and
    AwaitFinalizeApproval read approvalTimeoutSeconds as their TimeoutSecondsPath).
    """

    strategy: Strategy = Strategy.PROBE
    poll_seconds: int = Field(default=15, ge=1)
    #: Polls that must read `healthy` in a row. AWS reports `healthy` only after the group's
    #: healthy threshold of consecutive passed checks, so one poll is the proof; more polls
    #: wait again for what AWS already proved (pollSeconds each).
    healthy_checks_required: int = Field(default=1, ge=1)
    #: The new group's healthy threshold is FAST_GATE_THRESHOLD while the probe proves health
    #: (healthy after 2 checks of 30 s instead of the configured 5), then the configured
    #: value again (release_probe). Trade: two passed checks are the only proof before cutover.
    fast_health_gate: bool = False
    health_timeout_seconds: int = Field(default=600, ge=0)
    bake_seconds: int = Field(default=900, ge=0)
    drain_seconds: int = Field(default=3600, ge=0)
    #: How long a rollback waits for the refilled old group's targets to be healthy before
    #: it moves production back; past it, production stays on the new group (and says so).
    #: At most 780 s: a replayed rollback waits inside one invocation (timeout 900 s).
    rollback_health_timeout_seconds: int = Field(default=600, ge=0, le=780)
    #: How often that rollback checks the old group (its own poll: a rollback waits for AWS's
    #: health checks, at intervals of 10 s or more, whatever pollSeconds the migration used).
    rollback_poll_seconds: int = Field(default=10, ge=1)
    finalize_after_seconds: int | None = Field(default=None, ge=0)
    alarm_names: list[str] = Field(default_factory=list)
    delete_target_group: bool = False
    delete_state: bool = False
    approve_before_cutover: bool = False
    approve_before_finalize: bool = False
    approval_timeout_seconds: int = Field(
        default=DEFAULT_APPROVAL_TIMEOUT_SECONDS, ge=1, le=MAX_APPROVAL_TIMEOUT_SECONDS
    )
