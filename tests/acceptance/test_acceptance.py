"""Acceptance: a disposable legacy estate migrated with the CLI, as a platform engineer would.

One suite, two endpoints: the local runtime (`make test`, plain `pytest`) and a real account
(`make acceptance ACCOUNT=... REGION=...`). Discover, plan, migrate, roll back, migrate again
and finalize, each followed by a look at the estate itself (not at what the CLI says), then
everything is torn down, also when a step fails.
"""

from __future__ import annotations

import json
import subprocess
import sys

from ipsync_migrator.operations import Service
from tests.acceptance.endpoints import Endpoint, Run, acceptance_run
from tests.acceptance.estate import LegacyEstate, Observed


def test_a_legacy_deployment_migrates_rolls_back_migrates_again_and_finalizes(
    endpoint: Endpoint,
) -> None:
    # Given a legacy estate (ALB, NLB, IP group synced with the ALB's IPs, the IP-sync
    # function on its schedule) and the stack deployed beside it
    with acceptance_run(endpoint) as run:
        estate = run.estate
        initial = run.observe()
        expect_legacy(initial, initial, estate)

        # When discover runs
        discovered = succeeds(run.cli("discover", "--output", "json"))
        # Then it finds the estate's deployment, migratable, with its function and schedule
        deployment = next(
            d
            for d in json.loads(discovered.stdout)["deployments"]
            if d["targetGroupArn"] == estate.target_group_arn
        )
        assert deployment["verdict"] == "migratable", deployment["findings"]
        assert deployment["function"]["arn"] == estate.function_arn
        assert [s["rule"] for s in deployment["schedules"]] == [estate.names.rule]
        assert deployment["applicationLoadBalancerArn"] == estate.alb_arn
        migration_id = deployment["id"]

        # When plan runs
        planned = succeeds(run.cli("plan", estate.target_group_arn, "--output", "json"))
        # Then it would change exactly the production listener, and it changed nothing
        plan = json.loads(planned.stdout)
        assert plan["migrationId"] == migration_id
        [listener_change] = [c for c in plan["changes"] if c["resource"] == estate.listener_arn]
        assert listener_change["action"] == "modify"
        assert listener_change["before"] == list(initial.listener_actions)
        expect_legacy(run.observe(), initial, estate)

        # When it is migrated, waiting for the execution
        succeeds(migrate(run, migration_id))
        # Then production forwards to an alb group holding the ALB, the legacy is retired
        first_group = expect_retired(run.observe(), estate)
        assert journal_state(run, migration_id) == "retired"

        # When it is rolled back
        rolled_back = succeeds(run.cli("rollback", migration_id, *run.stack_option))
        # Then the estate is as it was: IP group, schedule on, no reservation, no alb group
        assert f"{migration_id}: rolled_back" in rolled_back.stdout
        expect_legacy(run.observe(), initial, estate)
        assert journal_state(run, migration_id) == "rolled_back"

        # When it is migrated again
        succeeds(migrate(run, migration_id))
        # Then it is retired again, through a new alb group
        assert expect_retired(run.observe(), estate) != first_group
        assert journal_state(run, migration_id) == "retired"

        # When it is finalized
        finalized = succeeds(run.cli("finalize", migration_id, *run.stack_option))
        # Then the legacy function and its schedule are gone; production stays on the alb group
        assert f"function {estate.names.function}" in finalized.stdout, finalized.stdout
        observed = run.observe()
        assert observed.function_exists is False
        assert observed.rule_state is None
        assert observed.listener_group_types == ("alb",)
        assert set(observed.alb_groups) == set(observed.listener_group_arns)
        assert observed.ip_group_targets is not None  # kept: deleteTargetGroup is off
        status = succeeds(run.cli("status", migration_id, "--output", "json", *run.stack_option))
        # (`status ID --output json` is that migration's object, `status` alone a list)
        assert json.loads(status.stdout)["state"] == "finalized"

        report_timings(run)
    # (The teardown ran on leaving the block; it fails the test if anything is left.)


def migrate(run: Run, migration_id: str) -> subprocess.CompletedProcess[str]:
    return run.cli(
        "migrate", migration_id, *run.endpoint.migrate_timings, "--yes", "--wait", *run.stack_option
    )


def expect_legacy(observed: Observed, initial: Observed, estate: LegacyEstate) -> None:
    """The pre-migration shape: production on the IP group (exactly the initial actions), the
    legacy sync running."""
    assert observed.listener_group_arns == (estate.target_group_arn,)
    assert observed.listener_group_types == ("ip",)
    assert observed.listener_actions == initial.listener_actions
    assert observed.other_listeners == 0
    assert observed.alb_groups == {}
    assert observed.ip_group_targets is not None
    assert estate.alb_ips <= observed.ip_group_targets
    assert observed.rule_state == "ENABLED"
    assert observed.reserved_concurrency is None
    assert observed.function_exists is True


def expect_retired(observed: Observed, estate: LegacyEstate) -> str:
    """Migrated and softly retired: production on an alb group, the legacy sync disabled.
    Returns the alb group's ARN."""
    assert observed.listener_group_types == ("alb",)
    [new_group] = observed.listener_group_arns
    assert observed.alb_groups == {new_group: frozenset({estate.alb_arn})}
    assert observed.other_listeners == 0  # the probe listener is gone
    assert observed.rule_state == "DISABLED"
    assert observed.reserved_concurrency == 0
    assert observed.function_exists is True
    return new_group


def journal_state(run: Run, migration_id: str) -> str:
    """The migration's state in the stack's journal, read directly (the CLI's `status` is
    checked once, at the end)."""
    [record] = Service.connect(run.endpoint.clients(), run.names.stack).records(migration_id)
    return record.state.value


def succeeds(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (
        f"`{' '.join(completed.args[1:])}` exited {completed.returncode}\n"
        f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    )
    return completed


def report_timings(run: Run) -> None:
    lines = [f"  {command:<10} {seconds:6.1f} s" for command, seconds in run.timings]
    print(f"CLI commands on {run.endpoint.name}:\n" + "\n".join(lines), file=sys.stderr)
