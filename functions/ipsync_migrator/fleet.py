"""Fleet migrations: many accounts and regions, one child migration per migratable deployment.

The fleet state machine (statemachine/fleet.asl.json) calls `plan_fleet` (the spec validated,
one target per account x region, written to S3), discovers the targets in parallel (a
Distributed Map: `discover_target` once per account and region, its own concurrency),
`gather_fleet` joins their parts into the migration Map's items, which runs one migration
execution per item (ItemReader in, ResultWriter out, at most `maxMigrationsPerAccountRegion`
at a time in one account and region), then `report_fleet` reads the results. Only counts and
S3 keys pass between the states, so a fleet of any size stays under Step Functions' 256 KiB
state limit; the fleet file itself is bounded before anything starts (`parse_fleet_spec`).
One account or region that cannot be read never stops the others: it becomes an error entry.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ipsync_migrator.aws.identity import caller_arn
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import (
    InvalidInputError,
    IpsyncError,
    NotFoundError,
    validation_problems,
)
from ipsync_migrator.events import DetailType, Publisher
from ipsync_migrator.journal import Journal, MigrationRecord, utc_now
from ipsync_migrator.map_results import PascalShape, ResultWriterDetails
from ipsync_migrator.models import (
    Deployment,
    DiscoveryReport,
    MigrationOptions,
    Model,
    Severity,
    Target,
    Verdict,
    stable_suffix,
)

ACCOUNT_ID = r"^\d{12}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
ROLE_ARN = r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
#: Step Functions execution names: at most 80 characters.
EXECUTION_NAME_LENGTH = 80
#: Step Functions' limit of an execution's input, as of every state's input and output:
#: 256 KiB of UTF-8 (docs.aws.amazon.com/step-functions/latest/dg/limits.html).
MAX_PAYLOAD_BYTES = 256 * 1024
#: Accounts x regions discovered at a time by default (the DiscoverTargets Map's
#: MaxConcurrency): discovery mostly waits on AWS, and each account-region has its own ELB
#: rate limits, so this is bounded by the hub's Lambda concurrency only.
DISCOVERY_CONCURRENCY = 10
#: Migrations at a time in one account and region by default. ELB throttles each account per
#: Region with token buckets: Describe* 40 at once, 10 per second refilled
#: (docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html);
#: mutating calls have smaller buckets (the AWS Load Balancer Controller's client-side
#: defaults: Modify* 3/s, Register/DeregisterTargets 4/s; kubernetes-sigs/
#: aws-load-balancer-controller pkg/aws/throttle/defaults.go). One migration
#: makes about 40 ELB calls besides its health polls (docs/benchmarks.md), over at least the
#: health checks' minimum of about 60 s: 5 at a time stay under 4 calls/s, leaving the
#: account's own tools most of its buckets (README "Fleets" says how the cap works).
MAX_MIGRATIONS_PER_ACCOUNT_REGION = 5
#: A migration waiting for a free slot in its account and region looks again after this long.
SLOT_WAIT_SECONDS = 5
#: How long the fleet's slot counters are kept (DynamoDB TTL): a Standard execution's
#: longest run, a year (step-functions/latest/dg/limits.html), and a day.
SLOT_RETENTION_SECONDS = 366 * 24 * 3600
#: Accounts x regions one fleet may list: each is a discovery of its own (DiscoverTargets),
#: but the fleet's one report and notification name them all; split larger estates.
MAX_FLEET_TARGETS = 500
#: A fleet file is a few levels deep (targets -> account -> regions); far deeper is not a
#: fleet file, and would exhaust the parsers' recursion.
MAX_NESTING = 32
#: Larger than any fleet file that could fit MAX_PAYLOAD_BYTES, whatever its layout and
#: comments: not even read.
MAX_FLEET_FILE_BYTES = 16 * MAX_PAYLOAD_BYTES
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
#: The fleet state machine's task names (handlers' step names, logs and metrics).
PLAN_FLEET_STEP = "plan_fleet"
DISCOVER_TARGET_STEP = "discover_target"
GATHER_FLEET_STEP = "gather_fleet"
FLEET_REPORT_STEP = "fleet_report"
#: The fleet state machine's discovery state, once every target is discovered: its output is
#: {"fleet": plan_fleet(...) with "discovery": gather_fleet(...)}.
FLEET_DISCOVER_STATE = "DiscoverFleet"
#: The fleet state machine's report state (statemachine/fleet.asl.json): its output is the
#: report's summary (`report_fleet`), the whole report is the object at its `reportKey`.
FLEET_REPORT_STATE = "FleetReport"
#: "Fleet Completed" lists at most this many failures and unreached accounts (an event is at
#: most 256 KB); the report object has them all.
MAX_EVENT_ENTRIES = 50

#: A fleet's objects are written by its own states and Step Functions: never by hand.
_FILES_FIX = "Re-run the fleet: its files are written by its own states and its Map's ResultWriter."
_FLEET_FILE_FIX = (
    'A fleet file is JSON (or YAML): {"targets": [{"accountId": "123456789012", '
    '"regions": ["us-east-1"]}], "maxConcurrency": 4, "toleratedFailurePercentage": 0, '
    '"options": {...}}; see events/statemachine/fleet.json.'
)


class FleetTarget(Model):
    """One account of the fleet, the regions to migrate in it and how to get in."""

    account_id: str = Field(pattern=ACCOUNT_ID)
    regions: list[Annotated[str, Field(pattern=REGION)]] = Field(min_length=1)
    #: Default: the hub's own credentials in the hub account, else the member role
    #: (the hub stack's MemberRoleName parameter) in this account.
    role_arn: str | None = Field(default=None, pattern=ROLE_ARN)
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)

    @model_validator(mode="after")
    def _consistent(self) -> FleetTarget:
        if len(set(self.regions)) != len(self.regions):
            raise ValueError(f"regions of account {self.account_id} are listed twice")
        if self.role_arn and self.role_arn.split(":")[4] != self.account_id:
            raise ValueError(f"roleArn {self.role_arn} is not in account {self.account_id}")
        return self


class FleetSpec(Model):
    """What `migrate --fleet FILE` starts: the fleet state machine's input."""

    targets: list[FleetTarget] = Field(min_length=1)
    max_concurrency: int = Field(default=4, ge=1, le=1000)
    #: Accounts x regions discovered at a time (the DiscoverTargets Map).
    discovery_concurrency: int = Field(default=DISCOVERY_CONCURRENCY, ge=1, le=1000)
    #: Migrations at a time in one account and region (ELB's rate limits are per account
    #: and Region), whatever max_concurrency allows.
    max_migrations_per_account_region: int = Field(
        default=MAX_MIGRATIONS_PER_ACCOUNT_REGION, ge=1, le=1000
    )
    slot_wait_seconds: int = Field(default=SLOT_WAIT_SECONDS, ge=1, le=3600)
    tolerated_failure_percentage: float = Field(default=0, ge=0, le=100)
    options: MigrationOptions = Field(default_factory=MigrationOptions)

    @model_validator(mode="after")
    def _accounts_once(self) -> FleetSpec:
        counts = Counter(t.account_id for t in self.targets)
        twice = sorted(a for a, count in counts.items() if count > 1)
        if twice:
            raise ValueError(f"accounts listed twice: {', '.join(twice)} (list regions once)")
        return self

    @property
    def target_count(self) -> int:
        """Accounts x regions: the discoveries one fleet runs."""
        return sum(len(t.regions) for t in self.targets)


