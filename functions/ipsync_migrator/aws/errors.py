"""Turn botocore exceptions into the project's named errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

from ipsync_migrator.clients import translate_connection_errors
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

_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}
_NOT_FOUND_SUFFIXES = ("NotFound", "NotFoundException", "NotFoundFault", "DoesNotExist")
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
}
#: Timeouts and dropped connections that outlast the client's retries: transient, unlike an
#: endpoint that cannot be reached at all (EndpointConnectionError: a configuration problem).
_UNANSWERED = (ReadTimeoutError, ConnectTimeoutError, ConnectionClosedError)
_INVALID = {"ValidationError", "ValidationException", "InvalidParameterValueException"}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: ClientError, operation: str) -> IpsyncError:
    """Map one ClientError to a domain error that names the problem and the fix."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or code
    if code in _ACCESS_DENIED:
        return AccessDeniedError(
            f"Access denied calling {operation}: {message}",
            f"Grant the caller permission for {operation} (see template.yaml / member-role.yaml).",
        )
    if code in _BAD_CREDENTIALS:
        return ConfigurationError(
            f"AWS rejected the credentials ({code}).",
            "Refresh them (`aws sso login`, `aws configure`) or pass another --profile.",
        )
    if code.endswith(_NOT_FOUND_SUFFIXES) or code == "ResourceNotFoundException":
        return NotFoundError(
            f"{operation}: {message}",
            "Check the ARN or name, and that --region and the account are the right ones.",
        )
    if code in _THROTTLED:
        return ThrottledError(
            f"{operation} is throttled by AWS ({code}).",
            "Retry later, or lower the fleet's concurrency.",
        )
    if code in _INVALID:
        return InvalidInputError(f"{operation} rejected the request: {message}")
    error = AwsServiceError(f"{operation} failed: {code}: {message}")
    error.code = code or AwsServiceError.code
    return error


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Run AWS calls, re-raising their failures as domain errors."""
    try:
        yield
    except ClientError as exc:
        raise translate(exc, operation) from exc
    except _UNANSWERED as exc:
        raise AwsUnavailableError(
            f"{operation} got no answer from AWS in time ({type(exc).__name__}).",
            "Retry; the state machine retries the step by itself.",
        ) from exc
    except BotoCoreError as exc:
        translated = translate_connection_errors(exc)
        if translated is exc:
            raise AwsServiceError(f"{operation} failed: {exc}") from exc
        raise translated from exc
