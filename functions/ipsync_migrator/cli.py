"""The `ipsync-migrator` command line: a client of the same core the Lambda functions use."""

from __future__ import annotations

import getpass
import json
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.text import Text
from typer.core import TyperGroup

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import DEFAULT_STACK_NAME, USER_AGENT, AwsTarget, default_output
from ipsync_migrator.discovery import discover
from ipsync_migrator.errors import (
    AccessDeniedError,
    AwsServiceError,
    AwsUnavailableError,
    ConfigurationError,
    InvalidInputError,
    IpsyncError,
    NotFoundError,
    ThrottledError,
)
from ipsync_migrator.failures import from_journal, one_line
from ipsync_migrator.fleet import load_fleet_spec
from ipsync_migrator.handlers.requests import MIGRATION_ID
from ipsync_migrator.journal import Journal
from ipsync_migrator.limits import MAX_HISTORY_EVENTS, check_history_budget
from ipsync_migrator.local.clock import DEFAULT_TIME_FACTOR
from ipsync_migrator.models import (
    DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    MAX_APPROVAL_TIMEOUT_SECONDS,
    Deployment,
    DiscoveryReport,
    MigrationOptions,
    Strategy,
    Verdict,
)
from ipsync_migrator.operations import Service, Started, console_url
from ipsync_migrator.planning import plan_migration
from ipsync_migrator.progress import WaitTimedOut, follow, follow_replay, parse_time, phase
from ipsync_migrator.render import (
    discovery_table,
    make_console,
    plain,
    plan_view,
    report_view,
    status_detail,
    status_dict,
    status_table,
)
from ipsync_migrator.render_explain import explain_view
from ipsync_migrator.render_fleet import fleet_spec_view, fleet_status_view
from ipsync_migrator.render_formats import compiled_query, formatted, queried, query_table
from ipsync_migrator.reporting import MigrationReport, build_report, markdown
from ipsync_migrator.steps.preflight import RESTARTABLE
from ipsync_migrator.steps.replay import FINALIZED_ACTION, ROLLED_BACK_OUTCOMES

RESTARTABLE_STATES = {state.value for state in RESTARTABLE}
FLEET_POLL_SECONDS = 2.0


class ExitCode(IntEnum):
    """The one exit-code scheme, as terraform's (README, "Exit codes")."""

    OK = 0
    #: A migration failed or rolled back (`--wait`, `--watch`), the prompt was declined, or
    #: the migration's state refused the command (e.g. rollback after finalize).
    FAILED = 1
    #: The command line: a malformed or unknown option or argument; nothing was read or started.
    USAGE = 2
    #: AWS or the setup: credentials, region, endpoint, stack, permission, a resource not
    #: found, an AWS error.
    AWS = 3
    #: `rollback` / `replay-rollback`: something could not be undone (listed).
    ROLLBACK_INCOMPLETE = 4
    #: `rollback`: another rollback took the migration over.
    ROLLBACK_SUPERSEDED = 5
    #: `--timeout` passed: the executions go on.
    TIMEOUT = 124
    #: Ctrl-C: the executions go on.
    INTERRUPTED = 130


#: `plan --detailed-exitcode`, as terraform's: 0 nothing to migrate, 2 changes planned, and
#: 1 for any error (usage and AWS errors included) or a blocked deployment.
PLAN_CHANGES_EXIT = 2
#: This run's command, and whether it is `plan --detailed-exitcode` (set as the arguments
#: are parsed, before any usage error).
_PARSED: dict[str, Any] = {"command": None, "detailed": False}
#: The click typer runs on: its own copy (typer._click) since typer 0.2x, click before.
_CLICK_ERRORS: Any = sys.modules[typer.BadParameter.__module__]
_AWS_ERRORS = (
    ConfigurationError,
    AccessDeniedError,
    NotFoundError,
    ThrottledError,
    AwsUnavailableError,
    AwsServiceError,
)


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code an error ends the command with."""
    if isinstance(exc, InvalidInputError):
        return ExitCode.USAGE
    if isinstance(exc, _AWS_ERRORS):
        return ExitCode.AWS
    return ExitCode.FAILED


def _in_scheme(code: int) -> int:
    """`code`, or 1 for any failure under `plan --detailed-exitcode` (whose 2 means changes)."""
    return ExitCode.FAILED if code and _PARSED["detailed"] else code


class _GlobalOptionsAnywhere(TyperGroup):
    """Global options are accepted after the command too (`status --region eu-west-1`), as
    the AWS CLI and kubectl accept theirs: they are moved in front of it before parsing.
    Usage errors end as every error does: one `error:` line, one `fix:` line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        position = command_position(args, set(self.commands))
        command, rest = args[position : position + 1], args[position + 1 :]
        _PARSED["command"] = command[0] if command else None
        _PARSED["detailed"] = command == ["plan"] and "--detailed-exitcode" in rest
        with _usage_errors():
            return super().parse_args(ctx, hoist_global_options(args, set(self.commands)))

    def invoke(self, ctx: Any) -> Any:
        with _usage_errors():
            return super().invoke(ctx)


@contextmanager
def _usage_errors() -> Iterator[None]:
    try:
        yield
    except _CLICK_ERRORS.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise  # the bare command prints its help
        # Some of click's errors name no context: the command parsed from the arguments does.
        command = " ".join(filter(None, ["ipsync-migrator", _PARSED["command"]]))
        _print_error(exc.format_message(), f"Run `{command} --help` for its options.", exc)
        raise typer.Exit(code=_in_scheme(ExitCode.USAGE)) from None


#: The root's options, with a value and without one (main() below).
GLOBAL_VALUE_OPTIONS = frozenset(
    {"--region", "--profile", "--endpoint-url", "--role-arn", "--external-id"}
)
GLOBAL_FLAGS = frozenset({"--debug", "--no-debug", "--version"})


def command_position(args: list[str], commands: set[str]) -> int:
    """Where the command is in `args` (len(args) when there is none)."""
    position = 0
    while position < len(args) and args[position] not in commands:
        position += 2 if args[position] in GLOBAL_VALUE_OPTIONS else 1
    return min(position, len(args))


