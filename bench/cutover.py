"""Benchmark start to cutover, in AWS seconds, beside the physical limit (issue 13, goal 4).

Run by `make bench` (through `bench.migration`), or `.venv/bin/python -m bench.cutover
--write-docs` to refresh its section of docs/benchmarks.md. Each case migrates the demo's
shop deployment on a fresh local runtime whose AWS clock runs `--time-factor` real seconds
per AWS second for target health and for the state machine's Wait states alike
(`local/clock.py`), with the production poll of 15 s and healthyChecksRequired 1. Times come
from the execution history: from the execution's start to the end of the Cutover task (the
listener changed), and to the HealthGate that passed. The physical limit is what AWS needs:
registration + healthy threshold x interval (30 s for an `alb` group) + one poll.
The clock runs at the real rate while a handler runs (Lambda takes its own time on AWS
too), so a handler's time counts as it took; the rest of the emulator's own work (its ASL
interpreter between and around the handlers) counts divided by the factor, so it weighs
more than on AWS. The history's timestamps are read on that clock (`AwsClock.at`): AWS
seconds as target health saw them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ipsync_migrator.discovery import discover
from ipsync_migrator.local.health import ALB_INTERVAL_SECONDS, REGISTRATION_SECONDS
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import MigrationOptions, Strategy
from ipsync_migrator.operations import Service
from ipsync_migrator.steps.create_target_group import FAST_GATE_THRESHOLD

SECTION = "## Start to cutover"
#: Issue 13, goal 4: start to cutover within 10 % of the physical limit.
WITHIN = 0.10
DEFAULT_TIME_FACTOR = 0.05
OPTIONS = MigrationOptions(health_timeout_seconds=3600, bake_seconds=0, drain_seconds=0)


@dataclass(frozen=True)
class Case:
    name: str
    options: MigrationOptions


CASES = [
    Case("probe", OPTIONS),
    Case("probe, --fast-gate", OPTIONS.model_copy(update={"fast_health_gate": True})),
    Case("weighted", OPTIONS.model_copy(update={"strategy": Strategy.WEIGHTED})),
    Case("swap-and-watch", OPTIONS.model_copy(update={"strategy": Strategy.SWAP_AND_WATCH})),
]


@dataclass
class Run:
    case: Case
    threshold: int
    status: str
    to_cutover: float  # AWS seconds
    to_health: float  # AWS seconds: the health gate passed
    orchestration: float  # seconds in Task states before cutover (handlers: real = AWS)
    polls: int

    @property
    def limit(self) -> float:
        interval = ALB_INTERVAL_SECONDS
        return REGISTRATION_SECONDS + self.threshold * interval + self.case.options.poll_seconds

    @property
    def floor(self) -> float:
        """The earliest AWS can report the new group healthy: registration + threshold x
        interval (the checks begin when the group is attached, after the start)."""
        return REGISTRATION_SECONDS + self.threshold * ALB_INTERVAL_SECONDS

    @property
    def gated(self) -> float:
        """When production moved with its health proven: cutover, or swap-and-watch's proof."""
        return max(self.to_cutover, self.to_health)


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def _name(event: dict[str, Any]) -> str | None:
    details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
    return details["name"] if details else None


