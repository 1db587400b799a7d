"""Benchmark a fleet on the local runtime: parallel discovery, the Map, the per-account cap.

Run with `make bench` (a small fleet), or `.venv/bin/python -m bench.fleet --deployments 1000
--write-docs` for issue 13's full size (20 accounts x 2 regions, 1,000 deployments) and its
section of docs/benchmarks.md. For each MaxConcurrency a fresh local runtime (the deployed
template on moto, handlers in-process) is seeded with the bulk estate (local/bulk_estate.py:
every deployment migratable), one migration is timed alone, then the fleet state machine
migrates them all (1 s polls, no bake, no drain). Reported: the fleet's wall time against
(N / concurrency) x one migration, the largest input or output in the fleet execution's
history (Step Functions' limit is 256 KiB), the ELB calls per second per account (from the
client observer of every ClientFactory a handler builds), and the most child migrations seen
running at once in one account and region (the cap).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.sections import replace_section
from ipsync_migrator import clients as clients_module
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.fleet import MAX_MIGRATIONS_PER_ACCOUNT_REGION
from ipsync_migrator.local.bulk_estate import seed_bulk
from ipsync_migrator.local.lambda_bridge import current_function
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime

SECTION = "## Fleets at scale (issue 13, goal 6)"
HUB_ACCOUNT = "123456789012"
MEMBER_ROLE = "ipsync-migrator-member"
REGIONS = ("us-east-1", "eu-west-1")
OPTIONS = {
    "pollSeconds": 1,
    "healthTimeoutSeconds": 120,
    "bakeSeconds": 0,
    "drainSeconds": 0,
    "healthyChecksRequired": 2,
}
#: The account a migration is timed alone in, outside the fleet's.
SOLO_ACCOUNT = "799999999999"
PAYLOAD_LIMIT = 256 * 1024


@dataclass
class ElbCalls:
    """ELB calls handlers made, by account, with when (the ClientFactory's observer)."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, target: AwsTarget, service: str) -> None:
        if service != "elbv2" or current_function() is None:
            return
        role = target.role_arn or ""
        account = role.split(":")[4] if role.count(":") >= 5 else HUB_ACCOUNT
        with self._lock:
            self.times[account].append(time.monotonic())

    def clear(self) -> None:
        with self._lock:
            self.times.clear()

    def per_second(self, seconds: float) -> tuple[float, int]:
        """The median account's average calls per second, and the busiest 1-s window's."""
        with self._lock:
            rates = [len(t) / seconds for t in self.times.values()]
            peaks = [max(Counter(int(x) for x in t).values()) for t in self.times.values() if t]
        return (statistics.median(rates) if rates else 0.0), max(peaks, default=0)


@contextmanager
def observing(calls: ElbCalls) -> Iterator[None]:
    """Every ClientFactory built meanwhile without an observer reports to `calls`."""
    factory = clients_module.ClientFactory
    original = factory.__init__

    def init(self: Any, target: Any = None, observer: Any = None) -> None:
        original(self, target, observer)
        if observer is None:
            bound = self.target
            self._observer = lambda service, operation: calls.record(bound, service)

    factory.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        factory.__init__ = original  # type: ignore[method-assign]


@dataclass
class Run:
    concurrency: int
    deployments: int
    status: str
    seconds: float
    #: A migration alone, seconds (None when the children are refused: nothing to compare).
    one_migration: float | None
    child_median: float
    peak_payload: tuple[str, int]
    elb_average: float
    elb_peak: int
    peak_per_account_region: int
    discovery_seconds: float
    children_mode: str

    @property
    def expected(self) -> float | None:
        if self.one_migration is None:
            return None
        return math.ceil(self.deployments / self.concurrency) * self.one_migration


def progress(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def member(rt: LocalRuntime, account: str, region: str) -> ClientFactory:
    role = f"arn:aws:iam::{account}:role/{MEMBER_ROLE}"
    return ClientFactory(AwsTarget(region=region, endpoint_url=rt.endpoint, role_arn=role))


def accounts(count: int) -> list[str]:
    return [f"7000000000{a:02d}" for a in range(1, count + 1)]


def seed(rt: LocalRuntime, deployments: int, account_count: int) -> None:
    targets = [(a, r) for a in accounts(account_count) for r in REGIONS]
    for index, (account, region) in enumerate(targets):
        share = deployments // len(targets) + (index < deployments % len(targets))
        if share:
            seed_bulk(member(rt, account, region), account, share, migratable_albs=True)


def run_fleet(rt: LocalRuntime, name: str, spec: dict[str, Any], deadline: float) -> dict[str, Any]:
    sfn = rt.clients().client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=rt.outputs["FleetStateMachineArn"], name=name, input=json.dumps(spec)
    )["executionArn"]
    limit = time.monotonic() + deadline
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > limit:
            raise TimeoutError(f"fleet {name} still running after {deadline:.0f} s")
        time.sleep(1)
    return dict(described)


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def peak_payload(events: list[dict[str, Any]]) -> tuple[str, int]:
    """The largest input, output, parameters or cause in the history, and its size."""
    sizes = [
        (f"{event['type']}.{name}", len(value.encode()))
        for event in events
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
        for name, value in details.items()
        if isinstance(value, str)
    ]
    return max(sizes, key=lambda s: s[1])


def children(rt: LocalRuntime) -> list[dict[str, Any]]:
    """Every migration execution: its target and when it ran."""
    sfn = rt.clients().client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=rt.outputs["StateMachineArn"]
    )
    found = []
    for page in pages:
        for listed in page["executions"]:
            execution = sfn.describe_execution(executionArn=listed["executionArn"])
            target = json.loads(execution["input"]).get("target") or {}
            found.append(
                {
                    "where": (target.get("accountId"), target.get("region")),
                    "start": execution["startDate"],
                    "stop": execution.get("stopDate") or execution["startDate"],
                    "status": execution["status"],
                }
            )
    return found


def most_at_once(runs: list[dict[str, Any]]) -> int:
    """The most child executions running at the same time in one account and region."""
    peak = 0
    by_where: dict[Any, list[tuple[datetime, int]]] = defaultdict(list)
    for child in runs:
        by_where[child["where"]] += [(child["start"], 1), (child["stop"], -1)]
    for edges in by_where.values():
        running = 0
        for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
            running += step
            peak = max(peak, running)
    return peak


def state_seconds(events: list[dict[str, Any]], name: str) -> float:
    entered = [
        e["timestamp"] for e in events if e.get("stateEnteredEventDetails", {}).get("name") == name
    ]
    exited = [
        e["timestamp"] for e in events if e.get("stateExitedEventDetails", {}).get("name") == name
    ]
    return (exited[-1] - entered[0]).total_seconds() if entered and exited else 0.0


def measure(
    concurrency: int, deployments: int, account_count: int, full: bool, calls: ElbCalls
) -> Run:
    with LocalRuntime(port=0) as rt:
        progress(f"seeding {deployments} deployments")
        seed(rt, deployments, account_count)
        seed_bulk(member(rt, SOLO_ACCOUNT, REGIONS[0]), SOLO_ACCOUNT, 1, migratable_albs=True)
        if not full:
            # Every child refused at its start: the orchestration alone (discovery, the Maps,
            # the slots, the results, the report), no migration.
            rt.realism.add_fault(
                FaultRule(
                    "stepfunctions",
                    "StartExecution",
                    error_code="AccessDenied",
                    message="refused by the benchmark: orchestration only",
                    match={"stateMachineArn": rt.outputs["StateMachineArn"]},
                    times=None,
                )
            )
        base = {"slotWaitSeconds": 1, "toleratedFailurePercentage": 100, "options": OPTIONS}
        one_migration = None
        if full:
            progress("one migration alone")
            run_fleet(
                rt,
                "bench-one",
                {**base, "targets": [{"accountId": SOLO_ACCOUNT, "regions": [REGIONS[0]]}]},
                600,
            )
            [solo] = children(rt)
            one_migration = (solo["stop"] - solo["start"]).total_seconds()
        calls.clear()
        spec = {
            **base,
            "targets": [
                {"accountId": a, "regions": list(REGIONS)} for a in accounts(account_count)
            ],
            "maxConcurrency": concurrency,
        }
        progress(f"the fleet: {deployments} deployments at MaxConcurrency {concurrency}")
        started = time.monotonic()
        done = run_fleet(rt, f"bench-fleet-{concurrency}", spec, 6 * 3600)
        progress(f"done in {time.monotonic() - started:.0f} s: {done['status']}")
        seconds = time.monotonic() - started
        sfn = rt.clients().client("stepfunctions")
        events = history(sfn, done["executionArn"])
        fleet_children = [c for c in children(rt) if c["where"][0] != SOLO_ACCOUNT]
        durations = [(c["stop"] - c["start"]).total_seconds() for c in fleet_children]
        average, peak = calls.per_second(seconds)
        return Run(
            concurrency=concurrency,
            deployments=deployments,
            status=done["status"],
            seconds=seconds,
            one_migration=one_migration,
            child_median=statistics.median(durations) if durations else 0.0,
            peak_payload=peak_payload(events),
            elb_average=average,
            elb_peak=peak,
            peak_per_account_region=most_at_once(fleet_children),
            discovery_seconds=state_seconds(events, "DiscoverTargets"),
            children_mode="full migrations" if full else "children refused",
        )


