"""Powertools Logger, Tracer and Metrics, and the one decorator every handler wears."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from ipsync_migrator.errors import InvalidInputError, validation_problems

SERVICE = "ipsync-migrator"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="IpsyncMigrator", service=SERVICE)
#: The X-Ray trace header Lambda sets for each invocation under active tracing
#: (docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html, _X_AMZN_TRACE_ID).
TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


@functools.cache
def tracer() -> Tracer:
    """Powertools' Tracer, built at the first traced invocation, never at import.

    Building it imports the X-Ray SDK and patches botocore, which would otherwise be most of
    a cold start beyond boto3 (docs/benchmarks.md). Boto3 clients made before still send
    their subsegments: the patch is on botocore's client class.
    """
    return Tracer(service=SERVICE)


def invocation_traced() -> bool:
    """Whether X-Ray records this invocation: a trace header that did not decide `Sampled=0`.

    An unsampled invocation sends no segment whatever the SDK does
    (docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader),
    and no header means tracing is off (not on Lambda, or no active tracing).
    """
    header = os.environ.get(TRACE_HEADER_ENV, "")
    return bool(header) and "Sampled=0" not in header.split(";")


def _traced_when_sampled(handler: Handler) -> Handler:
    """The handler in Tracer's subsegment when the invocation is traced, bare otherwise."""

    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if not invocation_traced():
            return handler(event, context)
        return _captured(handler)(event, context)

    return wrapper


@functools.cache
def _captured(handler: Handler) -> Handler:
    return tracer().capture_lambda_handler(handler)  # type: ignore[no-any-return]


def parse(model: type[M], event: Any) -> M:
    """Validate a Lambda event at the edge; a bad one is an InvalidInputError naming the fields."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = validation_problems(exc, "event")
        raise InvalidInputError(
            f"Invalid {model.__name__}: {problems}.",
            "Send the input described in README.md (samples in events/).",
        ) from None


def step_handler(step: str) -> Callable[[Handler], Handler]:
    """Logging with the migration id as correlation id, tracing, and step metrics."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            migration_id = event.get("migrationId") if isinstance(event, dict) else None
            logger.set_correlation_id(migration_id)
            logger.append_keys(step=step)
            metrics.add_dimension(name="step", value=step)
            started = time.monotonic()
            try:
                result = handler(event, context)
            except Exception as exc:
                metrics.add_metric(name="StepFailed", unit=MetricUnit.Count, value=1)
                logger.warning("step failed", extra={"error": type(exc).__name__})
                raise
            metrics.add_metric(name="StepCompleted", unit=MetricUnit.Count, value=1)
            metrics.add_metric(
                name="StepDuration",
                unit=MetricUnit.Milliseconds,
                value=(time.monotonic() - started) * 1000,
            )
            logger.info("step completed", extra={"result": result})
            return result

        traced = _traced_when_sampled(wrapper)
        logged = logger.inject_lambda_context(traced, clear_state=True)
        return metrics.log_metrics(logged)  # type: ignore[no-any-return]

    return decorate
