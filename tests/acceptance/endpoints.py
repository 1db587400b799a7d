"""Where the acceptance suite runs: the local runtime, or a real account the caller names.

One suite, two endpoints. An ``Endpoint`` says how to reach AWS (clients, the CLI's global
options), how to deploy the stack (the local runtime deploys template.yaml into its moto
server as it starts; a real account gets ``sam deploy`` of the ``make build`` artefact), how
patient to be and which migration timings to pass. ``acceptance_run`` builds the estate,
deploys, hands the run to the test, and tears everything down whatever happens.

``python -m tests.acceptance.endpoints teardown RUN_ID`` (same variables as ``make
acceptance``) deletes what an interrupted run left in a real account.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.errors import IpsyncError
from tests.acceptance.estate import (
    AWS_WAITS,
    LOCAL_WAITS,
    TAG_KEY,
    LegacyEstate,
    Names,
    Observed,
    Teardown,
    Waits,
    build_estate,
    delete_objects,
    observe,
    teardown,
)

ENDPOINT_VARIABLE = "IPSYNC_ACCEPTANCE_ENDPOINT"
ACCOUNT_VARIABLE = "IPSYNC_ACCEPTANCE_ACCOUNT"
REGION_VARIABLE = "IPSYNC_ACCEPTANCE_REGION"
ENDPOINTS = ("local", "aws")
REPOSITORY = Path(__file__).resolve().parents[2]
#: The CLI as a user runs it: the console script installed next to this interpreter.
CLI = Path(sys.executable).with_name("ipsync-migrator")
#: Wide enough that no line the CLI prints is wrapped.
_CLI_ENV = {"COLUMNS": "200"}
_EXAMPLE = "make acceptance ACCOUNT=123456789012 REGION=eu-west-1"


class Refused(Exception):
    """The run will not start: what is wrong, and what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message, self.fix = message, fix

    def __str__(self) -> str:
        return f"error: {self.message}\nfix: {self.fix}"


