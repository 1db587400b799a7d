"""The migration journal: one record per migration plus one entry per step (before/after).

`Journal` is the contract; `MemoryJournal` is its in-memory twin for unit tests and
`ipsync_migrator.aws.journal.DynamoJournal` the DynamoDB one. Saving a record is a
compare-and-set on its `version`, so two runs cannot drive one migration at once.
"""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import Field

from ipsync_migrator.errors import ConcurrentMigrationError, NotFoundError
from ipsync_migrator.models import Model


class MigrationState(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    CUT_OVER = "cut_over"
    RETIRED = "retired"
    FINALIZED = "finalized"
    ROLLED_BACK = "rolled_back"
    #: A rollback ended with parts it could not undo (`rollback_report` lists them); running
    #: the rollback again, once the cause is fixed, goes on from there.
    ROLLBACK_INCOMPLETE = "rollback_incomplete"
    FAILED = "failed"


#: States in which a run is driving the migration (another run must not start).
ACTIVE_STATES = frozenset({MigrationState.IN_PROGRESS, MigrationState.CUT_OVER})


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class MigrationRecord(Model):
    """Everything a step or a rollback needs to know about one migration."""

    model_config = Model.model_config | {"frozen": False}

    migration_id: str
    state: MigrationState = MigrationState.PLANNED
    current_step: str = ""
    owner: str = ""
    #: The fencing epoch: bumped by every run that takes the migration over (a new execution,
    #: a rollback from the CLI or a replay); only grows. With `owner` it is the token.
    epoch: int = 0
    #: Every run that held the migration: owner, epoch and when it took over.
    runs: list[dict[str, Any]] = Field(default_factory=list)
    #: The step a holder began (owner, epoch, step, at) and has not completed yet.
    in_flight: dict[str, Any] | None = None
    version: int = 0
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    last_error: str | None = None
    plan: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    #: Account, region and role of the migrated resources (empty: the hub's own).
    target: dict[str, Any] = Field(default_factory=dict)
    #: The deployment as discovered (for rollback: ALB, old group, schedules, listeners).
    deployment: dict[str, Any] = Field(default_factory=dict)
    new_target_group_arn: str | None = None
    probe_listeners: list[dict[str, Any]] = Field(default_factory=list)
    #: Exact DefaultActions of each production listener before cutover, by listener ARN.
    saved_listener_actions: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    #: Weighted canary actions set on production listeners (strategy `weighted`), journaled
    #: before the write.
    canary_listener_actions: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    #: Exact DefaultActions cutover set on each production listener, journaled before the
    #: write; a rollback restores a listener only while it still carries them.
    listener_actions_set: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    #: The rollback under way or last ended: started, health of the old group, what was left
    #: (leftovers) and why (problems: the failed call, the missing permission, the fix).
    rollback_report: dict[str, Any] = Field(default_factory=dict)
    legacy_snapshot: dict[str, Any] | None = None
    #: What the NLBs' clients see (DNS name, zone addresses, EIPs, endpoint services) before
    #: the migration, and the checks after cutover and rollback (steps/nlb_identity.py).
    nlb_identity: dict[str, Any] = Field(default_factory=dict)
    #: The pending approval gate and its Step Functions task token.
    approval: dict[str, str] | None = None
    #: Every approval given: gate, who (`by`), when (`at`) and the digest of the gate's task
    #: token (`token`), journaled by `approve`.
    approvals: list[dict[str, str]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    health: dict[str, Any] = Field(default_factory=dict)
    timestamps: dict[str, str] = Field(default_factory=dict)


class StepEntry(Model):
    migration_id: str
    step: str
    status: str
    at: str = Field(default_factory=utc_now)
    before: Any = None
    after: Any = None
    detail: str = ""


class Journal(Protocol):
    def get(self, migration_id: str) -> MigrationRecord | None: ...

    def save(self, record: MigrationRecord, entry: StepEntry | None = None) -> MigrationRecord:
        """Store `record` if its stored version still equals `record.version`; bump it.
        With `entry`, append it in the same atomic write (not at all if the record is not)."""
        ...

    def append(self, entry: StepEntry) -> None: ...

    def entries(self, migration_id: str) -> list[StepEntry]: ...

    def all(self) -> list[MigrationRecord]: ...


def load(journal: Journal, migration_id: str) -> MigrationRecord:
    record = journal.get(migration_id)
    if record is None:
        raise NotFoundError(
            f"No migration '{migration_id}' in the journal.",
            "Start it with `ipsync-migrator migrate ID` (ids come from `discover`).",
        )
    return record


class MemoryJournal:
    """In-memory twin of the DynamoDB journal, with the same locking contract."""

    def __init__(self) -> None:
        self._records: dict[str, MigrationRecord] = {}
        self._entries: dict[str, list[StepEntry]] = {}
        self._lock = threading.Lock()

    def get(self, migration_id: str) -> MigrationRecord | None:
        with self._lock:
            record = self._records.get(migration_id)
            return copy.deepcopy(record) if record else None

    def save(self, record: MigrationRecord, entry: StepEntry | None = None) -> MigrationRecord:
        with self._lock:
            stored = self._records.get(record.migration_id)
            stored_version = stored.version if stored else 0
            if stored_version != record.version:
                raise conflict(record.migration_id)
            saved = record.model_copy(
                deep=True, update={"version": record.version + 1, "updated_at": utc_now()}
            )
            self._records[record.migration_id] = saved
            if entry is not None:
                self._entries.setdefault(entry.migration_id, []).append(entry)
            return copy.deepcopy(saved)

    def append(self, entry: StepEntry) -> None:
        with self._lock:
            self._entries.setdefault(entry.migration_id, []).append(entry)

    def entries(self, migration_id: str) -> list[StepEntry]:
        with self._lock:
            return list(self._entries.get(migration_id, []))

    def all(self) -> list[MigrationRecord]:
        with self._lock:
            return [copy.deepcopy(r) for r in self._records.values()]


def conflict(migration_id: str) -> ConcurrentMigrationError:
    return ConcurrentMigrationError(
        f"Migration '{migration_id}' was changed by another run.",
        "Only one run may drive a migration: check `ipsync-migrator status`, then retry.",
    )
