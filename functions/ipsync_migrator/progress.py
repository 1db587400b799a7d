"""Live progress of running migrations (rich), polling their executions and journal."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ipsync_migrator.errors import InvalidInputError
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


_AGE = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (UTC if no offset), or an age such as `30m` meaning that long ago."""
    match = _AGE.match(value.strip())
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(
            f"'{value}' is not a time.",
            "Use ISO 8601 (2026-11-21T10:00:00Z) or an age: 30m, 2h, 1d.",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def follow_replay(
    service: Service, name: str, expected: set[str], timeout: float = 300
) -> dict[str, str]:
    """Wait for the replay to finish and each `expected` migration to report an outcome."""
    deadline = time.monotonic() + timeout
    while service.replay_state(name) not in ("COMPLETED", "FAILED", "CANCELLED"):
        if time.monotonic() > deadline:
            raise InvalidInputError(f"Replay {name} did not finish in {timeout:.0f} s.")
        time.sleep(1)
    # EventBridge invokes the rollback function asynchronously: wait for every migration
    # whose events the window holds (a migration may be reached by several events).
    outcomes = service.replay_outcomes(name)
    while not expected <= outcomes.keys() and time.monotonic() < deadline:
        time.sleep(0.5)
        outcomes = service.replay_outcomes(name)
    return outcomes
