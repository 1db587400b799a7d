"""The steps' dependencies inside Lambda, built once per container and target at first use.

The journal and the event bus are the hub's; the AWS resources a migration changes belong
to its target (another account through an assumed role, or the hub's own).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ipsync_migrator.aws.bus import EventBus
from ipsync_migrator.aws.journal import DynamoJournal
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.models import Target
from ipsync_migrator.steps.context import StepContext


def step_context(target: Target | None = None) -> StepContext:
    """The context for `target` (default: the hub's own account and region), built once per
    container for the settings of the function's environment."""
    return _built_context(ServiceSettings.from_env(), target)


@lru_cache(maxsize=32)
def _built_context(settings: ServiceSettings, target: Target | None) -> StepContext:
    hub = ClientFactory(settings.aws)
    clients = hub
    known_account = settings.account_id or None
    if target is not None and (target.role_arn or target.region):
        clients = ClientFactory(
            replace(
                settings.aws,
                region=target.region or settings.aws.region,
                role_arn=target.role_arn,
                external_id=target.external_id,
            )
        )
        # Assumed-role credentials act in the role's account.
        known_account = target.role_arn.split(":")[4] if target.role_arn else known_account
    return StepContext(
        clients=clients,
        known_account=known_account,
        journal=DynamoJournal(hub, settings.journal_table),
        bus=EventBus(hub, settings.event_bus),
        probe_port_range=settings.probe_port_range,
        hub_clients=hub,
    )


def migration_context(migration_id: str) -> StepContext:
    """This invocation's context for an existing migration: its target comes from the
    journal, and the record read for it is the step's (one read per invocation)."""
    hub = step_context()
    record = hub.journal.get(migration_id)
    shared = (
        hub
        if record is None or not record.target
        else step_context(Target.model_validate(record.target))
    )
    # A copy per invocation: it carries this invocation's record, and its adapters (built on
    # the container's cached clients) no state from an earlier invocation.
    return replace(shared, loaded=record)
