"""Ids, names and tags derived from AWS resources: spelled once, used everywhere."""

from __future__ import annotations

from ipsync_migrator.models import stable_suffix

TAG_MANAGED_BY = "ipsync-migrator:managed-by"
TAG_MIGRATION_ID = "ipsync-migrator:migration-id"
TAG_SOURCE_TARGET_GROUP = "ipsync-migrator:source-target-group"
MANAGED_BY_VALUE = "ipsync-migrator"
STACK_NAME_TAG = "aws:cloudformation:stack-name"


def target_group_name(arn: str) -> str:
    """`my-tg` from `arn:...:targetgroup/my-tg/0123abcd`."""
    return arn.split(":targetgroup/", 1)[-1].split("/", 1)[0]


def load_balancer_name(arn: str) -> str:
    """`my-nlb` from `arn:...:loadbalancer/net/my-nlb/0123abcd`."""
    parts = arn.split(":loadbalancer/", 1)[-1].split("/")
    return parts[1] if len(parts) > 1 else parts[0]


def migration_id_for_target_group(target_group_arn: str) -> str:
    """Stable id of the migration of one legacy target group (a valid execution name)."""
    return f"{target_group_name(target_group_arn)[:60]}-{stable_suffix(target_group_arn)}"


def migration_id_for_function(function_arn: str) -> str:
    """Stable id of an orphaned deployment, whose target group is gone."""
    name = function_arn.rsplit(":function:", 1)[-1].split(":", 1)[0]
    return f"{name[:60]}-{stable_suffix(function_arn)}"


def new_target_group_name(target_group_arn: str) -> str:
    """Name of the alb target group replacing `target_group_arn` (32 characters at most)."""
    prefix = target_group_name(target_group_arn)[:20].rstrip("-")
    return f"{prefix}-alb-{stable_suffix(target_group_arn, 6)}"


def ownership_tags(migration_id: str, source_target_group_arn: str) -> dict[str, str]:
    """Tags that mark a resource as created by this project for one migration."""
    return {
        TAG_MANAGED_BY: MANAGED_BY_VALUE,
        TAG_MIGRATION_ID: migration_id,
        TAG_SOURCE_TARGET_GROUP: source_target_group_arn,
    }
