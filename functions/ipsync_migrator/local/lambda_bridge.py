"""Lambda bridge: moto's Lambda runs this project's real handlers in-process.

moto runs function code only in Docker. This adapter patches
``moto.awslambda.models.LambdaFunction.invoke(self, body, request_headers, response_headers)``
so that a function whose ``Handler`` starts with ``ipsync_migrator.`` runs the handler of this
package in the calling (server) thread, the way the Lambda Python runtime would:

- the handler is imported from its Handler string (``module.path.function``);
- the function's environment variables apply for the call, plus what the Lambda runtime sets
  (region, function name, fake credentials) and, in server mode, ``AWS_ENDPOINT_URL`` so the
  handler's boto3 calls reach the emulator; the process environment is restored afterwards;
- calls are serialized (one lock), because the environment is process-wide;
- while the handler runs, ``current_function()`` (a context variable, so per thread) names
  the function, for the call log (``call_log.py``) to attribute the handler's AWS calls;
- an exception becomes Lambda's error payload ``{"errorType", "errorMessage", "stackTrace"}``
  with ``X-Amz-Function-Error: Unhandled``; moto's Step Functions interpreter then names the
  state's error after ``errorType`` (relied on: ``state_task_service_lambda._from_error``), so
  the state machine's Retry/Catch match on our exception class names.

Every other function keeps moto's own behaviour. Lambda code never imports this module.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aws_lambda_powertools import Metrics
from moto.awslambda.models import LambdaFunction

from ipsync_migrator.handlers.runtime import forget_containers
from ipsync_migrator.local.clock import AwsClock

__all__ = [
    "BRIDGED_HANDLER_PREFIX",
    "LambdaBridge",
    "LambdaContext",
    "RunningFunction",
    "current_function",
    "running_as",
]

#: Functions whose Handler starts with this run in-process; all others are left to moto.
BRIDGED_HANDLER_PREFIX = "ipsync_migrator."

#: Set for every bridged call unless the function's own environment sets them: no X-Ray
#: daemon here, no EMF metric lines on stdout, and only warnings from the handlers' logs.
RUNTIME_DEFAULTS = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
#: Fake credentials: the emulator accepts any, and real ones must never be used.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
#: Removed for the call: they would point boto3 elsewhere than the emulator.
CLEARED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")
#: The stdlib logger behind Powertools' Logger(service=...) in observability.py.
HANDLER_LOGGER = "ipsync-migrator"

_MISSING = object()
_active: LambdaBridge | None = None
_install_lock = threading.Lock()


@dataclass(frozen=True)
class RunningFunction:
    """The function whose handler runs in this thread: its name, ARN, region and role."""

    name: str
    arn: str
    region: str
    role: str


_running: ContextVar[RunningFunction | None] = ContextVar("ipsync_running_function", default=None)


def current_function() -> RunningFunction | None:
    """The bridged function running in this thread (None outside a bridged invocation)."""
    return _running.get()


@contextmanager
def running_as(function: RunningFunction) -> Iterator[None]:
    """The block runs as `function`'s handler (the bridge's run(); tests of call_log.py)."""
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaBridge:
    """Installs the patch; ``endpoint_url`` is the moto server's URL (None: in-process mock)."""

    def __init__(self, endpoint_url: str | None = None, clock: AwsClock | None = None) -> None:
        self.endpoint_url = endpoint_url
        #: AWS's clock, if any: it runs at the real rate while a handler runs.
        self.clock = clock
        self.invocations = 0
        self._call_lock = threading.Lock()
        self._saved: Any = _MISSING

    # -- life cycle -------------------------------------------------------------------------

    def install(self) -> LambdaBridge:
        """Patch moto (idempotent). Only one bridge can be installed at a time."""
        global _active
        with _install_lock:
            if _active is self:
                return self
            if _active is not None:
                raise RuntimeError("another LambdaBridge is installed: uninstall it first")
            self._saved = LambdaFunction.__dict__.get("invoke", _MISSING)
            LambdaFunction.invoke = _patch_invoke(LambdaFunction.invoke)  # type: ignore[method-assign]
            _active = self
        forget_containers()  # warm containers belong to one emulator: none from another
        return self

    def uninstall(self) -> None:
        """Restore moto's ``LambdaFunction.invoke`` exactly as it was; wait for a call in flight."""
        global _active
        with _install_lock:
            if _active is not self:
                return
            if self._saved is _MISSING:
                del LambdaFunction.invoke
            else:
                LambdaFunction.invoke = self._saved  # type: ignore[method-assign]
            self._saved = _MISSING
            _active = None
        # Wait for a call in flight: it restores the environment when it ends.
        with self._call_lock:
            pass
        forget_containers()

    def __enter__(self) -> LambdaBridge:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    # -- one invocation ---------------------------------------------------------------------

    def run(self, function: Any, event: Any) -> tuple[bytes, bool]:
        """Run the function's handler on ``event``: (payload, True when it raised)."""
        context = LambdaContext(
            function_name=str(function.function_name),
            function_version=str(getattr(function, "version", "$LATEST")),
            invoked_function_arn=str(function.function_arn),
            memory_limit_in_mb=int(function.memory_size or 128),
            timeout_seconds=float(function.timeout or 3),
        )
        with self._call_lock:
            self.invocations += 1
            with _environment(self._environment_for(function)):
                try:
                    handler = _load_handler(str(function.handler))
                except Exception as exc:  # the runtime's name for it: not the handler's error
                    return _error_payload(exc, context, "Runtime.ImportModuleError"), True
                running = RunningFunction(
                    name=context.function_name,
                    arn=context.invoked_function_arn,
                    region=str(function.region),
                    role=str(function.role or ""),
                )
                timed = self.clock.real_speed() if self.clock else contextlib.nullcontext()
                try:
                    with timed, running_as(running), _fresh_handler_state():
                        result = handler(event, context)
                except Exception as exc:
                    return _error_payload(exc, context), True
        try:
            return json.dumps(result).encode("utf-8"), False
        except (TypeError, ValueError) as exc:
            # The Lambda runtime cannot serialize it either: same error name as AWS.
            return _error_payload(exc, context, "Runtime.MarshalError"), True

    def _environment_for(self, function: Any) -> dict[str, str | None]:
        variables: dict[str, str | None] = dict.fromkeys(CLEARED_VARIABLES)
        variables.update(RUNTIME_DEFAULTS)
        variables.update(
            {key: str(value) for key, value in (function.environment_vars or {}).items()}
        )
        variables.update(FAKE_CREDENTIALS)
        variables.update(
            {
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_LAMBDA_FUNCTION_NAME": str(function.function_name),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size or 128),
                "AWS_LAMBDA_FUNCTION_VERSION": str(getattr(function, "version", "$LATEST")),
                "_HANDLER": str(function.handler),
            }
        )
        if self.endpoint_url:
            variables["AWS_ENDPOINT_URL"] = self.endpoint_url
        return variables


