"""The steps' dependencies inside Lambda, built once per container and target at first use.

The journal and the event bus are the hub's; the AWS resources a migration changes belong
to its target (another account through an assumed role, or the hub's own).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from ipsync_migrator.aws.bus import EventBus
from ipsync_migrator.aws.journal import DynamoJournal
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import ServiceSettings
from ipsync_migrator.models import Target
from ipsync_migrator.steps.context import StepContext

#: Targets whose clients a container keeps, least recently used dropped first. A factory of
#: five clients holds about 2.4 MB (measured on python3.13), so 16 targets stay far inside a
#: 256 MB function beside the runtime; a fleet's container that serves more targets builds
#: the others again (one AssumeRole each), it never grows without bound.
TARGETS_PER_CONTAINER = 16


@dataclass
class _Container:
    """What one function's warm container keeps: the hub's clients, journal and bus, and a
    context per target it served lately."""

    settings: ServiceSettings
    hub: StepContext = field(init=False)
    targets: OrderedDict[Target, StepContext] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        hub = ClientFactory(self.settings.aws)
        self.hub = StepContext(
            clients=hub,
            known_account=self.settings.account_id or None,
            journal=DynamoJournal(hub, self.settings.journal_table),
            bus=EventBus(hub, self.settings.event_bus),
            probe_port_range=self.settings.probe_port_range,
            hub_clients=hub,
        )

    def context(self, target: Target | None) -> StepContext:
        if target is None or not (target.role_arn or target.region):
            return self.hub
        if target in self.targets:
            self.targets.move_to_end(target)
            return self.targets[target]
        aws = replace(
            self.settings.aws,
            region=target.region or self.settings.aws.region,
            role_arn=target.role_arn,
            external_id=target.external_id,
        )
        built = replace(
            self.hub,
            clients=ClientFactory(aws),
            # Assumed-role credentials act in the role's account.
            known_account=(
                target.role_arn.split(":")[4] if target.role_arn else self.hub.known_account
            ),
        )
        self.targets[target] = built
        while len(self.targets) > TARGETS_PER_CONTAINER:
            self.targets.popitem(last=False)
        return built


#: One container per function (by name) and settings: on Lambda, the function's own; in the
#: emulator, where every function runs in one process, each keeps its own clients as its
#: container would (so each function's own AssumeRole and grants are exercised).
_containers: dict[tuple[str, ServiceSettings], _Container] = {}
_lock = threading.Lock()


def step_context(target: Target | None = None) -> StepContext:
    """A context for `target` (default: the hub's own account and region), on the clients
    this function's container built for it. A copy per call: no adapter or record of an
    earlier invocation comes with it."""
    settings = ServiceSettings.from_env()
    key = (os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""), settings)
    with _lock:
        container = _containers.get(key)
        if container is None:
            container = _containers[key] = _Container(settings)
        return replace(container.context(target))


def forget_containers() -> None:
    """Drop every container's clients (the emulator's bridge, when it starts and stops: a
    new emulator must not see credentials another one issued)."""
    with _lock:
        _containers.clear()


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
    return replace(shared, loaded=record)
