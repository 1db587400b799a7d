"""AWS STS adapter: who we are."""

from __future__ import annotations

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory


def account_id(clients: ClientFactory) -> str:
    with aws_call("sts:GetCallerIdentity"):
        return str(clients.client("sts").get_caller_identity()["Account"])