def _patch_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: moto's Lambda responses (``invoke`` and ``invoke_async``) call
    ``LambdaFunction.invoke(body, request_headers, response_headers)`` with the raw JSON body,
    return its bytes as the payload, and copy ``response_headers`` into the HTTP response
    (``x-amz-function-error``, ``x-amz-log-result``)."""

    def invoke(
        self: Any, body: str | bytes | None, request_headers: Any, response_headers: Any
    ) -> str | bytes:
        bridge = _active
        if bridge is None or not str(self.handler or "").startswith(BRIDGED_HANDLER_PREFIX):
            return original(self, body, request_headers, response_headers)  # type: ignore[no-any-return]
        invocation_type = request_headers.get("x-amz-invocation-type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        event = json.loads(body) if body else {}
        started = time.monotonic()
        payload, failed = bridge.run(self, event)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        elapsed_ms = (time.monotonic() - started) * 1000
        tail = f"END\nREPORT Duration: {elapsed_ms:.2f} ms\n"
        response_headers["x-amz-log-result"] = base64.b64encode(tail.encode()).decode()
        return payload

    return invoke


def _load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = handler.rpartition(".")
    module = importlib.import_module(module_name)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ImportError(f"Handler '{attribute}' missing on module '{module_name}'")
    return function  # type: ignore[no-any-return]


@contextmanager
def _fresh_handler_state() -> Iterator[None]:
    """What a fresh environment means here: the handlers' log level taken from it (Powertools
    reads it only at import), and no metrics carried over to the next call. The steps'
    clients stay warm, as in a warm Lambda container: handlers/runtime.py keeps them per
    function (AWS_LAMBDA_FUNCTION_NAME) and settings, as each function's container would."""
    logger = logging.getLogger(HANDLER_LOGGER)
    previous = logger.level
    level = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "WARNING"
    logger.setLevel(level.upper())
    try:
        yield
    finally:
        logger.setLevel(previous)
        # Powertools keeps metrics in class attributes and, with metrics disabled, never
        # clears them: the next call would warn about a duplicate dimension.
        Metrics().clear_metrics()


def _error_payload(
    exc: BaseException, context: LambdaContext, error_type: str | None = None
) -> bytes:
    """Lambda's payload for an unhandled exception (Python runtime format)."""
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": error_type or type(exc).__name__,
            "requestId": context.aws_request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
        }
    ).encode("utf-8")


@contextmanager
def _environment(variables: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) variables for the block; restore them exactly after."""
    saved = {key: os.environ.get(key) for key in variables}
    try:
        for key, value in variables.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, previous in saved.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous
