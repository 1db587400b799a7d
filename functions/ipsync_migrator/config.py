"""Configuration: the only module that reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

USER_AGENT = "ipsync-migrator/0.1.0"
DEFAULT_STACK_NAME = "ipsync-migrator"


def default_output() -> str | None:
    """The CLI's `--output` when none is given: AWS_DEFAULT_OUTPUT, as for the AWS CLI."""
    return os.environ.get("AWS_DEFAULT_OUTPUT") or None


@dataclass(frozen=True)
class AwsTarget:
    """Where and as whom AWS is called: region, profile, endpoint and an optional role."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    #: Called from inside a Lambda function: clients get a retry budget that fits its timeout.
    in_lambda: bool = False

    @classmethod
    def from_env(cls, **overrides: str | None) -> AwsTarget:
        """Build from the standard AWS variables; explicit non-None overrides win."""
        base = cls(
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
            profile=os.environ.get("AWS_PROFILE"),
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
            # Set by every Lambda runtime (a reserved variable); Lambda sets no timeout variable.
            in_lambda=bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")),
        )
        changes: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return replace(base, **changes)


@dataclass(frozen=True)
class ServiceSettings:
    """Names of the deployed stack's resources, as the Lambda functions see them."""

    journal_table: str = "ipsync-migrator-journal"
    event_bus: str = "ipsync-migrator"
    probe_port_range: tuple[int, int] = (49152, 49407)
    #: The role (member-role.yaml) a fleet assumes in accounts other than the hub's.
    member_role_name: str = "ipsync-migrator-member"
    #: The stack's bucket for fleets' items, results and reports (template.yaml FleetBucket).
    fleet_bucket: str = ""
    #: The stack's own account (template.yaml: AWS::AccountId): a function's execution role
    #: acts in its function's account, so no STS call is needed to know it.
    account_id: str = ""
    aws: AwsTarget = field(default_factory=AwsTarget)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        low, _, high = os.environ.get("PROBE_PORT_RANGE", "49152-49407").partition("-")
        return cls(
            journal_table=os.environ.get("JOURNAL_TABLE", cls.journal_table),
            event_bus=os.environ.get("EVENT_BUS_NAME", cls.event_bus),
            probe_port_range=(int(low), int(high or low)),
            member_role_name=os.environ.get("MEMBER_ROLE_NAME", cls.member_role_name),
            fleet_bucket=os.environ.get("FLEET_BUCKET", cls.fleet_bucket),
            account_id=os.environ.get("HUB_ACCOUNT_ID", cls.account_id),
            aws=AwsTarget.from_env(),
        )
