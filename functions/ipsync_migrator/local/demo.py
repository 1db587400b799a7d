"""`make demo`: the whole story on the local runtime, no AWS account needed.

Deploy the project's own template into the emulator, seed a demo estate, discover it,
migrate every migratable deployment through the real state machine, roll one back,
finalize one, and print a report: verdict, outcome, time taken and AWS calls made, and the
notifications a team subscribed to the stack's topic received.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.local.inbox import NotificationInbox
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, MigrationOptions, Verdict
from ipsync_migrator.operations import Service
from ipsync_migrator.planning import plan_migration
from ipsync_migrator.progress import follow
from ipsync_migrator.render import discovery_table, plan_view
from ipsync_migrator.reporting import build_report

#: Production timings, shrunk so the demo runs in seconds (the state machine reads them);
#: target health follows the runtime's AWS clock (1 AWS second = 10 ms, local/clock.py).
DEMO_OPTIONS = MigrationOptions(
    poll_seconds=1, health_timeout_seconds=60, bake_seconds=1, drain_seconds=0
)


@dataclass
class Outcome:
    deployment: Deployment
    state: str = "not started"
    seconds: float | None = None
    calls: int = 0
    note: str = ""


def run_demo(console: Console) -> None:
    """Run the demo; raises if any migration does not end as the story says it should."""
    cli_calls: Counter[tuple[str, str]] = Counter()
    with LocalRuntime(port=0, seed="demo", notifications=True) as runtime:
        console.print(Rule("1. Local AWS: the project's template deployed into the emulator"))
        console.print(
            f"endpoint {runtime.endpoint}, stack deployed in {runtime.deploy_seconds:.1f} s"
        )
        clients = ClientFactory(
            runtime.clients().target, observer=lambda s, op: cli_calls.update([(s, op)])
        )
        console.print(Rule("2. Discovery (read-only)"))
        report = discover(clients)
        console.print(discovery_table(report))
        service = Service.connect(clients, runtime.stack_name)
        outcomes = {d.id: Outcome(d) for d in report.deployments}
        assert runtime.notification_topic_arn is not None
        inbox = NotificationInbox(runtime.clients(), runtime.notification_topic_arn)

        console.print(Rule("3. Migrations, one execution each, through the real state machine"))
        migratable = [d for d in report.deployments if d.verdict == Verdict.MIGRATABLE]
        console.print(plan_view(plan_migration(migratable[0])))
        for deployment in migratable:
            before = sum(runtime.realism.calls.values()) - sum(cli_calls.values())
            started_at = time.monotonic()
            started = service.start(deployment, DEMO_OPTIONS)
            [result] = follow(service, [started], console, poll_seconds=0.2)
            outcome = outcomes[deployment.id]
            outcome.seconds = time.monotonic() - started_at
            outcome.calls = sum(runtime.realism.calls.values()) - sum(cli_calls.values()) - before
            outcome.state = result["state"]
            if result["status"] != "SUCCEEDED":
                raise RuntimeError(f"{deployment.id} ended {result['status']}: {result['cause']}")

        console.print(Rule("4. Roll one back, finalize another"))
        rolled, finalized = migratable[0], migratable[1]
        console.print(f"rollback {rolled.id}: {service.rollback(rolled.id)['state']}")
        deleted = service.finalize(finalized.id)["deleted"]
        console.print(f"finalize {finalized.id}: deleted {', '.join(deleted)}")
        for record in service.records():
            outcomes[record.migration_id].state = record.state.value

        console.print(Rule("5. Report"))
        console.print(_outcome_table(outcomes))
        summary = build_report(discover(clients), service.records())
        console.print(
            f"Legacy invocations retired: {summary.invocations_retired_per_month:,} per month; "
            f"{len(migratable)} migrated, 1 rolled back, 1 finalized."
        )
        console.print(Rule("6. Notifications the team received (SNS topic)"))
        runtime.events.wait()
        messages = inbox.receive()
        kinds = Counter(m.split(":", 1)[0] for m in messages)
        console.print(", ".join(f"{count} {kind}" for kind, count in kinds.items()))
        if messages:
            console.print(messages[-1], markup=False, highlight=False)


def _outcome_table(outcomes: dict[str, Outcome]) -> Table:
    table = Table(title="Demo outcome", title_justify="left")
    table.add_column("Deployment", overflow="fold", max_width=26)
    table.add_column("Verdict")
    table.add_column("Outcome")
    table.add_column("Time", justify="right")
    table.add_column("AWS calls", justify="right")
    for outcome in outcomes.values():
        deployment = outcome.deployment
        reason = ", ".join(f.code.value for f in deployment.blockers)
        table.add_row(
            deployment.id,
            deployment.verdict.value,
            outcome.state if not reason else f"skipped: {reason}",
            f"{outcome.seconds:.1f} s" if outcome.seconds is not None else "",
            str(outcome.calls) if outcome.calls else "",
        )
    return table
