"""AWS STS adapter: who we are, and becoming someone else (a member account's role)."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import AccessDeniedError

SESSION_NAME = "ipsync-migrator"


def account_id(clients: ClientFactory) -> str:
    with aws_call("sts:GetCallerIdentity"):
        return str(clients.client("sts").get_caller_identity()["Account"])


def caller_arn(clients: ClientFactory) -> str:
    with aws_call("sts:GetCallerIdentity"):
        return str(clients.client("sts").get_caller_identity()["Arn"])


def assume_role(sts: Any, role_arn: str, external_id: str | None = None) -> dict[str, Any]:
    """Temporary credentials of `role_arn` (ClientFactory's assume-role call site)."""
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME}
    if external_id:
        params["ExternalId"] = external_id
    try:
        with aws_call("sts:AssumeRole"):
            return dict(sts.assume_role(**params)["Credentials"])
    except AccessDeniedError as exc:
        raise AccessDeniedError(
            f"Cannot assume role {role_arn}: {exc.message.split(': ', 1)[-1]}",
            "Deploy member-role.yaml in that account (trusting this hub account, with the "
            "same external id), or fix the fleet file's roleArn / externalId.",
        ) from exc
