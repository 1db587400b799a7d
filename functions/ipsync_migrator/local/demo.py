"""`make demo`: the whole story on the embedded emulator, no AWS account needed."""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule

from ipsync_migrator.discovery import discover
from ipsync_migrator.local.demo_estate import seed_demo
from ipsync_migrator.local.emulator import embedded_aws
from ipsync_migrator.models import Verdict
from ipsync_migrator.planning import plan_migration
from ipsync_migrator.render import discovery_table, plan_view


def run_demo(console: Console) -> None:
    """Seed the demo estate, discover it, and plan every migratable deployment."""
    with embedded_aws() as clients:
        console.print(Rule("1. Seeding the embedded emulator with a demo estate"))
        seed_demo(clients)
        console.print(Rule("2. Discovery (read-only)"))
        report = discover(clients)
        console.print(discovery_table(report))
        console.print(Rule("3. Plans (the dry-run: nothing is written)"))
        for deployment in report.deployments:
            if deployment.verdict == Verdict.MIGRATABLE:
                console.print(plan_view(plan_migration(deployment)))
