"""Powertools Logger, Tracer and Metrics, and the one decorator every handler wears."""

from __future__ import annotations

import functools
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
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="IpsyncMigrator", service=SERVICE)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


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

        traced = tracer.capture_lambda_handler(wrapper)
        logged = logger.inject_lambda_context(traced, clear_state=True)
        return metrics.log_metrics(logged)  # type: ignore[no-any-return]

    return decorate