def hoist_global_options(args: list[str], commands: set[str]) -> list[str]:
    """`args` with the global options found after the command moved before it."""
    position = command_position(args, commands)
    if position >= len(args):
        return list(args)
    before, command, rest = list(args[:position]), args[position], args[position + 1 :]
    hoisted: list[str] = []
    kept: list[str] = []
    index = 0
    while index < len(rest):
        token = rest[index]
        if token == "--":
            kept.extend(rest[index:])
            break
        if token in GLOBAL_VALUE_OPTIONS and index + 1 < len(rest):
            hoisted += rest[index : index + 2]
            index += 2
            continue
        if token in GLOBAL_FLAGS or token.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS:
            hoisted.append(token)
        else:
            kept.append(token)
        index += 1
    return [*before, *hoisted, command, *kept]


app = typer.Typer(
    cls=_GlobalOptionsAnywhere,
    name="ipsync-migrator",
    help="Move NLBs off the Lambda IP-sync workaround onto ALB-type target groups.\n\n"
    "Exit codes: 0 done; 1 a migration failed or rolled back (migrate --wait, status "
    "--watch), the prompt was declined, or the migration's state refused the command; 2 a "
    "usage error (nothing was read or started); 3 an AWS or configuration error "
    "(credentials, region, endpoint, stack, permission, not found); 4 a rollback left "
    "something undone; 5 another rollback took it over; 124 --timeout passed (the "
    "executions go on); 130 interrupted (they go on). plan --detailed-exitcode: 0 nothing "
    "to migrate, 2 changes planned, 1 any error or a blocked deployment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
T = TypeVar("T")
out = make_console()
err = make_console(stderr=True)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    TEXT = "text"


_OUTPUT_HELP = (
    "table, json, yaml or text (the AWS CLI's tab-separated lines); default: "
    "AWS_DEFAULT_OUTPUT, else table"
)
OutputOption = Annotated[Output | None, typer.Option("--output", "-o", help=_OUTPUT_HELP)]
QueryOption = Annotated[
    str | None,
    typer.Option(
        "--query",
        help="A JMESPath expression applied to the output's JSON form before it is "
        "formatted, as the AWS CLI's --query.",
    ),
]


class FollowOutput(StrEnum):
    TEXT = "text"
    JSONL = "jsonl"


class StatusOutput(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    TEXT = "text"
    JSONL = "jsonl"


E = TypeVar("E", bound=StrEnum)
#: AWS_DEFAULT_OUTPUT values of the AWS CLI's that name one of ours.
_OUTPUT_ALIASES = {"yaml-stream": "yaml"}


def _formats(output: E | None, choices: type[E], query: str | None) -> tuple[E, Any]:
    """The output format (`--output`, else AWS_DEFAULT_OUTPUT, else table) and the compiled
    `--query`, both checked before anything is read."""
    if output is None:
        given = default_output()
        if given is None:
            output = choices("table")
        else:
            try:
                output = choices(_OUTPUT_ALIASES.get(given, given))
            except ValueError:
                _fail(
                    f"AWS_DEFAULT_OUTPUT is {_shown(given)}, and this command prints "
                    f"{', '.join(c.value for c in choices)}.",
                    "Pass --output, or set AWS_DEFAULT_OUTPUT to one of them.",
                )
    assert output is not None
    return output, (_run(lambda: compiled_query(query)) if query is not None else None)


def _print_document(document: Any, output: StrEnum, query: Any, view: Callable[[], Any]) -> None:
    """A command's output: its view as a table, or its JSON form as json, yaml or text;
    `query` (--query) is applied to the JSON form first."""
    if query is not None:
        document = _run(lambda: queried(document, query))
    if output == "table":
        out.print(view() if query is None else query_table(document))
    else:
        sys.stdout.write(formatted(document, output.value))


#: `--output jsonl`: JSON lines on stdout for automation; what people read goes to stderr.
JSONL_HELP = "jsonl: one JSON object a line on stdout (with --wait/--watch, one per change)"


@app.callback()
def main(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Option(help="AWS region (default: AWS_REGION).")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile to use.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS-compatible endpoint (default: AWS_ENDPOINT_URL).")
    ] = None,
    role_arn: Annotated[
        str | None, typer.Option(help="Assume this role (e.g. in another account).")
    ] = None,
    external_id: Annotated[str | None, typer.Option(help="External id for --role-arn.")] = None,
    debug: Annotated[
        bool, typer.Option(help="On an error, also print the full error (and any traceback).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=lambda v: _print_version(v), help="Print it."
        ),
    ] = False,
) -> None:
    _DEBUG["on"] = debug
    ctx.obj = AwsTarget.from_env(
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        role_arn=role_arn,
        external_id=external_id,
    )


@app.command("discover")
def discover_command(
    ctx: typer.Context,
    output: OutputOption = None,
    query: QueryOption = None,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain", help="Show why one deployment (id, group ARN or function) is reported."
        ),
    ] = None,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Find and classify every legacy IP-sync deployment (read-only)."""
    shown, expression = _formats(output, Output, query)
    report = _run(lambda: _discover(ClientFactory(ctx.obj), shown, stack_name))
    if explain is not None:
        deployment = _run(partial(_find, report, explain))
        _print_document(
            deployment.public_dict(), shown, expression, partial(explain_view, deployment)
        )
        return
    _print_document(report.public_dict(), shown, expression, partial(discovery_table, report))


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    reference: Annotated[
        str, typer.Argument(help="Deployment id, legacy target group ARN or function name.")
    ],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the plan to this file, for `migrate --plan FILE`."),
    ] = None,
    patch_dir: Annotated[
        Path | None,
        typer.Option(
            "--patch-dir",
            help="Also write the CloudFormation and Terraform patches to this directory.",
        ),
    ] = None,
    output: OutputOption = None,
    query: QueryOption = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when there is nothing to migrate, 2 when changes are planned, and 1 "
            "on any error or a blocked deployment (terraform's plan -detailed-exitcode).",
        ),
    ] = False,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Show the exact changes a migration would make (writes nothing)."""
    shown, expression = _formats(output, Output, query)
    _run(lambda: _checked_reference(reference))

    def build() -> Any:
        report = _discover(ClientFactory(ctx.obj), shown, stack_name)
        return plan_migration(_find(report, reference))

    plan = _run(build)
    _print_document(plan.to_json_dict(), shown, expression, partial(plan_view, plan))
    if out_file is not None:
        _run(lambda: _write(out_file, json.dumps(_saved_plan(plan), indent=2) + "\n"))
        err.print(plain(f"plan written to {out_file}: apply it with `migrate --plan {out_file}`"))
    for kind, name in (("cloudformation", "cloudformation.yaml"), ("terraform", "terraform.tf")):
        if patch_dir is not None and plan.template_patches.get(kind):
            _run(partial(_write, patch_dir / name, plan.template_patches[kind]))
            err.print(plain(f"{kind} patch written to {patch_dir / name}"))
    if detailed_exitcode and (plan.blockers or plan.changes):
        raise typer.Exit(code=ExitCode.FAILED if plan.blockers else PLAN_CHANGES_EXIT)


