"""Live progress of running migrations (rich), polling their executions and journal."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ipsync_migrator.operations import Service, Started


def follow(
    service: Service, started: list[Started], console: Console, poll_seconds: float = 1.0
) -> list[dict[str, Any]]:
    """Poll until every execution ended; returns each one's final progress."""
    latest = {s.migration_id: service.progress(s) for s in started}
    if not console.is_terminal:  # a log or a pipe: no animation, just the outcome
        while not all(p["done"] for p in latest.values()):
            time.sleep(poll_seconds)
            latest = {s.migration_id: service.progress(s) for s in started}
        console.print(_table(latest))
        return list(latest.values())
    with Live(_table(latest), console=console, refresh_per_second=4, transient=False) as live:
        while not all(p["done"] for p in latest.values()):
            time.sleep(poll_seconds)
            latest = {s.migration_id: service.progress(s) for s in started}
            live.update(_table(latest))
    return list(latest.values())


def _table(progress: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Migrations", title_justify="left")
    table.add_column("Id", overflow="fold", max_width=26)
    table.add_column("Execution")
    table.add_column("State")
    table.add_column("Step")
    table.add_column("Error", overflow="fold", max_width=30)
    for mid, item in progress.items():
        table.add_row(mid, item["status"], item["state"], item["step"], item["error"] or "")
    return table