def execution_input(spec: FleetSpec) -> str:
    """The fleet state machine's input for `spec`, exactly as `migrate --fleet` sends it."""
    return json.dumps(spec.to_json_dict())


def parse_fleet_spec(data: Any, source: str = "fleet input") -> FleetSpec:
    """Validate a fleet spec, shape and size included; a bad one is an InvalidInputError."""
    _check_shape(data, source)
    try:
        spec = FleetSpec.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, "top level")
        raise InvalidInputError(f"Invalid {source}: {problems}.", _FLEET_FILE_FIX) from None
    _check_bounds(spec, source)
    return spec


def _check_shape(data: Any, source: str) -> None:
    """Refuse nesting beyond MAX_NESTING and more values than MAX_PAYLOAD_BYTES could hold.

    Iterative, so any depth gives this error rather than a RecursionError; counting every
    value visited also stops YAML aliases that repeat one subtree a billion times.
    """
    pending: list[tuple[Any, int]] = [(data, 1)]
    visited = 0
    while pending:
        value, depth = pending.pop()
        visited += 1
        if depth > MAX_NESTING:
            raise InvalidInputError(
                f"Invalid {source}: it is nested more than {MAX_NESTING} levels deep; a fleet "
                "file is a few levels deep (targets, their regions, options).",
                _FLEET_FILE_FIX,
            )
        if visited > MAX_PAYLOAD_BYTES:  # every value takes at least one byte of JSON
            raise InvalidInputError(
                f"Invalid {source}: it holds more than {MAX_PAYLOAD_BYTES:,} values, more "
                "than a Step Functions execution input can carry (256 KiB).",
                "Split the fleet into several fleet files and start one fleet per file.",
            )
        if isinstance(value, dict):
            pending.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            pending.extend((v, depth + 1) for v in value)