#: What `plan --out` writes: the plan, and the version of this file's layout.
PLAN_FILE_FORMAT = "ipsync-migrator-plan/1"


def _saved_plan(plan: Any) -> dict[str, Any]:
    return {"format": PLAN_FILE_FORMAT, "plan": plan.to_json_dict()}


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot write {path}: {exc.strerror or exc}.", "Pass a path you can write to."
        ) from None


def _read_plan(path: Path) -> dict[str, Any]:
    """The plan `plan --out` wrote to `path`."""
    fix = "Write one with `ipsync-migrator plan ID --out FILE`."
    try:
        saved = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc.strerror or exc}.", fix) from None
    except (ValueError, RecursionError):
        raise InvalidInputError(f"{path} is not JSON.", fix) from None
    if not isinstance(saved, dict) or saved.get("format") != PLAN_FILE_FORMAT:
        raise InvalidInputError(f"{path} is not a plan file of `plan --out`.", fix)
    plan = saved.get("plan")
    if not isinstance(plan, dict) or not isinstance(plan.get("deploymentId"), str):
        raise InvalidInputError(f"{path} holds no plan of a deployment.", fix)
    _checked_reference(plan["deploymentId"])
    return plan


def plan_differences(planned: Any, now: Any, path: str = "") -> list[str]:
    """What differs between a saved plan and the plan of the account as it is now, as
    `field.path: planned X, now Y` (lists of the same length compared item by item)."""
    if isinstance(planned, dict) and isinstance(now, dict):
        return [
            difference
            for key in sorted(set(planned) | set(now))
            for difference in plan_differences(
                planned.get(key), now.get(key), f"{path}.{key}" if path else key
            )
        ]
    if isinstance(planned, list) and isinstance(now, list) and len(planned) == len(now):
        return [
            difference
            for index, (old, new) in enumerate(zip(planned, now, strict=True))
            for difference in plan_differences(old, new, f"{path}[{index + 1}]")
        ]
    if planned != now:
        return [f"{path}: planned {_brief(planned)}, now {_brief(now)}"]
    return []


