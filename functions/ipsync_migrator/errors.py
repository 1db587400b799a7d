"""The named error hierarchy. Every user-facing error says what is wrong and what to do."""

from __future__ import annotations

from pydantic import ValidationError

#: Between an error's message and its remediation in `str(error)` (failures.py splits there).
FIX_SEPARATOR = " fix: "


class IpsyncError(Exception):
    """Base of every error this project raises on purpose."""

    #: Stable name the state machine and CLI match on (never the message text).
    code = "IpsyncError"

    def __init__(self, message: str, remediation: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation

    def __str__(self) -> str:
        # A Lambda function's errorMessage: the CLI splits it again at the separator.
        if not self.remediation:
            return self.message
        return f"{self.message}{FIX_SEPARATOR}{self.remediation}"


class ConfigurationError(IpsyncError):
    """Bad setup: missing credentials, unknown region, unreachable endpoint."""

    code = "ConfigurationError"


class AccessDeniedError(IpsyncError):
    """The caller lacks a permission."""

    code = "AccessDenied"


class NotFoundError(IpsyncError):
    """A named resource does not exist in this account and region."""

    code = "NotFound"


class InvalidInputError(IpsyncError):
    """Malformed input: an event, an ARN, an option."""

    code = "InvalidInput"


class MigrationBlockedError(IpsyncError):
    """The deployment cannot be migrated; findings say why."""

    code = "MigrationBlocked"


class ListenerChangedError(IpsyncError):
    """A listener no longer matches the plan's 'before' state."""

    code = "ListenerChanged"


class LegacyGroupInUseError(IpsyncError):
    """A listener still forwards to the legacy group, so its sync must not be retired."""

    code = "LegacyGroupInUse"


class FingerprintMismatchError(IpsyncError):
    """A resource about to be deleted no longer looks like the legacy deployment."""

    code = "FingerprintMismatch"


class ConcurrentMigrationError(IpsyncError):
    """Another run holds this migration (optimistic lock lost)."""

    code = "ConcurrentMigration"


class StepPreconditionError(IpsyncError):
    """A step was asked to run before the steps it depends on."""

    code = "StepPrecondition"


class ThrottledError(IpsyncError):
    """AWS kept throttling after the client's own retries; the state machine retries later."""

    code = "Throttled"


class AwsUnavailableError(IpsyncError):
    """AWS did not answer in time (connect or read timeout, dropped connection) after the
    client's own retries; like throttling, the state machine retries the step later."""

    code = "AwsUnavailable"


class AwsServiceError(IpsyncError):
    """An AWS error that is not one of the above, passed on with its code."""

    code = "AwsServiceError"


def validation_problems(exc: ValidationError, root: str) -> str:
    """Pydantic's errors as `field.path: message; ...` (`root` names a top-level error)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or root}: {error['msg']}"
        for error in exc.errors()
    )