class Endpoint(ABC):
    """Where the suite runs; opened with a run's names, closed after its teardown."""

    name: str
    region: str
    waits: Waits
    #: `migrate` options: seconds on the emulator, production-like (but bounded) on AWS.
    migrate_timings: tuple[str, ...]
    #: The longest one CLI command may take.
    command_timeout: float

    @abstractmethod
    def open(self, names: Names) -> None:
        """Get ready to build `names`' estate."""

    @abstractmethod
    def clients(self) -> ClientFactory:
        """Clients with the caller's credentials, pointed at the endpoint."""

    @abstractmethod
    def deploy(self, names: Names) -> None:
        """Deploy this repository's stack as `names.stack`; return once it is complete."""

    def global_options(self) -> list[str]:
        return ["--region", self.region]

    def teardown(self, names: Names) -> Teardown:
        return teardown(self.clients(), names.run_id, self.waits)

    def teardown_hint(self, names: Names) -> str:
        """How to delete what an interrupted run left ("" when nothing can outlive it)."""
        return ""

    def close(self) -> None:  # noqa: B027 (nothing to release by default)
        """Release what `open` took."""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `ipsync-migrator GLOBAL-OPTIONS ARGS` as a user would; never raises on exit codes."""
        return subprocess.run(
            [str(CLI), *self.global_options(), *args],
            capture_output=True,
            text=True,
            timeout=self.command_timeout,
            env={**os.environ, **_CLI_ENV},
            check=False,
        )


class LocalEndpoint(Endpoint):
    """The local runtime (``LocalRuntime``): template.yaml in a moto server, real handlers."""

    name = "local"
    waits = LOCAL_WAITS
    migrate_timings = (
        "--poll-seconds", "1",
        "--health-timeout-seconds", "120",
        "--bake-seconds", "1",
        "--drain-seconds", "0",
    )  # fmt: skip
    command_timeout = 180.0

    def __init__(self) -> None:
        from ipsync_migrator.local.runtime import DEFAULT_REGION, LocalRuntime

        self.region = DEFAULT_REGION
        self._runtime_class = LocalRuntime
        self._runtime: Any = None

    def open(self, names: Names) -> None:
        # The runtime deploys the stack as it starts (it is the emulator the estate lives in).
        self._runtime = self._runtime_class(port=0, seed=None, stack_name=names.stack).start()

    def clients(self) -> ClientFactory:
        return ClientFactory(AwsTarget(region=self.region, endpoint_url=self._endpoint()))

    def deploy(self, names: Names) -> None:
        _expect_deployed(self.clients(), names.stack)

    def global_options(self) -> list[str]:
        return [*super().global_options(), "--endpoint-url", self._endpoint()]

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None

    def _endpoint(self) -> str:
        if self._runtime is None:
            raise RuntimeError("the local endpoint is not open")
        return str(self._runtime.endpoint)


@dataclass
class AwsEndpoint(Endpoint):
    """A real account, named by the caller and matched against the credentials' account."""

    account: str
    region: str
    profile: str | None
    sam: Path
    build_dir: Path
    name = "aws"
    waits = AWS_WAITS
    # Health checks of an alb group every 30 s, 5 in a row before healthy: about 2.5 min.
    migrate_timings = (
        "--poll-seconds", "15",
        "--health-timeout-seconds", "600",
        "--bake-seconds", "120",
        "--drain-seconds", "60",
    )  # fmt: skip
    command_timeout = 2700.0
    _clients: ClientFactory | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str], deploying: bool = True) -> AwsEndpoint:
        """Refuse unless an account and region are named and the credentials are that account's.

        `deploying`: also refuse without the SAM CLI and the `make build` artefact.
        """
        account = env.get(ACCOUNT_VARIABLE, "").strip()
        region = env.get(REGION_VARIABLE, "").strip()
        if not account:
            raise Refused(
                "The acceptance run creates (and deletes) billable resources in a real AWS "
                "account, and no account was named.",
                f"Name it and its region: `{_EXAMPLE}` (or set {ACCOUNT_VARIABLE} and "
                f"{REGION_VARIABLE}).",
            )
        if not re.fullmatch(r"\d{12}", account):
            raise Refused(
                f"'{account}' is not an AWS account id (12 digits).",
                "Pass the account's id, e.g. from `aws sts get-caller-identity --query Account`.",
            )
        if not region:
            raise Refused(
                f"No region named for the acceptance run in account {account}.",
                f"Name it: `{_EXAMPLE}` (or set {REGION_VARIABLE}).",
            )
        if env.get("AWS_ENDPOINT_URL"):
            raise Refused(
                f"AWS_ENDPOINT_URL is set ({env['AWS_ENDPOINT_URL']}), but this run is for a real "
                "account.",
                "Unset AWS_ENDPOINT_URL; for the local variant run `pytest tests/acceptance`.",
            )
        endpoint = cls(
            account=account,
            region=region,
            profile=env.get("AWS_PROFILE") or None,
            # Relative paths (the Makefile's) are the repository's.
            sam=REPOSITORY / env.get("SAM", ".tools/sam/bin/sam"),
            build_dir=REPOSITORY / env.get("IPSYNC_BUILD_DIR", ".aws-sam/build"),
        )
        endpoint._check_identity()
        if deploying:
            endpoint._check_tools()
        return endpoint

    def open(self, names: Names) -> None:
        pass  # the account was checked when the endpoint was made

    def clients(self) -> ClientFactory:
        if self._clients is None:
            self._clients = ClientFactory(AwsTarget(region=self.region, profile=self.profile))
        return self._clients

    def deploy(self, names: Names) -> None:
        """`sam deploy` of the built template, as README's "Deploying the service" does."""
        command = [
            str(self.sam), "deploy",
            "--template-file", str(self.build_dir / "template.yaml"),
            "--stack-name", names.stack,
            "--resolve-s3",
            "--s3-prefix", names.stack,
            "--capabilities", "CAPABILITY_IAM",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--region", self.region,
            "--tags", f"{TAG_KEY}={names.run_id}",
        ]  # fmt: skip
        if self.profile:
            command += ["--profile", self.profile]
        _say(f"$ {shlex.join(command)}")
        # Output goes to the terminal: a deployment takes minutes and says what it does.
        completed = subprocess.run(
            command,
            cwd=REPOSITORY,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
            timeout=self.command_timeout,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(f"sam deploy failed with exit code {completed.returncode}")
        _expect_deployed(self.clients(), names.stack)

    def teardown_hint(self, names: Names) -> str:
        return (
            f"{ENDPOINT_VARIABLE}=aws {ACCOUNT_VARIABLE}={self.account} "
            f"{REGION_VARIABLE}={self.region} .venv/bin/python -m tests.acceptance.endpoints "
            f"teardown {names.run_id}"
        )

    def teardown(self, names: Names) -> Teardown:
        result = super().teardown(names)
        # What `sam deploy --resolve-s3` uploaded, under the run's own prefix of SAM's bucket.
        try:
            removed = _delete_artefacts(self.clients(), names.stack)
            if removed:
                result.deleted.append(f"{removed} artefact(s) s3://.../{names.stack}/")
        except (ClientError, BotoCoreError) as exc:
            result.problems.append(f"artefacts under {names.stack}/: {exc}")
        return result

    def _check_identity(self) -> None:
        try:
            identity = self.clients().client("sts").get_caller_identity()
        except IpsyncError as exc:  # profile or region problems, from the client factory
            raise Refused(exc.message, exc.remediation) from exc
        except NoCredentialsError as exc:
            raise Refused(
                f"No AWS credentials were found for account {self.account}.",
                "Log in to it (`aws sso login --profile NAME` and AWS_PROFILE=NAME), or set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
            ) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise Refused(
                f"AWS refused the credentials ({code}) while checking account {self.account}.",
                "Refresh them (`aws sso login`, new keys) and run again.",
            ) from exc
        except BotoCoreError as exc:
            raise Refused(
                f"Cannot ask AWS who the credentials belong to: {exc}.",
                "Check the network and the region.",
            ) from exc
        if identity["Account"] != self.account:
            raise Refused(
                f"The credentials are for account {identity['Account']} ({identity['Arn']}), "
                f"not the named account {self.account}.",
                f"Use credentials of {self.account} (e.g. AWS_PROFILE=...), or name "
                f"{identity['Account']} if that is the account you mean.",
            )

    def _check_tools(self) -> None:
        if not (self.build_dir / "template.yaml").is_file():
            raise Refused(
                f"No built template at {self.build_dir / 'template.yaml'}.",
                "Run `make build` (`make acceptance` runs it first).",
            )
        if not self.sam.is_file():
            raise Refused(
                f"No SAM CLI at {self.sam}.",
                "Run `make validate` or `make acceptance`: they install it into .tools/sam.",
            )


def make_endpoint(name: str, env: Mapping[str, str]) -> Endpoint:
    if name == "local":
        return LocalEndpoint()
    if name == "aws":
        return AwsEndpoint.from_env(env)
    raise Refused(
        f"Unknown acceptance endpoint '{name}'.",
        f"Set {ENDPOINT_VARIABLE} to one of: {', '.join(ENDPOINTS)}.",
    )


def selected_endpoint(env: Mapping[str, str]) -> str:
    return env.get(ENDPOINT_VARIABLE, "").strip() or "local"


# ---- one run -------------------------------------------------------------------------------


@dataclass
class Run:
    """One acceptance run: its estate, and the CLI and checks against it."""

    endpoint: Endpoint
    names: Names
    estate: LegacyEstate
    #: (command, seconds) of every CLI command, in order.
    timings: list[tuple[str, float]] = field(default_factory=list)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        completed = self.endpoint.cli(*args)
        self.timings.append((args[0], time.monotonic() - started))
        return completed

    @property
    def stack_option(self) -> tuple[str, str]:
        return ("--stack-name", self.names.stack)

    def observe(self) -> Observed:
        return observe(self.endpoint.clients(), self.estate)


def new_run_id() -> str:
    return secrets.token_hex(4)


@contextmanager
def acceptance_run(endpoint: Endpoint, run_id: str | None = None) -> Iterator[Run]:
    """Build the estate and deploy the stack; tear all of it down on the way out, always.

    A failure in the body propagates after the teardown (whose leftovers are printed); a
    body that succeeded fails here if the teardown left anything behind.
    """
    names = Names(run_id or new_run_id())
    hint = endpoint.teardown_hint(names)
    _say(
        f"acceptance run {names.run_id} on {endpoint.name} ({endpoint.region})"
        + (f"; if it is interrupted, clean up with: {hint}" if hint else "")
    )
    started = time.monotonic()
    endpoint.open(names)
    try:
        try:
            estate = build_estate(endpoint.clients(), names.run_id, endpoint.waits)
            _say(f"estate built ({time.monotonic() - started:.0f} s)")
            endpoint.deploy(names)
            _say(f"stack {names.stack} deployed ({time.monotonic() - started:.0f} s)")
            yield Run(endpoint, names, estate)
        finally:
            torn_down = time.monotonic()
            result = endpoint.teardown(names)
            _say(_summary(result, time.monotonic() - torn_down))
        if result.leftovers or result.problems:
            raise AssertionError(_summary(result))
    finally:
        endpoint.close()


def _summary(result: Teardown, seconds: float | None = None) -> str:
    took = f" ({seconds:.0f} s)" if seconds is not None else ""
    lines = [f"teardown{took} deleted: {', '.join(result.deleted) or 'nothing'}"]
    lines += [f"  problem: {p}" for p in result.problems]
    lines += [f"  LEFT OVER: {item}" for item in result.leftovers]
    return "\n".join(lines)


def _expect_deployed(clients: ClientFactory, stack: str) -> None:
    status = clients.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0][
        "StackStatus"
    ]
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise AssertionError(f"stack {stack} is {status}, not deployed")


