"""The steps' dependencies inside Lambda, built once per container at first use."""

from __future__ import annotations

from functools import lru_cache

from ipsync_migrator.aws.bus import EventBus
from ipsync_migrator.aws.journal import DynamoJournal
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.steps.context import StepContext


@lru_cache(maxsize=1)
def step_context() -> StepContext:
    settings = ServiceSettings.from_env()
    clients = ClientFactory(settings.aws)
    return StepContext(
        clients=clients,
        journal=DynamoJournal(clients, settings.journal_table),
        bus=EventBus(clients, settings.event_bus),
        probe_port_range=settings.probe_port_range,
    )
