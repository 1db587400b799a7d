"""Benchmark one migration's orchestration: states entered and AWS calls (issue 13, goal 5).

Run with `make bench`, or `.venv/bin/python -m bench.migration --write-docs` to refresh its
section of docs/benchmarks.md. Each demo deployment is migrated in turn on the local runtime
(the deployed template on moto, handlers run in-process) with 1 s polls, no bake and no
drain. States are counted from the execution's history; AWS calls from the client observer
of every ClientFactory a handler builds (one per request botocore sends, retries included),
attributed to the invocation that made them. Poll iterations are left out the way the goal
counts them: a state entered again by its poll loop counts once, and a function invoked
again by it counts its first invocation's calls.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ipsync_migrator import clients as clients_module
from ipsync_migrator.discovery import discover
from ipsync_migrator.local.lambda_bridge import RunningFunction, current_function
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import MigrationOptions
from ipsync_migrator.operations import Service

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## One migration's orchestration"
#: Issue 13, goal 5: per migration, poll iterations left out.
MAX_STATES, MAX_CALLS = 25, 60
FAST = MigrationOptions(
    poll_seconds=1, health_timeout_seconds=60, bake_seconds=0, drain_seconds=0
).model_copy(update={"healthy_checks_required": 2})


@dataclass
class Call:
    invocation: int  # which invocation of `function` made it (its order in the run)
    function: str
    operation: str


@dataclass
class Observer:
    """The AWS calls handlers make, per invocation (the bridge's RunningFunction per call)."""

    calls: list[Call] = field(default_factory=list)
    _invocations: list[RunningFunction] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, service: str, operation: str) -> None:
        running = current_function()
        if running is None:  # the benchmark's own calls, not a handler's
            return
        with self._lock:
            if not any(r is running for r in self._invocations):
                self._invocations.append(running)
            index = next(i for i, r in enumerate(self._invocations) if r is running)
            self.calls.append(Call(index, running.name, f"{service}:{operation}"))

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self._invocations.clear()


@contextmanager
def observed(recorder: Observer) -> Iterator[None]:
    """Every ClientFactory built meanwhile without an observer gets `recorder`."""
    factory = clients_module.ClientFactory
    original = factory.__init__

    def init(self: Any, target: Any = None, observer: Any = None) -> None:
        original(self, target, observer or recorder)

    factory.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        factory.__init__ = original  # type: ignore[method-assign]


@dataclass
class Migration:
    name: str
    status: str
    seconds: float
    history_events: int
    entered: list[str]
    tasks: set[str]
    calls: list[Call]

    @property
    def states(self) -> int:
        return len(self.entered)

    @property
    def states_without_polls(self) -> int:
        return len(set(self.entered))

    @property
    def lambda_tasks(self) -> int:
        """Lambda task states entered, each poll loop's once."""
        return len(self.tasks)

    def calls_without_polls(self) -> list[Call]:
        first: dict[str, int] = {}
        for call in self.calls:
            first.setdefault(call.function, call.invocation)
        return [c for c in self.calls if c.invocation == first[c.function]]


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def migrate_each(runtime: LocalRuntime, observer: Observer) -> list[Migration]:
    clients = runtime.clients()
    service = Service.connect(clients, runtime.stack_name)
    sfn = clients.client("stepfunctions")
    resources = clients.client("cloudformation").describe_stack_resources(
        StackName=runtime.stack_name
    )["StackResources"]
    names = {
        r["PhysicalResourceId"]: r["LogicalResourceId"]
        for r in resources
        if r.get("ResourceType") == "AWS::Lambda::Function"
    }
    migratable = [d for d in discover(clients).deployments if d.verdict.value == "migratable"]
    migrations = []
    for deployment in migratable:
        observer.clear()
        started_at = time.monotonic()
        started = service.start(deployment, FAST)
        deadline = started_at + 300
        while not (progress := service.progress(started))["done"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{deployment.id} did not finish in 300 s")
            time.sleep(0.2)
        seconds = time.monotonic() - started_at
        events = history(sfn, started.execution_arn)
        entered = [
            e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("Entered")
        ]
        tasks = {
            e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"
        }
        migrations.append(
            Migration(
                deployment.id,
                progress["status"],
                seconds,
                len(events),
                entered,
                tasks,
                [replace(c, function=names.get(c.function, c.function)) for c in observer.calls],
            )
        )
    return migrations


def measure() -> list[str]:
    observer = Observer()
    with observed(observer), LocalRuntime(port=0, seed="demo") as runtime:
        migrations = migrate_each(runtime, observer)
    lines = [
        SECTION,
        "",
        "Reproduce with `.venv/bin/python -m bench.migration` (also in `make bench`).",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d}",
        "- Each demo deployment migrated once on the local runtime: 1 s polls, 2 healthy checks, "
        "no bake, no drain, the default strategy. States from the execution history; AWS calls "
        "of the handlers from the client observer. *Without polls*: a state its poll loop "
        "enters again counts once, a function its poll loop invokes again counts its first "
        "invocation's calls.",
        "",
        "| migration | status | s | history events | states entered | without polls | "
        "Lambda tasks | AWS calls | without polls |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in migrations:
        lines.append(
            f"| {m.name} | {m.status} | {m.seconds:.1f} | {m.history_events} | {m.states} | "
            f"{m.states_without_polls} | {m.lambda_tasks} | {len(m.calls)} | "
            f"{len(m.calls_without_polls())} |"
        )
    states = statistics.median(m.states_without_polls for m in migrations)
    calls = statistics.median(len(m.calls_without_polls()) for m in migrations)
    lines += [
        "",
        f"- Median without polls: **{states:g} states** (goal at most {MAX_STATES}: "
        f"{'met' if states <= MAX_STATES else 'NOT met'}), **{calls:g} AWS calls** (goal at "
        f"most {MAX_CALLS}: {'met' if calls <= MAX_CALLS else 'NOT met'}).",
        "",
        f"AWS calls without polls of {migrations[0].name}, by state's function and operation:",
        "",
        "| function | operation | calls |",
        "|---|---|---:|",
    ]
    first = migrations[0]
    counted = Counter((c.function, c.operation) for c in first.calls_without_polls())
    for (function, operation), count in sorted(counted.items()):
        lines.append(f"| {function} | {operation} | {count} |")
    entered = Counter(first.entered)
    lines += [
        "",
        f"States {first.name} entered (x: times, poll loops included): "
        + ", ".join(f"{name}" + (f" x{n}" if n > 1 else "") for name, n in entered.items()),
    ]
    return lines


def write_docs(lines: list[str], section: str = SECTION) -> None:
    """Replace `section` of docs/benchmarks.md with `lines` (or append it)."""
    text = DOCS.read_text()
    start = text.find(section)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    else:
        end = text.find("\n## ", start + len(section))
        rest = text[end:] if end != -1 else "\n"
        text = text[:start] + "\n".join(lines) + "\n" + rest
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    args = parser.parse_args()
    lines = measure()
    print("\n".join(lines))
    if args.write_docs:
        write_docs(lines)
    # Goal 4 beside goal 5: start to cutover in AWS seconds (bench/cutover.py).
    from bench import cutover

    timed = cutover.measure()
    print("\n".join(timed))
    if args.write_docs:
        write_docs(timed, cutover.SECTION)


if __name__ == "__main__":
    main()