def _delete_artefacts(clients: ClientFactory, prefix: str) -> int:
    """Objects under `prefix/` in the bucket of SAM's managed stack (created once per region)."""
    cfn, s3 = clients.client("cloudformation"), clients.client("s3")
    try:
        outputs = cfn.describe_stacks(StackName="aws-sam-cli-managed-default")["Stacks"][0]
    except ClientError:
        return 0  # no managed bucket: nothing was uploaded
    bucket = next(
        (o["OutputValue"] for o in outputs.get("Outputs", []) if o["OutputKey"] == "SourceBucket"),
        None,
    )
    if bucket is None:
        return 0
    return delete_objects(s3, bucket, f"{prefix}/")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    """`teardown RUN_ID`: delete what a run left (the same checks as `make acceptance`)."""
    if len(argv) != 2 or argv[0] != "teardown":
        print("usage: python -m tests.acceptance.endpoints teardown RUN_ID", file=sys.stderr)
        return 2
    try:
        if selected_endpoint(os.environ) != "aws":
            raise Refused(
                "Only a real account keeps resources after a run (the local runtime is wiped).",
                f"Set {ENDPOINT_VARIABLE}=aws, {ACCOUNT_VARIABLE} and {REGION_VARIABLE}.",
            )
        endpoint = AwsEndpoint.from_env(os.environ, deploying=False)
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 2
    result = endpoint.teardown(Names(argv[1]))
    print(_summary(result))
    return 1 if result.leftovers or result.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
