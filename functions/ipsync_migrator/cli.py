"""The `ipsync-migrator` command line: a client of the same core the Lambda functions use."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.discovery import discover
from ipsync_migrator.errors import IpsyncError, NotFoundError
from ipsync_migrator.models import DiscoveryReport
from ipsync_migrator.planning import plan_migration
from ipsync_migrator.render import discovery_table, make_console, plan_view

app = typer.Typer(
    name="ipsync-migrator",
    help="Move NLBs off the Lambda IP-sync workaround onto ALB-type target groups.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
T = TypeVar("T")
out = make_console()
err = make_console(stderr=True)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table or json")]


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
) -> None:
    ctx.obj = AwsTarget.from_env(
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        role_arn=role_arn,
        external_id=external_id,
    )


@app.command("discover")
def discover_command(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """Find and classify every legacy IP-sync deployment (read-only)."""
    report = _run(lambda: _discover(ClientFactory(ctx.obj), output))
    if output == Output.JSON:
        _print_json(report.public_dict())
    else:
        out.print(discovery_table(report))


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    reference: Annotated[
        str, typer.Argument(help="Deployment id, legacy target group ARN or function name.")
    ],
    output: OutputOption = Output.TABLE,
) -> None:
    """Show the exact changes a migration would make (writes nothing)."""

    def build() -> Any:
        report = _discover(ClientFactory(ctx.obj), output)
        deployment = report.find(reference)
        if deployment is None:
            raise NotFoundError(
                f"No legacy IP-sync deployment matches '{reference}'.",
                "Run `ipsync-migrator discover` to list ids, target groups and functions.",
            )
        return plan_migration(deployment)

    plan = _run(build)
    if output == Output.JSON:
        _print_json(plan.to_json_dict())
    else:
        out.print(plan_view(plan))


@app.command("demo")
def demo_command() -> None:
    """Seed the embedded emulator with a demo estate, then discover and plan it."""
    from ipsync_migrator.local.demo import run_demo

    _run(lambda: run_demo(out))


def _discover(clients: ClientFactory, output: Output) -> DiscoveryReport:
    if output == Output.JSON or not err.is_terminal:
        return discover(clients)
    with err.status("Scanning...") as status:
        return discover(clients, progress=lambda message: status.update(f"{message}..."))


def _run(action: Callable[[], T]) -> T:
    """Run a command body; project errors become one clear line and exit code 2."""
    with _clear_errors():
        return action()
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _clear_errors() -> Iterator[None]:
    try:
        yield
    except IpsyncError as exc:
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.remediation:
            err.print(f"[bold]fix:[/] {exc.remediation}", highlight=False)
        raise typer.Exit(code=2) from None


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
