"""What the CLI asks of a deployed (or local) ipsync-migrator stack."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from ipsync_migrator.aws.fleets import FleetBucket
from ipsync_migrator.aws.journal import DynamoJournal
from ipsync_migrator.aws.service import Executions, Replays, StackOutputs, invoke
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import IpsyncError, NotFoundError, StepPreconditionError
from ipsync_migrator.events import replay_name
from ipsync_migrator.failures import Failure, from_execution, from_journal
from ipsync_migrator.fleet import (
    FLEET_DISCOVER_STATE,
    FLEET_REPORT_STATE,
    FleetSpec,
    read_discovery,
    read_items,
)
from ipsync_migrator.journal import MigrationRecord, MigrationState, load, utc_now
from ipsync_migrator.models import Deployment, MigrationOptions, stable_suffix
from ipsync_migrator.reporting import MigrationReport, build_fleet_report
from ipsync_migrator.steps.approval import pending_approval
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.legacy_stack import delete_legacy_stack
from ipsync_migrator.steps.replay import OUTCOME_ORDER, ROLLBACK_BY_REPLAY

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Started:
    migration_id: str
    execution_arn: str
    started: bool
    note: str = ""


@dataclass
class Service:
    """The stack's state machine, journal and functions, found through its outputs."""

    clients: ClientFactory
    outputs: StackOutputs

    @classmethod
    def connect(cls, clients: ClientFactory, stack_name: str) -> Service:
        return cls(clients, StackOutputs.read(clients, stack_name))

    @cached_property
    def journal(self) -> DynamoJournal:
        return DynamoJournal(self.clients, self.outputs.journal_table)

    @cached_property
    def executions(self) -> Executions:
        return Executions(self.clients, self.outputs.state_machine_arn)

    def start(self, deployment: Deployment, options: MigrationOptions) -> Started:
        """Start one execution per migration: the name derives from the migration id."""
        mid = deployment.id
        previous = self.executions.named_like(mid)
        running = [e for e in previous if e["status"] == "RUNNING"]
        if running:
            return Started(mid, running[0]["executionArn"], False, "already running")
        name = mid if not previous else f"{mid}-{len(previous) + 1}"
        payload = {"targetGroupArn": deployment.target_group_arn, "options": options.to_json_dict()}
        try:
            arn = self.executions.start(name, payload)
        except IpsyncError as exc:
            if exc.code != "ExecutionAlreadyExists":
                raise
            again = [e for e in self.executions.named_like(mid) if e["name"] == name]
            return Started(mid, again[0]["executionArn"] if again else "", False, "already started")
        return Started(mid, arn, True)

    def progress(self, started: Started) -> dict[str, Any]:
        """Execution status plus the journal's view of the migration; once it ended other
        than SUCCEEDED, its failure (the failed state, the error, one line, the fix)."""
        execution = self.executions.describe(started.execution_arn)
        record = self.journal.get(started.migration_id)
        done = execution["status"] in TERMINAL
        failure = None
        if done and execution["status"] != "SUCCEEDED":
            failure = self.failure(execution, record)
        return {
            "migrationId": started.migration_id,
            "executionArn": started.execution_arn,
            "status": execution["status"],
            "state": record.state.value if record else "planned",
            "step": record.current_step if record else "",
            "error": execution.get("error") or (record.last_error if record else None),
            "cause": execution.get("cause"),
            "done": done,
            "record": record,
            "failure": failure,
        }

    def failure(self, execution: dict[str, Any], record: MigrationRecord | None) -> Failure | None:
        """Why an execution did not succeed: its error and cause (else the journal's last
        error), and the state that failed."""
        failure = from_execution(execution.get("error"), execution.get("cause"))
        if failure is None or not failure.message:
            failure = from_journal(record.last_error if record else None) or failure
        if failure is None:
            return None
        step = self.executions.failed_state(str(execution["executionArn"]))
        return replace(failure, step=step)

    def latest_execution(self, migration_id: str) -> dict[str, Any] | None:
        """The migration's most recent execution (listed, not described), if any."""
        executions = self.executions.named_like(migration_id)
        return max(executions, key=lambda e: e["startDate"]) if executions else None

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return self.executions.describe(execution_arn)

    def records(self, migration_id: str | None = None) -> list[MigrationRecord]:
        if migration_id:
            return [load(self.journal, migration_id)]
        return sorted(self.journal.all(), key=lambda r: r.migration_id)

    def rollback(
        self,
        migration_id: str,
        force: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        on_pending: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Roll the migration back until the rollback ends.

        The rollback function takes the migration over on the first call (a new owner and
        epoch), then stops the execution that drove it; a rollback it refuses (a finalize in
        flight) stops nothing. While the old group proves healthy it answers `pending` with its
        owner, and is called again as that owner.
        """
        load(self.journal, migration_id)
        request = {
            "migrationId": migration_id,
            "reason": "rollback requested from the CLI",
            "force": force,
        }
        result = invoke(self.clients, self.outputs.rollback_function, request)
        while result.get("pending"):
            if on_pending is not None:
                on_pending(result)
            record = load(self.journal, migration_id)
            sleep(MigrationOptions.model_validate(record.options).rollback_poll_seconds)
            result = invoke(
                self.clients,
                self.outputs.rollback_function,
                {**request, "owner": result["owner"]},
            )
        return result

    def finalize(
        self,
        migration_id: str,
        delete_stack: bool = False,
        delete_target_group: bool | None = None,
        delete_state: bool | None = None,
    ) -> dict[str, Any]:
        """Hard-delete the legacy deployment; with `delete_stack`, by deleting its own stack.
        `delete_target_group` and `delete_state` override the migration's options (None:
        keep them)."""
        if load(self.journal, migration_id).state == MigrationState.FINALIZED:
            return {"alreadyFinalized": True, "deleted": []}
        deleted: list[str] = []
        if delete_stack:
            # With the caller's credentials: deleting a stack needs rights on all it holds.
            context = StepContext(self.clients, self.journal, _NoEvents())
            deleted.append(f"stack {delete_legacy_stack(context, migration_id)['deletedStack']}")
        payload: dict[str, Any] = {"migrationId": migration_id}
        if delete_target_group is not None:
            payload["deleteTargetGroup"] = delete_target_group
        if delete_state is not None:
            payload["deleteState"] = delete_state
        result = invoke(self.clients, self.outputs.finalize_function, payload)
        return {**result, "deleted": deleted + list(result.get("deleted", []))}

    def replay_rollback(
        self, since: datetime, until: datetime, migration_id: str | None = None
    ) -> str:
        """Replay the archive's window onto the bus: its migrations roll back. Returns the name."""
        name = replay_name(migration_id, datetime.now(UTC).strftime("%Y%m%dT%H%M%S"))
        self._replays.start(name, since, until)
        return name

    def replay_state(self, name: str) -> str:
        return self._replays.state(name)

    @cached_property
    def _replays(self) -> Replays:
        """Replays reach the rollback rule only (a stack from before that output: every rule)."""
        outputs = self.outputs
        rules = [outputs.replay_rule_arn] if outputs.replay_rule_arn else []
        return Replays(self.clients, outputs.archive_arn, outputs.event_bus_arn, rules)

    def migrations_in_window(
        self, since: datetime, until: datetime, migration_id: str | None = None
    ) -> set[str]:
        """Migrations that journaled a step (so emitted an event) inside the window."""
        found = set()
        for record in self.records(migration_id):
            for entry in self.journal.entries(record.migration_id):
                at = datetime.fromisoformat(entry.at)
                if entry.step != ROLLBACK_BY_REPLAY and since <= at <= until:
                    found.add(record.migration_id)
                    break
        return found

    def replay_outcomes(self, name: str) -> dict[str, str]:
        """What the replay did to each migration it reached: its most significant outcome."""
        outcomes: dict[str, str] = {}
        for migration_id, deliveries in self.replay_deliveries(name).items():
            ranked = sorted(deliveries, key=lambda o: OUTCOME_ORDER.index(o))
            outcomes[migration_id] = ranked[0]
        return outcomes

    def replay_deliveries(self, name: str) -> dict[str, dict[str, int]]:
        """Each delivery of the replay, counted by outcome, per migration (from the journal)."""
        deliveries: dict[str, dict[str, int]] = {}
        for record in self.journal.all():
            for entry in self.journal.entries(record.migration_id):
                if entry.step == ROLLBACK_BY_REPLAY and entry.detail == name:
                    counts = deliveries.setdefault(record.migration_id, {})
                    status = entry.status if entry.status in OUTCOME_ORDER else "ignored"
                    counts[status] = counts.get(status, 0) + 1
        return deliveries

    def approve(self, migration_id: str, approver: str) -> str:
        """Journal who approved the pending gate, then send its token back.

        Journaled first, while the execution waits at the gate and nothing else writes the
        record (a compare-and-set all the same); taken back if the token is refused.
        """
        record = load(self.journal, migration_id)
        approval = pending_approval(record)
        gate = approval["gate"]
        # The token's digest, not the token: a second approval of one gate changes nothing.
        token = hashlib.sha256(approval["taskToken"].encode()).hexdigest()[:16]
        earlier = next((a for a in record.approvals if a.get("token") == token), None)
        if earlier is not None:
            raise StepPreconditionError(
                f"Migration '{migration_id}': the approval before {gate} was already given by "
                f"{earlier['by']} at {earlier['at']}; nothing was changed.",
                f"Follow it with `ipsync-migrator status {migration_id} --watch`.",
            )
        given = {"gate": gate, "by": approver, "at": utc_now(), "token": token}
        saved = self.journal.save(
            record.model_copy(update={"approvals": [*record.approvals, given]})
        )
        try:
            self.executions.approve(approval["taskToken"], approver)
        except IpsyncError:
            latest = self.journal.get(migration_id)
            if latest is not None and latest.version == saved.version:
                self.journal.save(latest.model_copy(update={"approvals": record.approvals}))
            raise
        return gate

    # -- fleets -------------------------------------------------------------------------------

    @cached_property
    def fleets(self) -> Executions:
        if not self.outputs.fleet_state_machine_arn:
            raise NotFoundError(
                "This ipsync-migrator stack has no fleet state machine (output "
                "FleetStateMachineArn).",
                "Redeploy the stack from this version's template.yaml.",
            )
        return Executions(self.clients, self.outputs.fleet_state_machine_arn)

    def start_fleet(self, spec: FleetSpec, digest: str, now: datetime | None = None) -> str:
        """Start the fleet state machine; the name says which file (hash) and when."""
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return self.fleets.start(f"fleet-{digest}-{stamp}", spec.to_json_dict())

    def fleet_status(self, reference: str) -> dict[str, Any]:
        """A fleet execution's status, its child migrations so far and, once done, its report."""
        fleets = self.fleets
        arn = self._fleet_arn(reference)
        execution = fleets.describe(arn)
        done = execution["status"] in TERMINAL
        # Child executions are named <migration id>-<hash of the fleet execution's ARN>.
        suffix = "-" + stable_suffix(arn)
        children = [
            {"name": e["name"], "status": e["status"], "executionArn": e["executionArn"]}
            for e in self.executions.all()
            if e["name"].endswith(suffix)
        ]
        return {
            "executionArn": arn,
            "name": execution.get("name", _execution_name(arn)),
            "status": execution["status"],
            "error": execution.get("error"),
            "cause": execution.get("cause"),
            "done": done,
            "children": sorted(children, key=lambda c: c["name"]),
            "report": self._fleet_report_file(arn) if done else None,
        }

    def fleet_report(self, reference: str) -> MigrationReport:
        """The migration report of one fleet: its discovery, the journal, its children."""
        arn = self._fleet_arn(reference)
        discovered = self.fleets.state_output(arn, FLEET_DISCOVER_STATE)
        if discovered is None:
            status = self.fleets.describe(arn)["status"]
            raise NotFoundError(
                f"Fleet {_execution_name(arn)} has no discovery result yet (it is {status}).",
                "Wait for it with `ipsync-migrator status --fleet NAME`; a fleet that failed "
                "before discovering anything has nothing to report.",
            )
        fleet = self._discovered(discovered["fleet"])
        finished = self._fleet_report_file(arn)
        ids = {item["migrationId"] for item in fleet["items"]}
        records = [r for r in self.journal.all() if r.migration_id in ids]
        children = finished["children"] if finished else None
        return build_fleet_report(_execution_name(arn), fleet, children, records)

    def _discovered(self, fleet: dict[str, Any]) -> dict[str, Any]:
        """DiscoverFleet's items, skipped and errors, from the fleet bucket (its output holds
        their keys; a fleet of a version before the bucket holds them inline)."""
        if "itemsKey" not in fleet:
            return {key: fleet.get(key, []) for key in ("items", "skipped", "errors")}
        files = FleetBucket(self.clients, fleet["bucket"])
        discovery = read_discovery(files, fleet["discoveryKey"]).to_json_dict()
        return {
            "items": [item.to_json_dict() for item in read_items(files, fleet["itemsKey"])],
            "skipped": discovery["skipped"],
            "errors": discovery["errors"],
        }

    def _fleet_report_file(self, arn: str) -> dict[str, Any] | None:
        """The whole report FleetReport wrote (its state output is the summary and the key);
        None when the fleet ended before its report."""
        summary = self.fleets.state_output(arn, FLEET_REPORT_STATE)
        if summary is None or "reportKey" not in summary:
            return dict(summary) if summary else None
        report = FleetBucket(self.clients, summary["bucket"]).get_json(summary["reportKey"])
        return dict(report)

    def _fleet_arn(self, reference: str) -> str:
        return reference if reference.startswith("arn:") else self.fleets.arn_of(reference)


def console_url(execution_arn: str) -> str:
    """The execution's page in the Step Functions console ("" outside the aws partition)."""
    parts = execution_arn.split(":")
    if len(parts) < 4 or parts[1] != "aws":
        return ""
    region = parts[3]
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def _execution_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


class _NoEvents:
    """The stack check writes nothing and emits nothing; finalize itself emits the event."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        raise AssertionError("delete_legacy_stack does not publish events")
