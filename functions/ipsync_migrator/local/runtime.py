"""The local runtime: this project's own template deployed into a moto server, real handlers.

``LocalRuntime`` starts a ``ThreadedMotoServer`` on 127.0.0.1, turns on moto's Step Functions
interpreter, installs the Lambda bridge (``lambda_bridge.py``: moto's Lambda runs our
handlers) and the realism adapter (``realism.py``), then deploys ``template.yaml`` through the
emulator's CloudFormation the way ``sam deploy`` would (DOMAIN.md section 5): the code zipped
into an S3 bucket, the ASL inlined, the SAM transform done offline with aws-sam-translator, and
five moto quirks fixed in the transformed template. Executions of the deployed state machine
then run the real handlers, one at a time, in the server's threads; Distributed Maps read
and write S3 as on AWS (``distributed_map.py``).

Every moto behaviour this relies on is named where it is used; ``tests/integration/local/
test_runtime.py`` fails if a moto upgrade changes one of them. Lambda code never imports this.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import DEFAULT_STACK_NAME, AwsTarget
from ipsync_migrator.errors import ConfigurationError, InvalidInputError
from ipsync_migrator.local.clock import DEFAULT_TIME_FACTOR, AwsClock, ScaledWaits
from ipsync_migrator.local.demo_estate import DemoEstate, seed_demo
from ipsync_migrator.local.distributed_map import DistributedMapFixes, decimal_tolerances
from ipsync_migrator.local.event_delivery import EventDelivery
from ipsync_migrator.local.faults import read_rules
from ipsync_migrator.local.lambda_bridge import FAKE_CREDENTIALS, LambdaBridge
from ipsync_migrator.local.realism import Realism

__all__ = ["DEFAULT_TEMPLATE", "SEEDS", "LocalRuntime", "prepare_template"]

DEFAULT_REGION = "us-east-1"
#: functions/ipsync_migrator/local/runtime.py -> the repository root.
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
ARTIFACT_BUCKET = "ipsync-migrator-local-artifacts"
SEEDS = ("demo", "none")
DEPLOY_TIMEOUT_SECONDS = 120
#: Never packaged: build and cache output next to the sources.
_SKIPPED_PARTS = ("__pycache__", ".egg-info", ".mypy_cache", ".pytest_cache")
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_INTRINSICS = ("Ref", "Condition")  # plus every "Fn::..." key
#: Emulator noise, unless verbose: werkzeug logs every request at INFO; moto's ASL interpreter
#: logs every failure event at ERROR, once per enclosing component, even when a Catch handles
#: it (the execution history has the same facts).
_QUIET_LOGGERS = {"werkzeug": logging.WARNING, "moto.stepfunctions.parser.asl": logging.CRITICAL}
#: The topic a runtime with notifications deploys the stack with (NotificationTopicArn).
NOTIFICATION_TOPIC = "ipsync-migrator-notifications"
#: Types whose Ref moto resolves to an object, and the attribute that is AWS's Ref value.
_REF_IS_ATTRIBUTE = {"AWS::Events::EventBus": "Name", "AWS::Events::Archive": "ArchiveName"}
#: Types of the template moto's CloudFormation does not implement (it logs, warns and skips
#: each): the alarms, the dead-letter queue's policy, the replay function's async invoke
#: config. The emulator evaluates no alarm and retries no delivery, so none has an effect.
_NOT_IN_MOTO = frozenset(
    {"AWS::CloudWatch::Alarm", "AWS::SQS::QueuePolicy", "AWS::Lambda::EventInvokeConfig"}
)


class LocalRuntime:
    """The service on a local moto server; a context manager (``with LocalRuntime() as rt``)."""

    def __init__(
        self,
        port: int = 0,
        *,
        seed: str | None = None,
        faults: str | Path | None = None,
        template: str | Path = DEFAULT_TEMPLATE,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
        time_factor: float = DEFAULT_TIME_FACTOR,
        scale_waits: bool = False,
        verbose: bool = False,
        notifications: bool = False,
    ) -> None:
        if seed not in (None, *SEEDS):
            raise InvalidInputError(f"Unknown seed '{seed}'.", f"Use one of: {', '.join(SEEDS)}.")
        self.port = port
        self.seed = seed
        self.faults = Path(faults) if faults is not None else None
        self.template = Path(template)
        self.stack_name = stack_name
        self.region = region
        #: AWS's clock: target health follows it; with scale_waits, Wait states too
        #: (``pollSeconds`` are then AWS seconds, `time_factor` real seconds each).
        #: Handlers run at AWS's real rate only beside scaled waits (benchmarks, clock.py).
        self.clock = AwsClock(time_factor, handlers_at_real_speed=scale_waits)
        self.realism = Realism(self.clock)
        self._waits = ScaledWaits(self.clock) if scale_waits else None
        #: EventBridge to Lambda delivery and replay windows (moto has neither).
        self.events = EventDelivery()
        self.verbose = verbose
        #: With notifications, the stack is deployed with an SNS topic (NotificationTopicArn).
        self.notifications = notifications
        self.notification_topic_arn: str | None = None
        self.outputs: dict[str, str] = {}
        self.demo: DemoEstate | None = None
        #: Seconds the stack deployment took (package, transform, create).
        self.deploy_seconds = 0.0
        self._server: Any = None
        self._bridge: LambdaBridge | None = None
        self._sfn_fixes = _StepFunctionsFixes()
        self._map_fixes = DistributedMapFixes()
        self._saved_env: dict[str, str | None] = {}
        self._saved_config: dict[str, Any] | None = None
        self._saved_log_levels: dict[str, int] = {}

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the local runtime is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server's socket is bound to."""
        if self._server is None:
            raise RuntimeError("the local runtime is not started")
        host, port = self._server.get_host_and_port()
        return str(host), int(port)

    def clients(self) -> ClientFactory:
        """A client factory pointed at the emulator."""
        return ClientFactory(AwsTarget(region=self.region, endpoint_url=self.endpoint))

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        """Start the server, install the adapters, deploy the stack, seed; ready on return."""
        if not self.template.is_file():
            raise ConfigurationError(
                f"No SAM template at {self.template}.",
                "Run from a checkout of the repository, or pass the template's path.",
            )
        if self.faults is not None and not self.faults.is_file():
            raise InvalidInputError(f"No faults file at {self.faults}.", "Pass an existing file.")
        # Read before the deployment: a bad file is refused at once, with nothing started.
        faults = read_rules(self.faults) if self.faults is not None else []
        try:
            self._start_server()
            self._install()
            self._deploy()
            if self.seed == "demo":
                self.demo = seed_demo(self.clients())
            # Faults and call counts start now: deployment and seeding are not under test.
            self.realism.reset()
            for rule in faults:
                self.realism.add_fault(rule)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Uninstall every patch, wipe and stop the server, restore the environment."""
        self.events.uninstall()
        self.realism.uninstall()
        if self._waits is not None:
            self._waits.uninstall()
        if self._bridge is not None:
            self._bridge.uninstall()
            self._bridge = None
        self._sfn_fixes.uninstall()
        self._map_fixes.uninstall()
        if self._server is not None:
            try:
                # The server shares moto's in-process state: leave none behind.
                self._moto_api("reset", method="POST")
                if self._saved_config is not None:
                    self._moto_api("config", self._saved_config, "POST")
            except OSError:
                pass  # the server no longer answers: there is nothing to wipe through it
            finally:
                self._server.stop()
                self._server = None
        _restore(self._saved_env)
        self._saved_env = {}
        for name, level in self._saved_log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._saved_log_levels = {}

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- steps of start() -------------------------------------------------------------------

    def _start_server(self) -> None:
        from moto.server import ThreadedMotoServer

        _check_port_free(self.port)
        if not self.verbose:
            for name, level in _QUIET_LOGGERS.items():
                self._saved_log_levels[name] = logging.getLogger(name).level
                logging.getLogger(name).setLevel(level)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        self.port = server.get_host_and_port()[1]
        # The runtime's own clients: fake credentials, never a profile.
        # The Step Functions interpreter calls Lambda at localhost:$MOTO_PORT (relied on:
        # moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for in server mode).
        self._saved_env = _apply(
            {**FAKE_CREDENTIALS, "AWS_PROFILE": None, "MOTO_PORT": str(self.port)}
        )
        self._saved_config = self._moto_api("config")
        # Relied on: POST /moto-api/config sets moto's process-wide user config, and with
        # execute_state_machine Step Functions interprets the ASL. Not lambda.use_docker=False:
        # that swaps in another Lambda backend whose invoke never reaches the bridge.
        self._moto_api("config", {"stepfunctions": {"execute_state_machine": True}}, "POST")

    def _install(self) -> None:
        self._sfn_fixes.install()
        self._map_fixes.install()
        self._bridge = LambdaBridge(endpoint_url=self.endpoint, clock=self.clock).install()
        self.realism.install()
        if self._waits is not None:
            self._waits.install()
        self.events.install()

    def _deploy(self) -> None:
        started = time.monotonic()
        clients = self.clients()
        s3 = clients.client("s3")
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        template = prepare_template(self.template, self.region, _Uploader(s3, ARTIFACT_BUCKET))
        # The stack's own parameter: handlers log at INFO only when asked to be verbose.
        parameters = {"LogLevel": "INFO" if self.verbose else "WARNING"}
        if self.notifications:
            topic = clients.client("sns").create_topic(Name=NOTIFICATION_TOPIC)
            self.notification_topic_arn = parameters["NotificationTopicArn"] = topic["TopicArn"]
        cfn = clients.client("cloudformation")
        cfn.create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(template),
            Capabilities=_CAPABILITIES,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
        stack = _wait_for_stack(cfn, self.stack_name)
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        self.deploy_seconds = time.monotonic() - started

    def _moto_api(self, path: str, body: Any = None, method: str = "GET") -> Any:
        """Call moto's own API (``/moto-api/...``) on this server."""
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # local URL only
            text = response.read().decode()
        return json.loads(text) if text.strip() else None


