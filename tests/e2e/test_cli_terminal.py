"""The CLI in a real terminal (tmux), as a person sees and copies it, at 80 and 200 columns.

`capture-pane -J` joins the lines the terminal folded: a line the CLI printed whole comes back
whole, one the CLI wrapped itself comes back split, which is what copying from it gives.
"""

from __future__ import annotations

import errno
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipsync_migrator.discovery import discover
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment
from ipsync_migrator.operations import Service
from ipsync_migrator.planning import plan_migration

CLI = str(Path(sys.executable).with_name("ipsync-migrator"))
FAST = "--poll-seconds 1 --bake-seconds 0 --drain-seconds 0 --healthy-checks-required 2"
FAST += " --health-timeout-seconds 60"


class Terminal:
    """One tmux server of our own (its socket name), one window of a given width."""

    def __init__(self, columns: int) -> None:
        self.socket = f"ipsync-test-{uuid.uuid4().hex[:8]}"
        self.columns = columns
        self._tmux("new-session", "-d", "-s", "t", "-x", str(columns), "-y", "50")
        self._tmux("set-option", "-g", "history-limit", "20000")

    def run(self, command: str, timeout: float = 180) -> tuple[int, str]:
        """Type `command`, wait for it to end; its exit code and the screen, lines joined."""
        self._tmux("send-keys", "-t", "t", "clear; tmux clear-history", "Enter")
        time.sleep(0.3)
        marker = f"done-{uuid.uuid4().hex[:6]}"
        self._tmux("send-keys", "-t", "t", f"{command}; echo {marker}:$?", "Enter")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            for line in screen.splitlines():
                if line.startswith(f"{marker}:"):
                    return int(line.split(":", 1)[1]), screen
            time.sleep(0.5)
        raise AssertionError(f"{command!r} did not end: {self.screen()}")

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t")

    def close(self) -> None:
        self._tmux("kill-server")

    def _tmux(self, *args: str) -> str:
        # Starting tmux from this process (moto's server and the runtime's threads in it) once
        # failed in the child before exec (OSError EFAULT, "Bad address"): tmux never ran,
        # so starting it again is safe. Any other failure, and a third EFAULT, is raised.
        for attempt in range(3):
            try:
                return subprocess.run(
                    ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
                ).stdout
            except OSError as exc:
                if exc.errno != errno.EFAULT or attempt == 2:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")


@pytest.fixture(params=[80, 200])
def terminal(request: pytest.FixtureRequest) -> Iterator[Terminal]:
    opened = Terminal(request.param)
    try:
        yield opened
    finally:
        opened.close()


def test_ids_arns_and_the_patch_read_back_whole_from_the_screen(
    runtime: LocalRuntime, service: Service, shop: Deployment, terminal: Terminal
) -> None:
    base = f"{CLI} --region {runtime.region} --endpoint-url {runtime.endpoint}"
    assert runtime.demo is not None
    api = runtime.demo.api_tg

    # When a person plans the CloudFormation-owned deployment
    code, screen = terminal.run(f"{base} plan {shlex.quote(api)}")

    # Then every line of its patch is on the screen whole, as the plan has it
    assert code == 0, screen
    [deployment] = [d for d in discover(runtime.clients()).deployments if d.target_group_arn == api]
    patch = plan_migration(deployment).template_patches["cloudformation"]
    lines = screen.splitlines()
    for line in patch.splitlines():
        assert line.rstrip() in (s.rstrip() for s in lines), (terminal.columns, line)

    # When a migration runs with --wait on the terminal (the live view), then status
    code, screen = terminal.run(f"{base} migrate {shop.id} {FAST} --yes --wait")
    assert code == 0, screen
    latest = service.latest_execution(shop.id)
    assert latest is not None
    arn = latest["executionArn"]
    assert f"{shop.id}: {arn}" in screen.splitlines()
    assert "SUCCEEDED" in screen

    code, screen = terminal.run(f"{base} status {shop.id}")

    # Then the id, the execution ARN and the new group's ARN are each on one line, whole
    assert code == 0, screen
    lines = screen.splitlines()
    assert f"migration: {shop.id}" in lines
    assert f"execution: {arn} (SUCCEEDED)" in lines
    record = service.journal.get(shop.id)
    assert record is not None and f"new target group: {record.new_target_group_arn}" in lines