def migrate_once(case: Case, time_factor: float) -> Run:
    with LocalRuntime(port=0, seed="demo", time_factor=time_factor, scale_waits=True) as rt:
        assert rt.demo is not None
        clients = rt.clients()
        deployment = next(
            d for d in discover(clients).deployments if d.target_group_arn == rt.demo.shop_tg
        )
        assert deployment.proposed_target_group is not None
        threshold = deployment.proposed_target_group.health_check.healthy_threshold
        if case.options.fast_health_gate:
            threshold = min(threshold, FAST_GATE_THRESHOLD)
        service = Service.connect(clients, rt.stack_name)
        started = service.start(deployment, case.options)
        deadline = time.monotonic() + 600
        while not (progress := service.progress(started))["done"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{case.name}: no end in 600 s")
            time.sleep(0.2)
        events = _history(clients.client("stepfunctions"), started.execution_arn)
    # AWS seconds as the emulator's health saw them: its clock runs at the real rate while
    # a handler runs, 1 / time_factor faster otherwise (local/clock.py).
    tasks: list[tuple[datetime, datetime]] = []
    entered: dict[str, datetime] = {}
    for event in events:
        if event["type"] == "TaskStateEntered":
            entered[str(_name(event))] = event["timestamp"]
        elif event["type"] == "TaskStateExited" and _name(event) in entered:
            tasks.append((entered.pop(str(_name(event))), event["timestamp"]))
    start = rt.clock.at(events[0]["timestamp"].timestamp())

    def aws_seconds(moment: datetime) -> float:
        return rt.clock.at(moment.timestamp()) - start

    cut = next(e for e in events if e["type"] == "TaskStateExited" and _name(e) == "Cutover")
    gate = next(
        e for e in reversed(events) if e["type"] == "ChoiceStateExited" and _name(e) == "HealthGate"
    )
    orchestration = sum(
        (min(end, cut["timestamp"]) - begin).total_seconds()
        for begin, end in tasks
        if begin < cut["timestamp"]
    )
    return Run(
        case,
        threshold,
        progress["status"],
        aws_seconds(cut["timestamp"]),
        aws_seconds(gate["timestamp"]),
        orchestration,
        sum(
            1
            for e in events
            if e["type"] == "TaskStateEntered"
            and _name(e) == "CheckHealth"
            and e["timestamp"] <= gate["timestamp"]
        ),
    )


def measure(time_factor: float = DEFAULT_TIME_FACTOR, runs: int = 1) -> list[str]:
    results = {case.name: [migrate_once(case, time_factor) for _ in range(runs)] for case in CASES}
    lines = [
        SECTION,
        "",
        "Reproduce with `.venv/bin/python -m bench.cutover` (also in `make bench`).",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d}",
        f"- The demo's shop deployment migrated on a fresh local runtime per run, {runs} "
        f"run(s) per strategy (medians), 1 AWS second = {time_factor * 1000:g} ms for target "
        "health and Wait states alike; the production poll (15 s), healthyChecksRequired 1, "
        "no bake, no drain. AWS seconds: the emulator's clock read at the execution history's "
        "timestamps (what target health saw then). *Limit*: registration "
        f'({REGISTRATION_SECONDS:g} s in the emulator; AWS says only "a few minutes") + '
        f"healthy threshold x {ALB_INTERVAL_SECONDS} s + one poll; under it by up to one poll "
        "is the poll's phase, while nothing can be proven before registration + threshold x "
        "interval (the *floor*, checked for every run). *Proven*: production "
        "moved and the new group's health proven (swap-and-watch proves it after cutover). "
        "*Orchestration*: the Task states before cutover (the handlers' time, which the "
        "emulator's clock counts at the real rate, as Lambda's own time is on AWS).",
        "",
        "| strategy | threshold | limit (AWS s) | start to cutover (AWS s) | proven (AWS s) | "
        "over the limit | orchestration (s) | polls | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    verdicts = []
    floors = []
    for name, done in results.items():
        first = done[0]
        cut = statistics.median(r.to_cutover for r in done)
        proven = statistics.median(r.gated for r in done)
        orchestration = statistics.median(r.orchestration for r in done)
        over = proven / first.limit - 1
        verdicts.append(over <= WITHIN)
        floors += [r.gated >= r.floor for r in done]
        lines.append(
            f"| {name} | {first.threshold} | {first.limit:.0f} | {cut:.0f} | {proven:.0f} | "
            f"{over:+.1%} | {orchestration:.1f} | {first.polls} | {first.status} |"
        )
    lines += [
        "",
        f"- Goal: start to proven cutover within {WITHIN:.0%} of the limit: "
        f"{'met' if all(verdicts) else 'NOT met'} for {sum(verdicts)} of {len(verdicts)} "
        "strategies.",
        f"- Floor: {sum(floors)} of {len(floors)} runs proved health no earlier than AWS could"
        + ("." if all(floors) else " (the others: the emulator's clock is wrong)."),
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    parser.add_argument(
        "--time-factor",
        type=float,
        default=DEFAULT_TIME_FACTOR,
        help="real seconds per AWS second (smaller runs faster; the emulator's own time then "
        "weighs more in AWS seconds)",
    )
    parser.add_argument("--runs", type=int, default=1, help="runs per strategy (medians)")
    args = parser.parse_args()
    lines = measure(args.time_factor, args.runs)
    print("\n".join(lines))
    if args.write_docs:
        from bench.migration import write_docs

        write_docs(lines, SECTION)


if __name__ == "__main__":
    main()