def _brief(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def _check_plan(planned: dict[str, Any], now: dict[str, Any], path: Path) -> None:
    differences = plan_differences(planned, now)
    if differences:
        shown = "; ".join(differences[:3]) + (
            f"; and {len(differences) - 3} more" if len(differences) > 3 else ""
        )
        raise InvalidInputError(
            f"The account changed since the plan in {path} was made, so nothing was started: "
            f"{shown}.",
            f"Review the new plan (`ipsync-migrator plan {planned['deploymentId']} --out "
            f"{path}`), then run `migrate --plan {path}` again.",
        )


StackOption = Annotated[
    str, typer.Option("--stack-name", help="The deployed ipsync-migrator stack.")
]


@app.command("migrate")
def migrate_command(
    ctx: typer.Context,
    references: Annotated[
        list[str] | None, typer.Argument(help="Deployment ids (or target group ARNs, names).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every migratable deployment.")] = False,
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Apply exactly the plan `plan ID --out FILE` wrote: refused, naming the "
            "difference, if the account changed since.",
        ),
    ] = None,
    strategy: Annotated[Strategy, typer.Option(help="How the new group proves itself.")] = (
        Strategy.PROBE
    ),
    poll_seconds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds between health and bake checks. With the health timeout and bake "
            f"time it bounds an execution's history ({MAX_HISTORY_EVENTS:,} events at most).",
        ),
    ] = 15,
    health_timeout_seconds: Annotated[
        int, typer.Option(min=0, help="How long the new group may take to turn healthy.")
    ] = 600,
    bake_seconds: Annotated[
        int, typer.Option(min=0, help="How long production is watched after cutover.")
    ] = 900,
    drain_seconds: Annotated[
        int,
        typer.Option(
            min=0,
            help="After the bake, how long the old group keeps serving open connections "
            "before the legacy function is retired (disabled, not deleted).",
        ),
    ] = 3600,
    finalize_after_seconds: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Finalize by itself this long after retirement: delete the legacy function, "
            "its schedule and permission (default: never; run `finalize` yourself).",
        ),
    ] = None,
    healthy_checks_required: Annotated[
        int,
        typer.Option(
            min=1,
            help="Polls in a row that must read the new group healthy before cutover. AWS "
            "reports healthy only after the group's healthy threshold of passed checks, so 1 "
            "is the proof; each more waits another --poll-seconds.",
        ),
    ] = 1,
    fast_health_gate: Annotated[
        bool,
        typer.Option(
            "--fast-gate",
            help="Set the new group's healthy threshold to 2 while the probe proves health "
            "(healthy after 2 checks of 30 s instead of 5: 60 s instead of 150 s once "
            "registered), then put the configured value back. Trade: 2 passed checks instead "
            "of 5 are the proof before production moves; the bake still watches the group.",
        ),
    ] = False,
    alarm_names: Annotated[
        list[str] | None,
        typer.Option(
            "--alarm-name",
            help="A CloudWatch alarm watched during the bake: in ALARM, the migration rolls "
            "back. Repeat for more.",
        ),
    ] = None,
    approve_before_cutover: Annotated[
        bool,
        typer.Option(
            help="Wait at an approval gate (`ipsync-migrator approve ID`) before cutover."
        ),
    ] = False,
    approve_before_finalize: Annotated[
        bool,
        typer.Option(
            help="Wait at an approval gate before the scheduled finalize (needs "
            "--finalize-after-seconds)."
        ),
    ] = False,
    delete_target_group: Annotated[
        bool, typer.Option(help="At finalize, also delete the old IP target group.")
    ] = False,
    delete_state: Annotated[
        bool, typer.Option(help="At finalize, also delete the legacy function's S3 state objects.")
    ] = False,
    approval_timeout_seconds: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_APPROVAL_TIMEOUT_SECONDS,
            help="How long an approval gate waits for `approve`: unapproved before cutover "
            "the migration rolls back; before finalize it stays retired.",
        ),
    ] = DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    wait: Annotated[
        bool,
        typer.Option(
            help="Follow the executions until they end (phase and time left); exit 1 if one "
            "failed or rolled back. Ctrl-C stops following, not the executions."
        ),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="With --wait: stop waiting after this many seconds.")
    ] = None,
    output: Annotated[
        FollowOutput, typer.Option("--output", "-o", help=f"text, or {JSONL_HELP}.")
    ] = FollowOutput.TEXT,
    fleet: Annotated[
        Path | None,
        typer.Option(
            "--fleet",
            help="A fleet file (JSON or YAML: accounts, regions, role, concurrency, options): "
            "start the fleet state machine instead; its options replace the ones above.",
        ),
    ] = None,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Plan, confirm, and start one Step Functions execution per migratable deployment."""
    jsonl = output == FollowOutput.JSONL
    if jsonl:
        _human_text_to_stderr(ctx)
    if fleet is not None:
        if references or all_:
            _fail("Pass either --fleet FILE or deployments (or --all), not both.", "")
        _migrate_fleet(ctx, fleet, yes, wait, stack_name)
        return
    saved_plan = None
    if plan_file is not None:
        if references or all_:
            _fail("Pass either --plan FILE or deployments (or --all), not both.", "")
        saved_plan = _run(lambda: _read_plan(plan_file))
        references = [saved_plan["deploymentId"]]
    if not references and not all_:
        _fail("Name the deployments to migrate, or pass --all.", "Ids come from `discover`.")
    for reference in references or []:
        _run(partial(_checked_reference, reference))
    if approve_before_finalize and finalize_after_seconds is None:
        _fail(
            "--approve-before-finalize gates the scheduled finalize, and none is scheduled.",
            "Add --finalize-after-seconds N, or drop --approve-before-finalize (a `finalize` "
            "you run yourself needs no approval).",
        )
    options = MigrationOptions(
        strategy=strategy,
        poll_seconds=poll_seconds,
        healthy_checks_required=healthy_checks_required,
        fast_health_gate=fast_health_gate,
        health_timeout_seconds=health_timeout_seconds,
        bake_seconds=bake_seconds,
        drain_seconds=drain_seconds,
        finalize_after_seconds=finalize_after_seconds,
        alarm_names=alarm_names or [],
        delete_target_group=delete_target_group,
        delete_state=delete_state,
        approve_before_cutover=approve_before_cutover,
        approve_before_finalize=approve_before_finalize,
        approval_timeout_seconds=approval_timeout_seconds,
    )
    _run(lambda: check_history_budget(options))  # before anything is read or started
    clients = ClientFactory(ctx.obj)
    service = _run(lambda: Service.connect(clients, stack_name))
    report = _run(lambda: _discover(clients, Output.TABLE))
    chosen = _run(lambda: _choose(report, references or [], all_))
    if saved_plan is not None and plan_file is not None:
        now = plan_migration(chosen[0]).to_json_dict()
        _run(partial(_check_plan, saved_plan, now, plan_file))
    # A migrated deployment reads as unused to discovery: the journal says what happened.
    journal = {r.migration_id: r for r in _run(service.records)}
    done = {
        d.id: journal[d.id].state.value
        for d in chosen
        if d.id in journal and journal[d.id].state.value not in RESTARTABLE_STATES
    }
    attached, unfinished = _already(service, done)
    chosen = [d for d in chosen if d.id not in done]
    if done and not chosen:
        if attached and wait:
            _wait(service, attached, timeout, jsonl)
        elif attached:
            _say_how_to_follow(attached)
        if unfinished:
            raise typer.Exit(code=ExitCode.FAILED)
        return
    migratable = [d for d in chosen if d.verdict == Verdict.MIGRATABLE]
    for deployment in chosen:
        if deployment.verdict != Verdict.MIGRATABLE:
            reasons = ", ".join(f.code.value for f in deployment.blockers)
            err.print(plain(f"skipped {deployment.id}: {deployment.verdict.value} ({reasons})"))
    for deployment in migratable:
        out.print(plan_view(plan_migration(deployment)))
    if not migratable:
        _fail("Nothing to migrate: no chosen deployment is migratable.", "See `discover`.")
    if not yes:
        _confirm(f"Start {len(migratable)} migration(s)?", "the plans above")
    started = [_run(partial(service.start, d, options)) for d in migratable]
    for item in started:
        note = f" ({item.note})" if item.note else ""
        out.print(plain(f"{item.migration_id}: {item.execution_arn}{note}"))
        if jsonl:
            _print_json_line(
                {
                    "migrationId": item.migration_id,
                    "executionArn": item.execution_arn,
                    "started": item.started,
                    "note": item.note or None,
                }
            )
    if wait:
        _wait(service, [*started, *attached], timeout, jsonl)
    else:
        _say_how_to_follow([*started, *attached])
    if unfinished:
        raise typer.Exit(code=ExitCode.FAILED)


#: Journal states in which a migration is done with nothing left to do.
_SETTLED = frozenset({"retired", "finalized"})
#: Journal states whose last error says why the migration did not finish.
_FAILED_STATES = frozenset({"rolled_back", "rollback_incomplete", "failed"})


def _already(service: Service, done: dict[str, str]) -> tuple[list[Started], list[str]]:
    """For migrations already under way or done: the running executions to re-attach to,
    and the ids that are neither running nor settled (their last execution did not finish)."""
    attached: list[Started] = []
    unfinished: list[str] = []
    for migration_id, state in done.items():
        latest = _run(partial(service.latest_execution, migration_id))
        if latest is not None and latest["status"] == "RUNNING":
            attached.append(Started(migration_id, latest["executionArn"], False, "running"))
            out.print(plain(f"{migration_id}: already {state}, running: {latest['executionArn']}"))
            continue
        ended = f"; its last execution ended {latest['status']}" if latest else ""
        out.print(plain(f"{migration_id}: already {state}{ended}"))
        if state not in _SETTLED:
            unfinished.append(migration_id)
            err.print(plain(f"  see why: ipsync-migrator status {migration_id}"))
    return attached, unfinished


def _wait(
    service: Service, started: list[Started], timeout: float | None, jsonl: bool = False
) -> None:
    """Follow the executions; exit 1 when one did not succeed, 124 after `timeout`, 130 on
    Ctrl-C (the executions go on, and say how to re-attach)."""
    console = make_console() if jsonl else out  # JSON events on stdout whatever `out` is
    try:
        results = _run(lambda: follow(service, started, console, timeout=timeout, jsonl=jsonl))
    except KeyboardInterrupt:
        _detached(started, "Interrupted")
        raise typer.Exit(code=ExitCode.INTERRUPTED) from None
    except WaitTimedOut:
        _detached(started, f"Still running after {timeout:g} s (--timeout)")
        raise typer.Exit(code=ExitCode.TIMEOUT) from None
    if any(r["status"] != "SUCCEEDED" for r in results):
        raise typer.Exit(code=ExitCode.FAILED)


def _human_text_to_stderr(ctx: typer.Context) -> None:
    """For `--output jsonl`: what `out` prints goes to stderr until the command ends."""
    out.file = sys.stderr
    ctx.call_on_close(partial(setattr, out, "file", None))


def _print_json_line(value: Any, query: Any = None) -> None:
    """One JSON object on one line (`--output jsonl`), through `query` (--query) if any."""
    if query is not None:
        value = _run(lambda: queried(value, query))
    sys.stdout.write(json.dumps(value, default=str) + "\n")
    sys.stdout.flush()


def _detached(started: list[Started], why: str) -> None:
    err.print(
        plain(
            f"{why}: stopped following. The execution(s) keep running in Step Functions; "
            "nothing was stopped or rolled back."
        )
    )
    _say_how_to_follow(started, err)


def _confirm(question: str, what: str) -> None:
    """Ask on a terminal; without one (a pipe, CI) refuse with a fix instead of a silent 1."""
    if not sys.stdin.isatty():
        _fail(
            f"There is no terminal to confirm on ({question}). Nothing was started.",
            f"Check {what}, then pass --yes.",
        )
    if not typer.confirm(question, default=False):
        err.print("Nothing was started.")
        raise typer.Exit(code=ExitCode.FAILED)


def _say_how_to_follow(started: list[Started], console: Any = None) -> None:
    for item in started:
        (console or out).print(
            plain(f"follow it: ipsync-migrator status {item.migration_id} --watch")
        )


@app.command("status")
def status_command(
    ctx: typer.Context,
    migration_id: Annotated[str | None, typer.Argument(help="One migration id.")] = None,
    output: Annotated[
        StatusOutput | None,
        typer.Option("--output", "-o", help=f"{_OUTPUT_HELP}; or {JSONL_HELP}."),
    ] = None,
    query: QueryOption = None,
    fleet: Annotated[
        str | None,
        typer.Option("--fleet", help="A fleet execution's name or ARN (`migrate --fleet`)."),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Re-attach: follow the running execution(s) until they end; exit 1 if one "
            "failed or rolled back.",
        ),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="With --watch: stop after this many seconds.")
    ] = None,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Each migration's state, step, phase and failure (or a fleet's); --watch follows them.

    With an id: its execution, phase and time left, the failed step, error and fix, and the
    template patch. The full error payload is in `--output json` (lastError).
    """
    shown, expression = _formats(output, StatusOutput, query)
    if fleet is not None:
        _fleet_status(ctx, fleet, shown, expression, stack_name)
        return
    jsonl = shown == StatusOutput.JSONL
    if jsonl:
        _human_text_to_stderr(ctx)
    if migration_id is not None:
        _run(lambda: _checked_id(migration_id))
    service = _run(lambda: Service.connect(ClientFactory(ctx.obj), stack_name))
    records = _run(lambda: _records(service, migration_id, stack_name))
    if watch:
        running = [s for s in map(partial(_running, service), records) if s is not None]
        if running:
            _wait(service, running, timeout, jsonl)
            return
        if migration_id is None:
            out.print("No migration is running.")
            return
    if migration_id is None:
        if jsonl:
            for record in records:
                _print_json_line(status_dict(record), expression)
        else:
            document = [status_dict(r) for r in records]
            _print_document(document, shown, expression, partial(status_table, records))
        return
    [record] = records
    latest = _run(partial(service.latest_execution, record.migration_id))
    execution = _run(partial(service.describe, latest["executionArn"])) if latest else None
    failure = None
    if record.state.value in _FAILED_STATES or (
        execution is not None and execution["status"] not in ("RUNNING", "SUCCEEDED")
    ):
        failure = (
            _run(partial(service.failure, execution, record))
            if execution is not None
            else from_journal(record.last_error)
        )
    is_running = execution is not None and execution["status"] == "RUNNING"
    arn = str(execution["executionArn"]) if execution else ""
    body = status_dict(record, execution, console_url(arn))
    body["failure"] = failure.to_json_dict() if failure else None
    body["phase"] = phase(record).text() if is_running else None
    view = partial(status_detail, record, execution, failure, body["phase"] or "")
    if jsonl:
        _print_json_line(body, expression)
    else:
        _print_document(body, shown, expression, view)
    if watch and record.state.value not in _SETTLED:
        raise typer.Exit(code=ExitCode.FAILED)