def report(runs: list[Run], account_count: int) -> list[str]:
    lines = [
        SECTION,
        "",
        "Reproduce with `.venv/bin/python -m bench.fleet` (a small fleet, in `make bench`), or "
        "`.venv/bin/python -m bench.fleet --deployments 1000 --write-docs` (issue 13's size).",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d}",
        f"- {account_count} member accounts x {len(REGIONS)} regions, the bulk estate "
        "(local/bulk_estate.py: each deployment an IP group behind its own NLB listener, its "
        "own legacy function, an ALB per two deployments); a fresh local runtime per run. "
        "One migration is a fleet of one deployment alone, timed from its child execution. "
        f"1 s polls, 2 healthy checks, no bake or drain; the cap at its default "
        f"({MAX_MIGRATIONS_PER_ACCOUNT_REGION} per account and region), slots looked for "
        "again every second. *Children refused*: every child's StartExecution is refused, so "
        "the run is the orchestration alone (discovery Map, gathering, migration Map with its "
        "slots, results, report).",
        "- The emulator runs handlers one at a time (local/lambda_bridge.py: the process "
        "environment is shared), so a migration's Lambda steps never overlap another's here: "
        "concurrency overlaps only the waits. On AWS each invocation has its own sandbox.",
        "",
        "| children | deployments | MaxConcurrency | status | wall (s) | one migration (s) | "
        "(N / concurrency) x one (s) | wall / that | median child (s) | discovery Map (s) | "
        "peak state payload | ELB calls/s per account: median, busiest second | "
        "most at once in one account-region |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in runs:
        where, size = r.peak_payload
        one = f"{r.one_migration:.1f}" if r.one_migration is not None else "n/a"
        expected = f"{r.expected:.0f}" if r.expected is not None else "n/a"
        ratio = f"{r.seconds / r.expected:.2f}" if r.expected else "n/a"
        lines.append(
            f"| {r.children_mode} | {r.deployments} | {r.concurrency} | {r.status} | "
            f"{r.seconds:.0f} | {one} | {expected} | {ratio} | {r.child_median:.1f} | "
            f"{r.discovery_seconds:.1f} | "
            f"{size:,} B ({100 * size / PAYLOAD_LIMIT:.1f} % of 256 KiB; {where}) | "
            f"{r.elb_average:.2f}, {r.elb_peak} | {r.peak_per_account_region} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deployments", type=int, default=80, help="fleet size (issue: 1000)")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50])
    parser.add_argument(
        "--children-refused",
        action="store_true",
        help="refuse every child's start: the orchestration alone, no migration",
    )
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    args = parser.parse_args()
    calls = ElbCalls()
    runs = []
    with observing(calls):
        for concurrency in args.concurrency:
            runs.append(
                measure(
                    concurrency, args.deployments, args.accounts, not args.children_refused, calls
                )
            )
            print(report(runs[-1:], args.accounts)[-1], flush=True)
    lines = report(runs, args.accounts)
    print("\n".join(lines))
    if args.write_docs:
        replace_section(SECTION, lines)


if __name__ == "__main__":
    main()