def _check_port_free(port: int) -> None:
    """Fail clearly: ThreadedMotoServer.start() waits forever when its thread cannot bind."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option as werkzeug's server, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}.",
                "Stop what uses it, or pick another --port (0 picks a free one).",
            ) from exc


# ---- the template: what `sam package` + the SAM transform do, and moto's quirks ----------


class _Uploader:
    """Zips a local directory into the artifact bucket once; returns its S3 location."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3, self._bucket = s3, bucket
        self._done: dict[Path, dict[str, str]] = {}

    def __call__(self, directory: Path) -> dict[str, str]:
        if directory not in self._done:
            archive = _zip_directory(directory)
            key = f"code/{hashlib.sha256(archive).hexdigest()[:16]}.zip"
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=archive)
            self._done[directory] = {"Bucket": self._bucket, "Key": key}
        return self._done[directory]


def prepare_template(path: Path, region: str, upload: Any) -> dict[str, Any]:
    """The SAM template at ``path`` as plain CloudFormation that moto deploys as AWS would."""
    from samtranslator.yaml_helper import yaml_parse

    template: dict[str, Any] = yaml_parse(path.read_text())
    base = path.parent
    _package(template, base, upload)
    with _temporary_env({"AWS_DEFAULT_REGION": region}):
        transformed = _sam_transform(template)
    _fix_moto_quirks(transformed)
    return transformed


