"""Following running migrations: their phase and time left, live on a terminal, one line per
change in a log; and the time windows of replays."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from ipsync_migrator.errors import InvalidInputError
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import MigrationOptions
from ipsync_migrator.operations import Service, Started
from ipsync_migrator.render import STATE_STYLE, Column, SafeTable, failure_lines, plain
from ipsync_migrator.steps.context import BAKE_PASSED

#: Without a terminal, a line at least this often while nothing changes: CI jobs stop steps
#: that stay silent (GitLab and GitHub Actions after minutes of no output).
HEARTBEAT_SECONDS = 60.0


class WaitTimedOut(Exception):
    """`--timeout` passed before every execution ended (they go on)."""


@dataclass(frozen=True)
class Phase:
    """Where a running migration is: `name` and detail, and seconds left (None: unknown)."""

    name: str
    detail: str = ""
    seconds_left: float | None = None
    #: Seconds until the execution ends, when every remaining phase has a known length.
    eta_seconds: float | None = None

    def text(self) -> str:
        left = f", {duration(self.seconds_left)} left" if self.seconds_left is not None else ""
        eta = f"; ends in ~{duration(self.eta_seconds)}" if self.eta_seconds is not None else ""
        detail = f" {self.detail}" if self.detail else ""
        return f"{self.name}{detail}{left}{eta}"


def phase(record: MigrationRecord | None, now: datetime | None = None) -> Phase:
    """The phase of a running migration from its journal record (and its options)."""
    now = now or datetime.now(UTC)
    if record is None:
        return Phase("starting")
    options = MigrationOptions.model_validate(record.options or {})
    retention = options.finalize_after_seconds or 0
    if record.approval and record.approval.get("taskToken"):
        gate = record.approval.get("gate", "")
        return Phase(
            "waiting for approval",
            f"before {gate}: `ipsync-migrator approve {record.migration_id}`",
        )
    stamps = record.timestamps
    if record.state == MigrationState.IN_PROGRESS:
        health = record.health or {}
        after = options.bake_seconds + options.drain_seconds + retention
        if "startedAt" not in health:
            return Phase("preparing", f"({record.current_step or 'preflight'})")
        left = options.health_timeout_seconds - _since(health["startedAt"], now)
        streak = health.get("consecutiveHealthy", 0)
        return Phase(
            "probe health",
            f"{streak}/{options.healthy_checks_required} healthy checks "
            f"(last: {health.get('lastState', '-')})",
            max(left, 0.0),
            None if left > 0 else float(after),
        )
    if record.state == MigrationState.CUT_OVER:
        if BAKE_PASSED not in stamps:
            left = max(options.bake_seconds - _since(stamps.get("cutOver"), now), 0.0)
            return Phase("bake", "", left, left + options.drain_seconds + retention)
        left = max(options.drain_seconds - _since(stamps[BAKE_PASSED], now), 0.0)
        return Phase("drain", "(the old group serves open connections)", left, left + retention)
    if record.state == MigrationState.RETIRED and options.finalize_after_seconds is not None:
        left = max(retention - _since(record.updated_at, now), 0.0)
        return Phase("retention", "until finalize", left, left)
    return Phase(record.state.value)


def _since(at: str | None, now: datetime) -> float:
    if not at:
        return 0.0
    return (now - datetime.fromisoformat(at)).total_seconds()


def duration(seconds: float | None) -> str:
    """`1 h 05 min`, `14 min 10 s`, `8 s`."""
    if seconds is None:
        return "?"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def follow(
    service: Service,
    started: list[Started],
    console: Console,
    poll_seconds: float = 1.0,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    jsonl: bool = False,
) -> list[dict[str, Any]]:
    """Poll until every execution ended; returns each one's final progress.

    On a terminal a live table shows each migration's phase and time left; elsewhere (a log,
    a pipe, CI) one line per change, and a line a minute while nothing changes. Failures end
    with their failed state, error, one line and fix. With `jsonl`, each of those lines is a
    JSON event instead (`event_of`). Raises WaitTimedOut after `timeout` s.
    """
    deadline = None if timeout is None else clock() + timeout

    def poll() -> dict[str, dict[str, Any]]:
        return {s.migration_id: service.progress(s) for s in started}

    def waited() -> bool:
        if all(p["done"] for p in latest.values()):
            return False
        if deadline is not None and clock() >= deadline:
            raise WaitTimedOut
        time.sleep(poll_seconds)
        return True

    latest = poll()
    if jsonl:
        said_json: dict[str, str] = {}
        quiet_json = clock()
        _emit_changes(console, latest, said_json)
        while waited():
            latest = poll()
            if _emit_changes(console, latest, said_json):
                quiet_json = clock()
            elif clock() - quiet_json >= HEARTBEAT_SECONDS:
                for mid, item in latest.items():
                    if not item["done"]:
                        _emit(console, event_of(mid, item))
                quiet_json = clock()
        return list(latest.values())
    if console.is_terminal:
        with Live(_view(latest), console=console, refresh_per_second=4, transient=False) as live:
            while waited():
                latest = poll()
                live.update(_view(latest))
    else:
        said: dict[str, str] = {}
        quiet_since = clock()
        _say_changes(console, latest, said)
        while waited():
            latest = poll()
            if _say_changes(console, latest, said):
                quiet_since = clock()
            elif clock() - quiet_since >= HEARTBEAT_SECONDS:
                for mid, item in latest.items():
                    if not item["done"]:
                        console.print(_line(mid, item))
                quiet_since = clock()
    for mid, item in latest.items():
        if item.get("failure") is not None:
            for line in failure_lines(item["failure"], mid):
                console.print(line)
    return list(latest.values())


def _say_changes(console: Console, latest: dict[str, dict[str, Any]], said: dict[str, str]) -> bool:
    """Print a line for each migration whose status, state, step or phase changed."""
    changed = False
    for mid, item in latest.items():
        key = f"{item['status']} {item['state']} {item['step']} {_phase_of(item).name}"
        if said.get(mid) != key:
            said[mid] = key
            console.print(_line(mid, item))
            changed = True
    return changed


def event_of(mid: str, item: dict[str, Any]) -> dict[str, Any]:
    """One `--output jsonl` event: where a migration is, and once it ended, how."""
    now = _phase_of(item)
    failure = item.get("failure")
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "migrationId": mid,
        "executionArn": item.get("executionArn"),
        "status": item["status"],
        "state": item["state"],
        "step": item["step"],
        "phase": now.name or None,
        "secondsLeft": now.seconds_left,
        "etaSeconds": now.eta_seconds,
        "done": item["done"],
        "failure": failure.to_json_dict() if failure is not None else None,
    }


def _emit(console: Console, event: dict[str, Any]) -> None:
    console.file.write(json.dumps(event) + "\n")
    console.file.flush()


def _emit_changes(
    console: Console, latest: dict[str, dict[str, Any]], said: dict[str, str]
) -> bool:
    changed = False
    for mid, item in latest.items():
        key = f"{item['status']} {item['state']} {item['step']} {_phase_of(item).name}"
        if said.get(mid) != key:
            said[mid] = key
            _emit(console, event_of(mid, item))
            changed = True
    return changed


def _phase_of(item: dict[str, Any]) -> Phase:
    return Phase("") if item["done"] else phase(item.get("record"))


def _line(mid: str, item: dict[str, Any]) -> Text:
    at = datetime.now(UTC).strftime("%H:%M:%S")
    text = Text.assemble(
        f"{at} ",
        plain(mid, "bold"),
        f": {item['status']} ",
        plain(item["state"], STATE_STYLE.get(item["state"], "")),
    )
    if item["step"]:
        text.append_text(plain(f" ({item['step']})"))
    now = _phase_of(item)
    if now.name:
        text.append_text(plain(f" - {now.text()}"))
    return text


def _view(progress: dict[str, dict[str, Any]]) -> Group:
    table = SafeTable(
        "Migrations",
        [
            Column("Id", keep=True),
            Column("Execution", keep=True),
            Column("State", keep=True),
            Column("Step", keep=True),
            Column("Phase and time left"),
        ],
    )
    for mid, item in progress.items():
        table.add_row(
            plain(mid),
            plain(item["status"]),
            plain(item["state"], STATE_STYLE.get(item["state"], "")),
            plain(item["step"] or "-"),
            plain(_phase_of(item).text() or (item["failure"].error if item["failure"] else "")),
        )
    return Group(table)


_AGE = re.compile(r"^(\d{1,9})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIME_FIX = "Use ISO 8601 (2026-11-21T10:00:00Z) or an age: 30m, 2h, 1d."


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (UTC if no offset), or an age such as `30m` meaning that long ago."""
    match = _AGE.match(value.strip())
    try:
        if match:
            seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            return datetime.now(UTC) - timedelta(seconds=seconds)
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise InvalidInputError(f"'{value}' is out of range (year 1 to 9999).", _TIME_FIX) from None
    except ValueError:
        raise InvalidInputError(f"'{value}' is not a time.", _TIME_FIX) from None


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