def _check_bounds(spec: FleetSpec, source: str) -> None:
    """The limits a valid spec must also respect: targets, and the execution input's size."""
    if spec.target_count > MAX_FLEET_TARGETS:
        raise InvalidInputError(
            f"Invalid {source}: it lists {spec.target_count:,} accounts x regions; one fleet "
            f"may list at most {MAX_FLEET_TARGETS} (one report and one notification name "
            "them all).",
            f"Split the fleet into fleet files of at most {MAX_FLEET_TARGETS} accounts x "
            "regions each, and start one fleet per file.",
        )
    size = len(execution_input(spec).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidInputError(
            f"Invalid {source}: as the fleet state machine's input it is {size:,} bytes; "
            f"Step Functions accepts at most {MAX_PAYLOAD_BYTES:,} bytes (256 KiB) of "
            "execution input.",
            "Split the fleet into several fleet files (one fleet each), or shorten the "
            "targets' externalId values.",
        )


def load_fleet_spec(path: str | Path) -> tuple[FleetSpec, str]:
    """Read and validate a fleet file (JSON, or YAML by its suffix); also its content hash."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FLEET_FILE_BYTES:
            raise InvalidInputError(
                f"The fleet file {file} is {size:,} bytes; a fleet must fit a Step Functions "
                f"execution input of {MAX_PAYLOAD_BYTES:,} bytes (256 KiB).",
                "Split the fleet into several fleet files and start one fleet per file.",
            )
        text = file.read_text()
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot read the fleet file {file}: {exc.strerror or exc}.",
            "Pass the path of an existing fleet file.",
        ) from exc
    data = _decode(file, text)
    return parse_fleet_spec(data, f"fleet file {file}"), stable_suffix(text, 12)


def _decode(file: Path, text: str) -> Any:
    fix = "Fix its syntax (see events/statemachine/fleet.json for an example)."
    too_deep = InvalidInputError(
        f"The fleet file {file} is nested too deeply to read (at most {MAX_NESTING} levels).",
        _FLEET_FILE_FIX,
    )
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - PyYAML comes with the CLI's extras
            raise InvalidInputError(
                "Reading YAML fleet files needs PyYAML.", "Write the fleet file as JSON."
            ) from exc
        try:
            return yaml.safe_load(text)
        except RecursionError:
            raise too_deep from None
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"The fleet file {file} is not valid YAML: {exc}", fix) from exc
    try:
        return json.loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise InvalidInputError(f"The fleet file {file} is not valid JSON: {exc}.", fix) from exc


def execution_name(migration_id: str, fleet_execution_id: str) -> str:
    """The child execution's name: the migration id plus a stable hash of the fleet run.

    Unique per fleet run and deployment, the same on a retry of the same run (so a retried
    start finds its execution), and prefixed by the migration id like the CLI's own runs.
    """
    suffix = "-" + stable_suffix(fleet_execution_id)
    return migration_id[: EXECUTION_NAME_LENGTH - len(suffix)] + suffix


# --- where a fleet's files live ----------------------------------------------------------


class FleetObjects(Protocol):
    """JSON objects in the fleet bucket (aws/fleets.FleetBucket; MemoryFleetObjects in tests)."""

    bucket: str

    def put_json(self, key: str, value: Any) -> None: ...

    def get_json(self, key: str) -> Any: ...


class MemoryFleetObjects:
    """In-memory twin of the fleet bucket: same keys, same JSON round trip, same not-found."""

    def __init__(self, bucket: str = "fleet-bucket") -> None:
        self.bucket = bucket
        self.objects: dict[str, str] = {}
        self._lock = threading.Lock()

    def put_json(self, key: str, value: Any) -> None:
        with self._lock:
            self.objects[key] = json.dumps(value)

    def get_json(self, key: str) -> Any:
        with self._lock:
            if key not in self.objects:
                raise NotFoundError(f"No object s3://{self.bucket}/{key}.")
            return json.loads(self.objects[key])


class FleetExecutions(Protocol):
    """The fleet state machine's executions (aws/fleets.FleetExecutions)."""

    def describe(self, execution_arn: str) -> dict[str, Any]:
        """The execution's description; NotFoundError when there is none."""
        ...


@dataclass(frozen=True)
class FleetKeys:
    """A fleet execution's objects, all under fleets/<execution name>/ (template.yaml's IAM)."""

    prefix: str

    @classmethod
    def of(cls, fleet_execution_id: str) -> FleetKeys:
        return cls(f"fleets/{fleet_execution_id.rsplit(':', 1)[-1]}/")

    @property
    def targets(self) -> str:
        """The DiscoverTargets Map's items: one Target per account x region (a JSON array)."""
        return self.prefix + "targets.json"

    def part(self, index: int) -> str:
        """What discovering target `index` found: a TargetPart."""
        return f"{self.prefix}parts/{index:05d}.json"

    @property
    def discovery_results(self) -> str:
        """The DiscoverTargets Map's ResultWriter prefix."""
        return self.prefix + "discovery-results"

    @property
    def items(self) -> str:
        """The Map's items: a JSON array, as the ItemReader (InputType JSON) reads it."""
        return self.prefix + "items.json"

    @property
    def discovery(self) -> str:
        """What discovery left out: FleetDiscovery."""
        return self.prefix + "discovery.json"

    @property
    def results(self) -> str:
        """The ResultWriter's prefix: it adds <map run id>/manifest.json and result files."""
        return self.prefix + "results"

    @property
    def report(self) -> str:
        return self.prefix + "report.json"


M = TypeVar("M", bound=BaseModel)


def _read(objects: FleetObjects, key: str, model: type[M], what: str) -> M:
    """One object of the fleet bucket, validated: a malformed one names the field."""
    try:
        return model.model_validate(objects.get_json(key))
    except ValidationError as exc:
        raise InvalidInputError(
            f"Invalid {what} s3://{objects.bucket}/{key}: {validation_problems(exc, what)}.",
            _FILES_FIX,
        ) from None


# --- discovery ---------------------------------------------------------------------------

ClientsFor = Callable[[Target], ClientFactory]


class FleetItem(Model):
    """One Map item: a migratable deployment and how to reach it (a child's input)."""

    target_group_arn: str
    migration_id: str
    execution_name: str
    target: Target = Field(default_factory=Target)
    options: dict[str, Any] = Field(default_factory=dict)


class Blocker(Model):
    code: str
    message: str = ""
    remediation: str = ""


class SkippedDeployment(Model):
    """A blocked or orphaned deployment: not started, with its reasons."""

    account_id: str
    region: str
    role_arn: str | None = None
    migration_id: str
    target_group_arn: str = ""
    function_name: str = ""
    verdict: str
    blockers: list[Blocker] = Field(default_factory=list)


class AccountError(Model):
    """An account and region that could not be read: its deployments are unknown."""

    account_id: str
    region: str
    role_arn: str | None = None
    error: str
    message: str
    remediation: str = ""


class FleetDiscovery(Model):
    """discovery.json: what discovery left out of the Map's items."""

    fleet_execution_id: str
    skipped: list[SkippedDeployment] = Field(default_factory=list)
    errors: list[AccountError] = Field(default_factory=list)


class _Items(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built at first use, as models.Model

    items: list[FleetItem]


def read_items(objects: FleetObjects, key: str) -> list[FleetItem]:
    """The Map's items as discovery wrote them (a bare JSON array, as the ItemReader reads)."""
    try:
        return _Items.model_validate({"items": objects.get_json(key)}).items
    except ValidationError as exc:
        raise InvalidInputError(
            f"Invalid fleet items s3://{objects.bucket}/{key}: "
            f"{validation_problems(exc, 'items')}.",
            _FILES_FIX,
        ) from None


def read_discovery(objects: FleetObjects, key: str) -> FleetDiscovery:
    """What discovery left out (blocked, orphaned, unreached), validated."""
    return _read(objects, key, FleetDiscovery, "fleet discovery")


def plan_fleet(
    spec: FleetSpec,
    fleet_execution_id: str,
    hub: ClientFactory,
    member_role_name: str,
    objects: FleetObjects,
) -> dict[str, Any]:
    """The fleet's targets (one per account x region, each with the role that reaches it),
    written for the DiscoverTargets Map; returns the keys and settings the later states read.

    A target without a roleArn outside the hub's account gets the member role.
    """
    hub_arn = caller_arn(hub)
    hub_account, partition = hub_arn.split(":")[4], hub_arn.split(":")[1]
    targets: list[Target] = []
    for account in spec.targets:
        role_arn = account.role_arn
        if role_arn is None and account.account_id != hub_account:
            role_arn = f"arn:{partition}:iam::{account.account_id}:role/{member_role_name}"
        targets += [
            Target(
                account_id=account.account_id,
                region=region,
                role_arn=role_arn,
                external_id=account.external_id,
            )
            for region in account.regions
        ]
    keys = FleetKeys.of(fleet_execution_id)
    objects.put_json(keys.targets, [t.to_json_dict() for t in targets])
    return {
        "bucket": objects.bucket,
        "targetsKey": keys.targets,
        "targetCount": len(targets),
        "discoveryResultsPrefix": keys.discovery_results,
        "itemsKey": keys.items,
        "discoveryKey": keys.discovery,
        "resultsPrefix": keys.results,
        "reportKey": keys.report,
        "discoveryConcurrency": spec.discovery_concurrency,
        "maxConcurrency": spec.max_concurrency,
        "maxMigrationsPerAccountRegion": spec.max_migrations_per_account_region,
        "slotWaitSeconds": spec.slot_wait_seconds,
        # The slot counters outlive the fleet execution (at most a year) by a day, then go.
        "slotsExpireAt": int(time.time()) + SLOT_RETENTION_SECONDS,
        "toleratedFailurePercentage": spec.tolerated_failure_percentage,
        "options": spec.options.to_json_dict(),
    }


class TargetPart(Model):
    """What one account and region held (fleets/<id>/parts/<index>.json)."""

    items: list[FleetItem] = Field(default_factory=list)
    skipped: list[SkippedDeployment] = Field(default_factory=list)
    errors: list[AccountError] = Field(default_factory=list)


def discover_target(
    target: Target,
    index: int,
    fleet_execution_id: str,
    options: MigrationOptions,
    clients_for: ClientsFor,
    member_role_name: str,
    objects: FleetObjects,
    journal: Journal | None = None,
) -> dict[str, Any]:
    """Discover one account and region of the fleet (one DiscoverTargets iteration).

    With the hub's `journal`, a deployment an earlier run migrated is reported migrated
    (skipped, no blockers), as `discover` does. Writes the part (items, skipped, or the error
    that kept the account and region from being read) to S3; returns its key and counts only,
    so the Map's results stay small however many deployments one account holds.
    """
    records = journal.all() if journal is not None else []
    report = _discover_target(target, clients_for, member_role_name, records)
    scope: dict[str, Any] = {
        "account_id": target.account_id,
        "region": target.region,
        "role_arn": target.role_arn,
    }
    items: list[FleetItem] = []
    skipped: list[SkippedDeployment] = []
    errors: list[AccountError] = []
    if isinstance(report, IpsyncError):
        errors.append(
            AccountError(
                **scope, error=report.code, message=report.message, remediation=report.remediation
            )
        )
    else:
        for deployment in report.deployments:
            if deployment.verdict == Verdict.MIGRATABLE:
                items.append(_item(deployment, target, options, fleet_execution_id))
            else:
                skipped.append(_skipped(deployment, scope))
    part = TargetPart(items=items, skipped=skipped, errors=errors)
    key = FleetKeys.of(fleet_execution_id).part(index)
    objects.put_json(key, part.to_json_dict())
    return {
        "index": index,
        "partKey": key,
        "count": len(part.items),
        "skippedCount": len(part.skipped),
        "errorCount": len(part.errors),
    }


def gather_fleet(
    objects: FleetObjects, fleet_execution_id: str, results: ResultWriterDetails
) -> dict[str, Any]:
    """Join the targets' parts into the migration Map's items and `FleetDiscovery`.

    A target whose discovery failed outright (its iteration failed: a timeout, an error the
    step did not turn into an error entry) becomes an error entry with that error. The items
    take the accounts and regions in turn (the first of each, then the second of each, ...),
    so the Map's first children spread over the fleet rather than queue on one account's cap.
    """
    keys = FleetKeys.of(fleet_execution_id)
    targets = _read(objects, keys.targets, _Targets, "fleet targets").targets
    failures: dict[int, ChildExecution] = {}
    for status, _, execution in _map_executions(objects, results):
        if status != SUCCEEDED:
            failures[_iteration_index(execution, objects.bucket)] = execution
    by_target: list[list[FleetItem]] = []
    skipped: list[SkippedDeployment] = []
    errors: list[AccountError] = []
    for index, target in enumerate(targets):
        if index in failures:
            failed = failures[index]
            errors.append(
                AccountError(
                    account_id=target.account_id or "",
                    region=target.region or "",
                    role_arn=target.role_arn,
                    error=failed.error or FAILED,
                    message=failed.cause or "Its discovery did not complete.",
                    remediation="Re-run the fleet; the error says why this account and region "
                    "could not be discovered.",
                )
            )
            continue
        part = _read(objects, keys.part(index), TargetPart, "target part")
        by_target.append(part.items)
        skipped += part.skipped
        errors += part.errors
    items = [item for turn in zip_longest(*by_target) for item in turn if item is not None]
    objects.put_json(keys.items, [item.to_json_dict() for item in items])
    discovery = FleetDiscovery(
        fleet_execution_id=fleet_execution_id, skipped=skipped, errors=errors
    )
    objects.put_json(keys.discovery, discovery.to_json_dict())
    return {"count": len(items), "skippedCount": len(skipped), "errorCount": len(errors)}


class _Targets(BaseModel):
    model_config = ConfigDict(defer_build=True)

    targets: list[Target]

    @model_validator(mode="before")
    @classmethod
    def _bare_array(cls, data: Any) -> Any:
        return {"targets": data} if isinstance(data, list) else data


def _iteration_index(execution: ChildExecution, bucket: str) -> int:
    """The target index a DiscoverTargets child was given (its input, after ItemSelector)."""
    try:
        return int(json.loads(execution.input or "")["index"])
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInputError(
            f"Invalid discovery result in s3://{bucket}: {type(exc).__name__}: {exc}.",
            _FILES_FIX,
        ) from None


def _discover_target(
    target: Target,
    clients_for: ClientsFor,
    member_role_name: str,
    records: list[MigrationRecord] | None = None,
) -> DiscoveryReport | IpsyncError:
    """One account and region: its discovery, or the error that kept it from being read."""
    # Imported here: of the fleet's handlers only FleetDiscover discovers, and discovery's
    # modules are a third of this module's cold import (issue 13, goal 1).
    from ipsync_migrator.discovery import discover

    try:
        _check_role_name(target.role_arn, member_role_name)
        report = discover(clients_for(target), records=records or [])
        if report.account != target.account_id:
            raise InvalidInputError(
                f"The credentials for account {target.account_id} act in account {report.account}.",
                "Fix the fleet file's roleArn: it must be a role in that account.",
            )
    except IpsyncError as exc:
        return exc
    return report


def _check_role_name(role_arn: str | None, member_role_name: str) -> None:
    """The hub's functions may assume only the member role (template.yaml): say so early."""
    if role_arn and role_arn.rsplit("/", 1)[-1] != member_role_name:
        raise InvalidInputError(
            f"The hub may assume only roles named {member_role_name}, not {role_arn}.",
            "Deploy member-role.yaml with that RoleName in the account and leave roleArn out "
            "(or name that role), or redeploy the hub with another MemberRoleName.",
        )


def _item(
    deployment: Deployment, target: Target, options: MigrationOptions, fleet_execution_id: str
) -> FleetItem:
    return FleetItem(
        target_group_arn=deployment.target_group_arn,
        migration_id=deployment.id,
        execution_name=execution_name(deployment.id, fleet_execution_id),
        target=target,
        options=options.to_json_dict(),
    )


def _skipped(deployment: Deployment, scope: dict[str, Any]) -> SkippedDeployment:
    return SkippedDeployment(
        **scope,
        migration_id=deployment.id,
        target_group_arn=deployment.target_group_arn,
        function_name=deployment.function.name,
        verdict=deployment.verdict.value,
        blockers=[
            Blocker(code=f.code.value, message=f.message, remediation=f.remediation)
            for f in deployment.findings
            if f.severity == Severity.BLOCKER
        ],
    )


# --- the children's results (the ResultWriter's files) -----------------------------------


class ResultFile(PascalShape):
    key: str
    size: int | None = None


class ResultFiles(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    succeeded: list[ResultFile] = Field(default_factory=list, alias="SUCCEEDED")
    failed: list[ResultFile] = Field(default_factory=list, alias="FAILED")
    pending: list[ResultFile] = Field(default_factory=list, alias="PENDING")


class MapRunManifest(PascalShape):
    """The ResultWriter's manifest.json (input-output-resultwriter.html: `ResultFiles` lists
    each status's files, each file a JSON array of child executions)."""

    destination_bucket: str
    map_run_arn: str = ""
    result_files: ResultFiles = Field(default_factory=ResultFiles)


class ChildExecution(PascalShape):
    """One child workflow execution in a result file; Input and Output are JSON strings."""

    execution_arn: str | None = None
    input: str | None = None
    output: str | None = None
    status: str = FAILED
    error: str | None = None
    cause: str | None = None


class _ChildExecutions(BaseModel):
    model_config = ConfigDict(defer_build=True)

    executions: list[ChildExecution]


class ChildResult(Model):
    """One Map iteration's outcome, as fleet.asl.json shapes it."""

    model_config = Model.model_config | {"extra": "ignore"}

    status: str
    migration_id: str
    execution_name: str = ""
    execution_arn: str | None = None
    target: Target = Field(default_factory=Target)
    error: str | None = None
    cause: str | None = None


#: The error of an item whose child never ran (the Map Run ended first: PENDING).
NOT_STARTED = "NotStarted"


def read_results(objects: FleetObjects, details: ResultWriterDetails) -> list[ChildResult]:
    """Every child's result, from the manifest the ResultWriter wrote and its result files.

    A child workflow that succeeded holds the iteration's own result (ChildSucceeded or
    ChildFailed); one that failed (stopped, timed out, over a limit) or never started is a
    failed child of the migration its input names.
    """
    return [
        _result_of(execution, status, where)
        for status, where, execution in _map_executions(objects, details)
    ]


def _map_executions(
    objects: FleetObjects, details: ResultWriterDetails
) -> Iterator[tuple[str, str, ChildExecution]]:
    """Each child of a Map Run as its ResultWriter listed it: status, where, the child."""
    if details.bucket != objects.bucket:
        raise InvalidInputError(
            f"The Map's results are in bucket {details.bucket}, not the fleet bucket "
            f"{objects.bucket}.",
            "Start fleets with this stack's fleet state machine: it writes to its own bucket.",
        )
    manifest = _read(objects, details.key, MapRunManifest, "Map Run manifest")
    files = manifest.result_files
    for status, listed in (
        (SUCCEEDED, files.succeeded),
        (FAILED, files.failed),
        ("PENDING", files.pending),
    ):
        for file in listed:
            for index, execution in enumerate(_executions(objects, file.key)):
                yield status, f"s3://{objects.bucket}/{file.key} entry {index}", execution


def _executions(objects: FleetObjects, key: str) -> list[ChildExecution]:
    try:
        return _ChildExecutions.model_validate({"executions": objects.get_json(key)}).executions
    except ValidationError as exc:
        raise InvalidInputError(
            f"Invalid Map Run result file s3://{objects.bucket}/{key}: "
            f"{validation_problems(exc, 'executions')}.",
            _FILES_FIX,
        ) from None


def _result_of(execution: ChildExecution, listed_as: str, where: str) -> ChildResult:
    try:
        if listed_as == SUCCEEDED:
            return ChildResult.model_validate(json.loads(execution.output or ""))
        child_input = json.loads(execution.input or "")
        item = FleetItem.model_validate(child_input["item"])
    except ValidationError as exc:
        problem = validation_problems(exc, "output" if listed_as == SUCCEEDED else "item")
        raise InvalidInputError(
            f"Invalid child execution at {where}: {problem}.", _FILES_FIX
        ) from None
    except (ValueError, TypeError, KeyError) as exc:  # not JSON, or no item in the input
        raise InvalidInputError(
            f"Invalid child execution at {where}: {type(exc).__name__}: {exc}.", _FILES_FIX
        ) from None
    if listed_as == FAILED:
        status = execution.status.title().replace("_", "")
        error = execution.error or f"Execution{status}"  # e.g. ExecutionAborted
        cause = execution.cause
    else:
        error, cause = NOT_STARTED, "The Map Run ended before this migration started."
    return ChildResult(
        status=FAILED,
        migration_id=item.migration_id,
        execution_name=item.execution_name,
        target=item.target,
        error=error,
        cause=cause,
    )


# --- report ------------------------------------------------------------------------------


def fleet_report(
    results: Iterable[ChildResult],
    skipped: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    tolerated_failure_percentage: float,
    fleet_execution_id: str = "",
) -> dict[str, Any]:
    """Counts by outcome and whether the failures stay within the tolerated percentage.

    An account/region that could not be read counts as one failed unit: an unknown number
    of its deployments were not migrated, so it must not pass unnoticed.
    """
    children = [_child(r) for r in results]
    failed = sum(1 for c in children if c["status"] != SUCCEEDED)
    succeeded = len(children) - failed
    units = len(children) + len(errors)
    failure_percentage = round(100.0 * (failed + len(errors)) / units, 2) if units else 0.0
    within = failure_percentage <= tolerated_failure_percentage
    counts = {
        "migrations": len(children),
        "succeeded": succeeded,
        "failed": failed,
        "blocked": sum(1 for s in skipped if s.get("verdict") == Verdict.BLOCKED.value),
        "orphaned": sum(1 for s in skipped if s.get("verdict") == Verdict.ORPHANED.value),
        "accountErrors": len(errors),
    }
    summary = (
        f"{counts['migrations']} migration(s): {succeeded} succeeded, {failed} failed; "
        f"{len(errors)} account/region error(s); failure {failure_percentage:g}% "
        f"{'<=' if within else '>'} tolerated {tolerated_failure_percentage:g}%; "
        f"{counts['blocked']} blocked and {counts['orphaned']} orphaned not started"
    )
    return {
        "fleetExecutionId": fleet_execution_id,
        "counts": counts,
        "failurePercentage": failure_percentage,
        "toleratedFailurePercentage": tolerated_failure_percentage,
        "withinTolerance": within,
        "summary": summary,
        "children": children,
        "skipped": skipped,
        "errors": errors,
    }


def _child(result: ChildResult) -> dict[str, Any]:
    error, cause = result.error, result.cause
    if result.status != SUCCEEDED:
        error, cause = _child_failure(error, cause)
    return {
        "migrationId": result.migration_id,
        "executionName": result.execution_name,
        "executionArn": result.execution_arn,
        "accountId": result.target.account_id,
        "region": result.target.region,
        "status": SUCCEEDED if result.status == SUCCEEDED else FAILED,
        "error": error,
        "cause": cause,
    }


def _child_failure(error: str | None, cause: str | None) -> tuple[str | None, str | None]:
    """The child execution's own error: a failed `.sync` task's cause is its description."""
    try:
        described = json.loads(cause or "")
    except ValueError:
        return error, cause
    if not isinstance(described, dict):
        return error, cause
    inner_error = described.get("Error", described.get("error"))
    inner_cause = described.get("Cause", described.get("cause"))
    status = described.get("Status", described.get("status"))
    if inner_error is None and status:
        inner_error = f"Execution{str(status).title().replace('_', '')}"  # e.g. ExecutionAborted
    return inner_error or error, inner_cause if inner_cause is not None else cause


#: The part of the report the FleetReport state returns (its output: small, whatever the
#: fleet's size); the children, skipped and errors are in the report object.
SUMMARY_KEYS = (
    "fleetExecutionId",
    "counts",
    "failurePercentage",
    "toleratedFailurePercentage",
    "withinTolerance",
    "summary",
)


def report_fleet(
    objects: FleetObjects,
    executions: FleetExecutions,
    bus: Publisher,
    account: str,
    region: str,
    fleet_execution_id: str,
    discovery_key: str,
    report_key: str,
    results: ResultWriterDetails,
    tolerated_failure_percentage: float,
) -> dict[str, Any]:
    """Build the fleet report, store it, and announce it ("Fleet Completed") on the hub's bus.

    Nothing is published for a fleet execution that does not exist, or whose files are
    missing or malformed. Returns the report's summary and where the whole report is.
    """
    _check_fleet_exists(executions, fleet_execution_id)
    discovery = read_discovery(objects, discovery_key)
    children = read_results(objects, results)
    skipped = [s.to_json_dict() for s in discovery.skipped]
    errors = [e.to_json_dict() for e in discovery.errors]
    report = fleet_report(
        children, skipped, errors, tolerated_failure_percentage, fleet_execution_id
    )
    objects.put_json(report_key, report)
    location = {"bucket": objects.bucket, "reportKey": report_key}
    failures = [c for c in report["children"] if c["status"] != SUCCEEDED]
    bus.publish(
        DetailType.FLEET_COMPLETED,
        {
            "fleetExecutionArn": fleet_execution_id,
            "account": account,
            "region": region,
            "time": utc_now(),
            "withinTolerance": report["withinTolerance"],
            "failurePercentage": report["failurePercentage"],
            "toleratedFailurePercentage": tolerated_failure_percentage,
            "counts": report["counts"],
            "summary": report["summary"],
            # Compact on purpose (an event is at most 256 KB): the first failures only,
            # the counts say how many there are and the report object lists them all.
            "failed": [
                {k: c[k] for k in ("migrationId", "accountId", "region", "error")}
                for c in failures[:MAX_EVENT_ENTRIES]
            ],
            "errors": [
                {k: e[k] for k in ("accountId", "region", "error")}
                for e in errors[:MAX_EVENT_ENTRIES]
            ],
            "report": location,
        },
    )
    return {**{k: report[k] for k in SUMMARY_KEYS}, **location}


def _check_fleet_exists(executions: FleetExecutions, fleet_execution_id: str) -> None:
    try:
        executions.describe(fleet_execution_id)
    except NotFoundError as exc:
        raise NotFoundError(
            f"No fleet execution {fleet_execution_id}: there is no fleet to report on, and "
            "no Fleet Completed was published.",
            "FleetReport runs as the fleet state machine's last state; pass the ARN of one "
            "of its executions (`ipsync-migrator status --fleet NAME` shows it).",
        ) from exc