def _package(template: dict[str, Any], base: Path, upload: Any) -> None:
    """What ``sam package`` does: code to S3, state machine definitions inlined."""
    function_globals = template.get("Globals", {}).get("Function", {})
    if _is_local_path(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = upload(base / function_globals["CodeUri"])
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and _is_local_path(properties.get("CodeUri")):
            properties["CodeUri"] = upload(base / properties["CodeUri"])
        if kind == "AWS::Serverless::LayerVersion" and _is_local_path(properties.get("ContentUri")):
            # The layer's sources (requirements and Makefile), not its build: handlers run
            # in-process on the host's packages here; tests/release checks the built layer.
            properties["ContentUri"] = upload(base / properties["ContentUri"])
        if kind == "AWS::Serverless::StateMachine" and _is_local_path(
            properties.get("DefinitionUri")
        ):
            uri = properties.pop("DefinitionUri")
            properties["Definition"] = json.loads((base / uri).read_text())


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(directory.rglob("*")):
            relative = file.relative_to(directory)
            if file.is_file() and not any(part.endswith(_SKIPPED_PARTS) for part in relative.parts):
                # A fixed timestamp: the same sources give the same zip (and S3 key).
                info = zipfile.ZipInfo(relative.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, file.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


class _NoManagedPolicies:
    """The translator's policy loader without IAM: its bundled list covers AWS's policies."""

    def load(self) -> dict[str, str]:
        return {}


def _sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.metrics.method_decorator import MetricsMethodWrapperSingleton
    from samtranslator.translator.transform import transform

    try:
        return transform(template, {}, _NoManagedPolicies())  # type: ignore[arg-type]
    finally:
        # The translator times its own methods into metrics for a no-op publisher; left
        # unpublished, they print "There are unpublished metrics" when collected.
        MetricsMethodWrapperSingleton.get_instance().publish()


def _fix_moto_quirks(template: dict[str, Any]) -> None:
    resources: dict[str, Any] = template.get("Resources", {})
    for resource in resources.values():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Events::Archive" and isinstance(properties.get("EventPattern"), dict):
            # Quirk 1: moto stores an Archive's EventPattern as given and later json.loads it.
            pattern = properties["EventPattern"]
            properties["EventPattern"] = (
                {"Fn::ToJsonString": pattern} if _has_intrinsic(pattern) else json.dumps(pattern)
            )
        elif kind == "AWS::StepFunctions::StateMachine":
            _decimal_tolerance_definition(properties)
            _substitute_definition(properties)
    # Quirk 2: moto's Ref to a resource without a physical id yields the Python object; for
    # these types AWS's Ref is the name, which moto serves as an attribute.
    named = {
        name: _REF_IS_ATTRIBUTE[r.get("Type")]
        for name, r in resources.items()
        if r.get("Type") in _REF_IS_ATTRIBUTE
    }
    for section in ("Resources", "Outputs"):
        if section in template:
            template[section] = _ref_as_attribute(template[section], named)
    # Quirk 4: moto's CloudFormation skips these types with a warning on every start; left
    # out here instead (nothing refers to them: no Ref, GetAtt or DependsOn).
    template["Resources"] = {
        name: r
        for name, r in template.get("Resources", {}).items()
        if r.get("Type") not in _NOT_IN_MOTO
    }


def _decimal_tolerance_definition(properties: dict[str, Any]) -> None:
    """Quirk 5: moto's ASL grammar reads ToleratedFailurePercentage only as a decimal
    (``100`` does not parse, ``100.0`` does: the same number for AWS); see
    ``distributed_map.decimal_tolerances``."""
    definition = _literal(properties.get("DefinitionString"))
    if definition is not None:
        parsed = json.loads(definition)
        if decimal_tolerances(parsed):
            properties["DefinitionString"] = json.dumps(parsed)
    elif isinstance(properties.get("Definition"), dict):
        decimal_tolerances(properties["Definition"])


def _substitute_definition(properties: dict[str, Any]) -> None:
    """Quirk 3: moto reads only ``DefinitionString`` and ignores ``DefinitionSubstitutions``.

    Substitute here, as Step Functions would: only ``${Name}`` for the names given, as a
    ``Fn::Join`` (not ``Fn::Sub``), so ``$$.Execution.Id`` and the like stay as written.
    """
    substitutions: dict[str, Any] = properties.pop("DefinitionSubstitutions", None) or {}
    definition = _literal(properties.get("DefinitionString"))
    if definition is None:
        if "Definition" not in properties:
            return
        definition = json.dumps(properties.pop("Definition"))
    if not substitutions:
        properties["DefinitionString"] = definition
        return
    names = "|".join(re.escape(name) for name in substitutions)
    parts: list[Any] = []
    for index, piece in enumerate(re.split(r"\$\{(" + names + r")\}", definition)):
        if index % 2 == 0:
            if piece:
                parts.append(piece)
        else:
            parts.append(substitutions[piece])
    properties["DefinitionString"] = {"Fn::Join": ["", parts]}


def _literal(value: Any) -> str | None:
    """A string, or a ``Fn::Join`` of plain strings (the translator's form) as one string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, items = value["Fn::Join"]
        if all(isinstance(item, str) for item in items):
            return str(separator).join(items)
    return None


def _has_intrinsic(value: Any) -> bool:
    if isinstance(value, dict):
        if any(key in _INTRINSICS or key.startswith("Fn::") for key in value):
            return True
        return any(_has_intrinsic(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_intrinsic(v) for v in value)
    return False


def _ref_as_attribute(value: Any, named: dict[str, str]) -> Any:
    """Rewrite ``Ref: X`` (and ``${X}`` in ``Fn::Sub``) as ``Fn::GetAtt: [X, named[X]]``."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in named:
            return {"Fn::GetAtt": [value["Ref"], named[value["Ref"]]]}
        if set(value) == {"Fn::Sub"}:
            return {"Fn::Sub": _sub_as_attribute(value["Fn::Sub"], named)}
        return {key: _ref_as_attribute(item, named) for key, item in value.items()}
    if isinstance(value, list):
        return [_ref_as_attribute(item, named) for item in value]
    return value


def _sub_as_attribute(value: Any, named: dict[str, str]) -> Any:
    def rename(text: str) -> str:
        for name, attribute in named.items():
            text = text.replace("${" + name + "}", "${" + name + "." + attribute + "}")
        return text

    if isinstance(value, str):
        return rename(value)
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        return [rename(value[0]), _ref_as_attribute(value[1], named)]
    return value


def _wait_for_stack(cfn: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEPLOY_TIMEOUT_SECONDS
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack
        if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
            events = cfn.describe_stack_events(StackName=name)["StackEvents"]
            reasons = [
                f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                for e in events
                if e.get("ResourceStatus", "").endswith("FAILED")
            ]
            raise ConfigurationError(
                f"Stack {name} did not deploy on the emulator ({status}). {'; '.join(reasons)}",
                "Check template.yaml with `make validate`.",
            )
        time.sleep(0.2)


# ---- moto: Step Functions fixes -------------------------------------------------------------


class _StepFunctionsFixes:
    """Four gaps of moto 5.2.5's Step Functions interpreter backend, fixed while installed.

    1. State machines created by CloudFormation land in the backend that does not execute.
       Relied on: with ``execute_state_machine`` on, the API serves
       ``stepfunctions_parser_backends`` (``moto.stepfunctions.responses.get_backend``), while
       ``StateMachine.create/update/delete_from_cloudformation_json`` use the module global
       ``moto.stepfunctions.models.stepfunctions_backends``, which nothing else reads. Pointing
       it at the parser backends makes a stack's state machine visible to Describe/Start, and
       ``delete_stack`` removes it.
    2. ``StartExecution`` without a name: AWS generates one (a UUID); the parser backend's
       ``start_execution(state_machine_arn, name, ...)`` names it ``None``, so
       ``$$.Execution.Name`` is null and a second such start fails ExecutionAlreadyExists.
    3. The ``states:startExecution(.sync|.sync:2)`` integration (the fleet's child
       migrations): ``StateTaskService._normalise_parameters``/``_normalise_response`` are
       no-ops in moto (LocalStack's originals convert casing), so ``StateMachineArn`` reaches
       boto3 as is (a KeyError, reported as States.Runtime) and the resolvers then read
       ``ExecutionArn`` from a camelCase response. Fixed on ``StateTaskServiceSfn`` only:
       parameters to boto3's camelCase, responses to the API's PascalCase with dates as
       epoch milliseconds, as the task's output is on AWS.
    4. A task token used twice: ``CallbackPoolManager.notify`` keeps answered callbacks, so
       a second ``SendTaskSuccess`` succeeds silently. AWS refuses it (``TaskTimedOut``,
       "Provided task does not exist anymore"): an answered callback now raises that error
       (moto's own ``raise TaskTimedOut()`` omits the message and answers 500).
    """

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []
        self._lock = threading.Lock()

    def install(self) -> None:
        from moto.stepfunctions import models
        from moto.stepfunctions.parser import api as sfn_api
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_sfn as sfn_service,
        )
        from moto.stepfunctions.parser.asl.eval.callback import callback
        from moto.stepfunctions.parser.models import (
            StepFunctionsParserBackend,
            stepfunctions_parser_backends,
        )

        with self._lock:
            if self._saved:
                return
            original_start = StepFunctionsParserBackend.start_execution

            def start_execution(
                backend: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
            ) -> Any:
                return original_start(
                    backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs
                )

            service = sfn_service.StateTaskServiceSfn
            original_parameters = service._normalise_parameters

            def normalise_parameters(
                task: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any
            ) -> None:
                original_parameters(task, parameters, *args, **kwargs)  # Input to a string
                for key in list(parameters):
                    parameters[key[:1].lower() + key[1:]] = parameters.pop(key)

            def normalise_response(task: Any, response: Any, *args: Any, **kwargs: Any) -> None:
                if isinstance(response, dict):
                    for key in list(response):
                        value = response.pop(key)
                        if isinstance(value, datetime.datetime):
                            value = int(value.timestamp() * 1000)
                        response[key[:1].upper() + key[1:]] = value

            pool = callback.CallbackPoolManager
            original_notify = pool.notify

            def notify(manager: Any, callback_id: str, outcome: Any) -> bool:
                endpoint = manager.get(callback_id)
                if endpoint is not None and endpoint._outcome is not None:
                    # Raised here, whole: moto's `TaskTimedOut()` lacks message and type (a 500).
                    raise sfn_api.TaskTimedOut(
                        "Provided task does not exist anymore", exception_type="TaskTimedOut"
                    )
                return bool(original_notify(manager, callback_id, outcome))

            self._saved = [
                (pool, "notify", original_notify),
                (models, "stepfunctions_backends", models.stepfunctions_backends),
                (StepFunctionsParserBackend, "start_execution", original_start),
                (service, "_normalise_parameters", service.__dict__["_normalise_parameters"]),
                (service, "_normalise_response", service.__dict__.get("_normalise_response")),
            ]
            models.stepfunctions_backends = stepfunctions_parser_backends  # type: ignore[assignment]
            StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign,assignment]
            service._normalise_parameters = normalise_parameters  # type: ignore[method-assign,assignment]
            service._normalise_response = normalise_response  # type: ignore[method-assign,assignment]
            pool.notify = notify  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        with self._lock:
            for owner, name, saved in reversed(self._saved):
                if saved is None:  # inherited, not the class's own: remove the override
                    delattr(owner, name)
                else:
                    setattr(owner, name, saved)
            self._saved = []


# ---- the process environment ----------------------------------------------------------------


def _apply(variables: dict[str, str | None]) -> dict[str, str | None]:
    """Set (None: remove) variables; return what they were, for ``_restore``."""
    saved = {key: os.environ.get(key) for key in variables}
    for key, value in variables.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return saved


def _restore(saved: dict[str, str | None]) -> None:
    _apply(saved)


@contextmanager
def _temporary_env(variables: dict[str, str | None]) -> Iterator[None]:
    saved = _apply(variables)
    try:
        yield
    finally:
        _restore(saved)