def _records(service: Service, migration_id: str | None, stack_name: str) -> list[Any]:
    try:
        return service.records(migration_id)
    except NotFoundError:
        if migration_id is None:
            raise
        raise NotFoundError(
            f"No migration {_shown(migration_id)} exists in the journal of stack '{stack_name}'.",
            "`ipsync-migrator status` lists the migrations; `ipsync-migrator discover` lists "
            "the deployments (a deployment has a migration once `migrate` started one).",
        ) from None


def _running(service: Service, record: Any) -> Started | None:
    latest = _run(partial(service.latest_execution, record.migration_id))
    if latest is None or latest["status"] != "RUNNING":
        return None
    return Started(record.migration_id, latest["executionArn"], False, "running")


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    migration_id: str,
    force: Annotated[
        bool,
        typer.Option(
            help="Restore listeners even where someone changed them since cutover "
            "(otherwise they are reported and left as they are)."
        ),
    ] = False,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Roll a migration back to its pre-migration state (waits until done).

    Exit codes: 0 rolled back (or already), 4 incomplete (what is left is listed; fix it and
    run the rollback again), 5 another rollback took the migration over; 1, 2 or 3 an error
    (refused by the migration's state, usage, AWS), as for every command.
    """
    service = _run(lambda: Service.connect(ClientFactory(ctx.obj), stack_name))

    def waiting(result: dict[str, Any]) -> None:
        err.print(
            f"{migration_id}: waiting before production moves back: "
            f"{escape(str(result.get('waitingFor', '')))}",
            highlight=False,
        )

    result = _run(lambda: service.rollback(migration_id, force=force, on_pending=waiting))
    code = rollback_exit_code(result)
    if result.get("alreadyRolledBack"):
        out.print(f"{migration_id}: already rolled back", highlight=False)
    elif result.get("superseded"):
        out.print(
            f"{migration_id}: another rollback took the migration over "
            f"({escape(str(result.get('by')))}); follow it with `ipsync-migrator status "
            f"{migration_id}`",
            highlight=False,
        )
    else:
        out.print(f"{migration_id}: {result.get('state')}", highlight=False)
    for leftover in result.get("leftovers", []):
        out.print(f"  left: {escape(leftover)}", highlight=False)
    for problem in result.get("problems", []):
        err.print(f"[bold red]error:[/] {escape(problem['message'])}", highlight=False)
        if problem.get("fix"):
            err.print(f"[bold]fix:[/] {escape(problem['fix'])}", highlight=False)
    if code:
        raise typer.Exit(code=code)


def rollback_exit_code(result: dict[str, Any]) -> int:
    if result.get("superseded"):
        return ExitCode.ROLLBACK_SUPERSEDED
    if result.get("state") == "rollback_incomplete":
        return ExitCode.ROLLBACK_INCOMPLETE
    return ExitCode.OK


@app.command("finalize")
def finalize_command(
    ctx: typer.Context,
    migration_id: str,
    delete_stack: Annotated[
        bool, typer.Option(help="Delete the legacy stack (refused if it holds anything else).")
    ] = False,
    delete_target_group: Annotated[
        bool | None,
        typer.Option(
            "--delete-target-group/--keep-target-group",
            help="Also delete the old IP target group (default: as `migrate` was told; keep).",
        ),
    ] = None,
    delete_state: Annotated[
        bool | None,
        typer.Option(
            "--delete-state/--keep-state",
            help="Also delete the legacy function's S3 state objects (default: as `migrate` "
            "was told; keep).",
        ),
    ] = None,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Delete the retired legacy function, its schedule and permission (waits until done)."""
    _run(lambda: _checked_id(migration_id))
    service = _run(lambda: Service.connect(ClientFactory(ctx.obj), stack_name))
    result = _run(
        lambda: service.finalize(migration_id, delete_stack, delete_target_group, delete_state)
    )
    if result.get("alreadyFinalized"):
        out.print(plain(f"{migration_id}: already finalized; nothing left to delete"))
        return
    for item in result.get("deleted", []):
        out.print(plain(f"deleted {item}"))
    out.print(plain(f"{migration_id}: finalized"))


@app.command("cleanup-orphan")
def cleanup_orphan_command(
    ctx: typer.Context,
    deployment_id: Annotated[str, typer.Argument(help="The orphaned deployment's id.")],
    delete: Annotated[
        bool, typer.Option(help="Delete the retired function, its rules and permission.")
    ] = False,
    undo: Annotated[bool, typer.Option(help="Restore the retired function and rules.")] = False,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Retire an orphaned deployment (its target group is gone): snapshot, disable the
    schedule, concurrency 0; later --delete it, or --undo. Journaled like a migration."""
    from ipsync_migrator.steps.context import StepContext
    from ipsync_migrator.steps.orphan import Silent, delete_orphan, retire_orphan, undo_orphan

    if delete and undo:
        _fail("Pass --delete or --undo, not both.", "--undo restores; --delete removes.")
    clients = ClientFactory(ctx.obj)
    service = _run(lambda: Service.connect(clients, stack_name))
    steps = StepContext(clients, service.journal, Silent())
    if delete:
        result = _run(lambda: delete_orphan(steps, deployment_id))
        for item in result.get("deleted", []):
            out.print(plain(f"deleted {item}"))
        out.print(
            plain(f"{deployment_id}: {'already ' if result.get('alreadyFinalized') else ''}deleted")
        )
    elif undo:
        _run(lambda: undo_orphan(steps, deployment_id))
        out.print(plain(f"{deployment_id}: restored as it was before the cleanup"))
    else:
        report = _run(lambda: _discover(clients, Output.JSON))
        deployment = _run(lambda: _find(report, deployment_id))
        owner = f"cli:{getpass.getuser()}"
        result = _run(lambda: retire_orphan(steps, deployment, owner))
        state = f"already {result['already']}" if result.get("already") else "retired"
        out.print(
            plain(
                f"{deployment_id}: {state} (`cleanup-orphan {deployment_id} --delete` deletes "
                f"it, `--undo` restores it)"
            )
        )


@app.command("approve")
def approve_command(
    ctx: typer.Context,
    migration_id: str,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Let a migration waiting at an approval gate go on."""
    _run(lambda: _checked_id(migration_id))
    gate = _run(
        lambda: Service.connect(ClientFactory(ctx.obj), stack_name).approve(
            migration_id, getpass.getuser()
        )
    )
    out.print(f"{migration_id}: approved before {gate}")


class ReportOutput(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    TEXT = "text"
    MARKDOWN = "markdown"


@app.command("report")
def report_command(
    ctx: typer.Context,
    output: Annotated[
        ReportOutput | None,
        typer.Option("--output", "-o", help=f"{_OUTPUT_HELP}; or markdown."),
    ] = None,
    query: QueryOption = None,
    fleet: Annotated[
        str | None,
        typer.Option(
            "--fleet", help="Report on a fleet execution (name or ARN) across its accounts."
        ),
    ] = None,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Deployments by verdict and outcome, blockers by reason, invocations retired."""
    shown, expression = _formats(output, ReportOutput, query)
    if shown == ReportOutput.MARKDOWN and expression is not None:
        _fail("--query selects from the JSON form: markdown has none.", "Pass --output json.")
    clients = ClientFactory(ctx.obj)
    if fleet is not None:
        report = _run(lambda: Service.connect(clients, stack_name).fleet_report(fleet))
    else:
        report = _account_report(clients, stack_name)
    if shown == ReportOutput.MARKDOWN:
        sys.stdout.write(markdown(report))
    else:
        _print_document(report.to_json_dict(), shown, expression, partial(report_view, report))


@app.command("replay-rollback")
def replay_rollback_command(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="Window start: ISO time, or an age like 30m, 2h, 1d.")],
    until: Annotated[str | None, typer.Option(help="Window end (default: now).")] = None,
    migration: Annotated[str | None, typer.Option(help="Only this migration id.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait and report what was rolled back.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before rolling the window back.")
    ] = False,
    stack_name: StackOption = DEFAULT_STACK_NAME,
) -> None:
    """Replay the event archive for a time window: its migrations roll back.

    Checks first: the migration exists, and which migrations the window holds (shown, and
    confirmed unless --yes). With --wait, exit 4 when one of them did not end rolled back.
    """
    window = _run(lambda: (parse_time(since), parse_time(until) if until else datetime.now(UTC)))
    service = _run(lambda: Service.connect(ClientFactory(ctx.obj), stack_name))
    expected = _run(lambda: service.migrations_in_window(*window, migration))
    span = f"{window[0].isoformat()} .. {window[1].isoformat()}"
    if not expected:
        out.print(f"no migration journaled a step in {span}: nothing to replay", highlight=False)
        return
    out.print(f"replaying {span} rolls back: {', '.join(sorted(expected))}", highlight=False)
    if not yes:
        if not sys.stdin.isatty():
            _run(lambda: _refuse_unconfirmed())
        typer.confirm("Roll these migrations back?", abort=True)
    name = _run(lambda: service.replay_rollback(window[0], window[1], migration))
    out.print(f"replay {name} started", highlight=False)
    if not wait:
        out.print(f"follow it: ipsync-migrator status (replay {name})", highlight=False)
        return
    _run(lambda: follow_replay(service, name, expected))
    deliveries = _run(lambda: service.replay_deliveries(name))
    outcomes = _run(lambda: service.replay_outcomes(name))
    failed = False
    for migration_id in sorted(expected | outcomes.keys()):
        outcome = outcomes.get(migration_id, "no delivery yet")
        counts = ", ".join(f"{o} {n}" for o, n in sorted(deliveries.get(migration_id, {}).items()))
        action = f"  {FINALIZED_ACTION}" if outcome == "finalized" else ""
        out.print(f"{migration_id}: {outcome} (deliveries: {counts or 'none'}){action}")
        if migration_id in expected and outcome not in ROLLED_BACK_OUTCOMES:
            failed = True
            for record in service.records(migration_id):
                for leftover in record.rollback_report.get("leftovers", []):
                    out.print(f"  left: {escape(leftover)}", highlight=False)
    if failed:
        raise typer.Exit(code=ExitCode.ROLLBACK_INCOMPLETE)


def _refuse_unconfirmed() -> None:
    raise InvalidInputError(
        "replay-rollback rolls back every migration listed above, and there is no terminal "
        "to confirm it. Nothing was replayed.",
        "Check the list, then pass --yes (or narrow it with --migration ID / --until).",
    )


def _account_report(clients: ClientFactory, stack_name: str) -> MigrationReport:
    """This account and region: discovery now, joined with the journal (if deployed)."""
    discovery = _run(lambda: _discover(clients, Output.JSON))
    try:
        records = Service.connect(clients, stack_name).records()
    except NotFoundError as exc:
        err.print(f"note: {exc.message} Outcomes are shown as 'not started'.", highlight=False)
        records = []
    return build_report(discovery, records)


def _choose(report: DiscoveryReport, references: list[str], all_: bool) -> list[Deployment]:
    if all_:
        return list(report.deployments)
    return [_find(report, reference) for reference in references]


#: A deployment id or function name, or a target group or function ARN.
_REFERENCE = re.compile(
    r"[A-Za-z0-9_.-]{1,140}"
    r"|arn:aws[a-z-]*:(elasticloadbalancing|lambda):[a-z0-9-]{1,30}:\d{12}:[A-Za-z0-9_/:.$-]{1,300}"
)
#: The region and account an ARN names.
_ARN_PLACE = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:([a-z0-9-]*):(\d{12}|):")


def _checked_reference(value: str) -> str:
    if not _REFERENCE.fullmatch(value):
        raise InvalidInputError(
            f"{_shown(value)} is not a deployment id, target group ARN or function name.",
            "Run `ipsync-migrator discover` to list them.",
        )
    return value


def _checked_id(value: str) -> str:
    if not re.fullmatch(MIGRATION_ID, value):
        raise InvalidInputError(
            f"{_shown(value)} is not a migration id (letters, digits, - and _; at most 80).",
            "`ipsync-migrator status` lists the migrations.",
        )
    return value


def _shown(value: str) -> str:
    """A value quoted for a message: escaped, and cut when it is long."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


def _find(report: DiscoveryReport, reference: str) -> Deployment:
    """The deployment `reference` names; when none, whether its ARN names another region or
    account than the one read."""
    deployment = report.find(reference)
    if deployment is not None:
        return deployment
    place = _ARN_PLACE.match(reference)
    region, account = (place.group(1), place.group(2)) if place else ("", "")
    if region and region != report.region:
        raise NotFoundError(
            f"{_shown(reference)} is in region {region}, and this command reads {report.region}.",
            f"Pass --region {region} (before the command).",
        )
    if account and account != report.account:
        raise NotFoundError(
            f"{_shown(reference)} is in account {account}; these credentials are for account "
            f"{report.account}.",
            "Pass --profile or --role-arn for that account, or migrate across accounts with "
            "`migrate --fleet FILE`.",
        )
    raise NotFoundError(
        f"No legacy IP-sync deployment matches {_shown(reference)}.",
        "Run `ipsync-migrator discover` to list ids, target groups and functions.",
    )


def _fail(message: str, fix: str) -> None:
    with _clear_errors():
        raise InvalidInputError(message, fix)


@app.command("demo")
def demo_command() -> None:
    """The whole story on the local emulator: discover, migrate, roll back, finalize, report."""
    from ipsync_migrator.local.demo import run_demo

    _run(lambda: run_demo(out))


def _discover(
    clients: ClientFactory, output: Output, stack_name: str | None = None
) -> DiscoveryReport:
    """Discovery; with `stack_name`, also the deployed stack's journal (migrated ones).
    A spinner shows on a terminal, for a table only."""
    journal = _journal_of(clients, stack_name) if stack_name else None
    if output != Output.TABLE or not err.is_terminal:
        return discover(clients, journal=journal)
    with err.status("Scanning...") as status:
        return discover(
            clients, progress=lambda message: status.update(f"{message}..."), journal=journal
        )


def _journal_of(clients: ClientFactory, stack_name: str) -> Journal | None:
    """The stack's journal, or None (with a note) when the stack is not deployed here."""
    try:
        return Service.connect(clients, stack_name).journal
    except NotFoundError as exc:
        err.print(
            f"note: {exc.message} Migrations are recognised by their tags only.",
            highlight=False,
        )
        return None


def _run(action: Callable[[], T]) -> T:
    """Run a command body; errors become one `error:` line, one `fix:` line and their exit
    code (exit_code_of)."""
    with _clear_errors():
        return action()
    raise AssertionError("unreachable")  # pragma: no cover


#: `--debug` (a global option): errors also print in full, with their traceback.
_DEBUG = {"on": False}
_GENERIC_FIX = "Run the command with --help for its options."


@contextmanager
def _clear_errors() -> Iterator[None]:
    try:
        yield
    except IpsyncError as exc:
        _print_error(exc.message, exc.remediation or _GENERIC_FIX, exc)
        raise typer.Exit(code=_in_scheme(exit_code_of(exc))) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # an error nobody translated: still one line and a fix
        _print_error(
            f"Unexpected {type(exc).__name__}: {one_line(str(exc))}",
            "Run it again with --debug for the traceback, and report it.",
            exc,
        )
        raise typer.Exit(code=_in_scheme(exit_code_of(exc))) from None


def _print_error(message: str, fix: str, exc: BaseException) -> None:
    err.print(Text.assemble(("error: ", "bold red"), plain(message)))
    err.print(Text.assemble(("fix: ", "bold"), plain(fix)))
    if _DEBUG["on"]:
        err.print(plain("".join(traceback.format_exception(exc)), "dim"))


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"ipsync-migrator {USER_AGENT.split('/', 1)[1]}\n")
        raise typer.Exit()


@app.command("local")
def local_command(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0 picks a free one).")
    ] = 4566,
    seed: Annotated[
        str, typer.Option(help="demo: seed the demo estate; none: an empty account.")
    ] = "demo",
    faults: Annotated[
        str | None, typer.Option(help="JSON file of fault rules to inject (local/faults.py).")
    ] = None,
    notifications: Annotated[
        bool,
        typer.Option(
            help="Deploy with an SNS topic (NotificationTopicArn): subscribe to it to see them."
        ),
    ] = False,
    time_factor: Annotated[
        float,
        typer.Option(
            min=0.0001,
            help="Real seconds per AWS second for target health (registration, then the "
            "group's healthy threshold x 30 s): 1 is AWS's own pace, 0.01 about 2 s to healthy.",
        ),
    ] = DEFAULT_TIME_FACTOR,
) -> None:
    """Serve the deployed template on a local emulator with the real handlers, until Ctrl-C."""
    import signal
    import threading

    from ipsync_migrator.local.runtime import LocalRuntime

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    runtime = _run(
        lambda: LocalRuntime(
            port=port,
            seed=None if seed == "none" else seed,
            faults=faults,
            notifications=notifications,
            time_factor=time_factor,
        )
    )
    previous = signal.signal(signal.SIGTERM, interrupt)  # `kill` stops cleanly, like Ctrl-C
    try:
        with err.status("Starting the emulator and deploying template.yaml..."):
            _run(runtime.start)
        # Plain lines on stdout, flushed: scripts wait for the endpoint line.
        outputs = [f"{key}: {value}" for key, value in runtime.outputs.items()]
        if runtime.notification_topic_arn:
            outputs.append(f"NotificationTopicArn: {runtime.notification_topic_arn}")
        sys.stdout.write("\n".join([f"endpoint: {runtime.endpoint}", *outputs]) + "\n")
        sys.stdout.flush()
        err.print(f"Serving (deployed in {runtime.deploy_seconds:.1f} s). Ctrl-C stops.")
        err.print(
            f"Try: ipsync-migrator --endpoint-url {runtime.endpoint} --region {runtime.region} "
            "discover",
            highlight=False,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        err.print("Stopping.")
    finally:
        runtime.stop()
        signal.signal(signal.SIGTERM, previous)


# --- fleets ------------------------------------------------------------------------------


def _migrate_fleet(ctx: typer.Context, path: Path, yes: bool, wait: bool, stack_name: str) -> None:
    spec, digest = _run(lambda: load_fleet_spec(path))
    _run(lambda: check_history_budget(spec.options))  # each child's Preflight would refuse
    service = _run(lambda: Service.connect(ClientFactory(ctx.obj), stack_name))
    out.print(fleet_spec_view(spec, str(path)))
    if not yes:
        _confirm("Start this fleet?", "the fleet above")
    arn = _run(lambda: service.start_fleet(spec, digest))
    # One line each, however narrow the terminal: scripts read the ARN.
    out.print(f"fleet: {arn}", soft_wrap=True, highlight=False)
    out.print(
        f"Follow it with `ipsync-migrator status --fleet {arn.rsplit(':', 1)[-1]}`.",
        soft_wrap=True,
        highlight=False,
    )
    if not wait:
        return
    with err.status("Waiting for the fleet..."):
        status = _run(lambda: service.fleet_status(arn))
        while not status["done"]:
            time.sleep(FLEET_POLL_SECONDS)
            status = _run(lambda: service.fleet_status(arn))
    out.print(fleet_status_view(status))
    if status["status"] != "SUCCEEDED":
        raise typer.Exit(code=ExitCode.FAILED)


def _fleet_status(
    ctx: typer.Context, reference: str, output: StatusOutput, query: Any, stack_name: str
) -> None:
    status = _run(
        lambda: Service.connect(ClientFactory(ctx.obj), stack_name).fleet_status(reference)
    )
    if output == StatusOutput.JSONL:
        _print_json_line(status, query)
    else:
        _print_document(status, output, query, partial(fleet_status_view, status))
