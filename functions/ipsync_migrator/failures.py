"""Why a migration failed, as a person needs it: the error's name, one line, and the fix.

A failure reaches the CLI as a Lambda error payload (`{"errorMessage", "errorType",
"stackTrace"}`), as a state machine's error and cause (the cause is often that payload, as
text), or as the journal's last error (`Name: cause`, written by the ASL's Rollback). The
traceback is for `--output json` only.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from ipsync_migrator.errors import FIX_SEPARATOR

#: One line, not a page: longer messages are cut, with a mark, at this length.
MAX_MESSAGE_CHARS = 400
_PAYLOAD_FIELD = r'"{}"\s*:\s*"((?:[^"\\]|\\.)*)"'


@dataclass(frozen=True)
class Failure:
    #: The error's name (AccessDeniedError, States.Timeout, ApprovalTimedOut, ...).
    error: str
    message: str
    fix: str = ""
    #: The state machine state that failed (Cutover, HealthGateFailed, ...), when known.
    step: str = ""
    #: How the execution ended because of it (MigrationRolledBack, ...), when that differs.
    outcome: str = ""

    def headline(self) -> str:
        """`step: Error: message`, one line."""
        where = f"{self.step}: " if self.step else ""
        name = f"{self.error}: " if self.error else ""
        return f"{where}{name}{self.message}"

    def to_json_dict(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value}


def from_execution(error: str | None, cause: str | None, step: str = "") -> Failure | None:
    """The failure of an execution (or of one of its tasks) from its error and cause."""
    if not error and not cause:
        return None
    payload = lambda_payload(cause or "")
    if payload is None:
        message, fix = split_fix(cause or "")
        return Failure(error or "", message, fix, step)
    name = str(payload.get("errorType") or error or "")
    message, fix = split_fix(str(payload.get("errorMessage") or ""))
    outcome = error if error and error != name else ""
    return Failure(name, message, fix, step, outcome or "")


def from_journal(last_error: str | None) -> Failure | None:
    """The failure a journal record holds: `Name: cause`, or a plain reason."""
    if not last_error:
        return None
    name, sep, cause = last_error.partition(": ")
    if sep and re.fullmatch(r"[A-Za-z][\w.]*", name):
        return from_execution(name, cause)
    message, fix = split_fix(last_error)
    return Failure("", message, fix)


def lambda_payload(text: str) -> dict[str, Any] | None:
    """A Lambda error payload in `text` (whole, or cut short by Step Functions), else None."""
    if '"errorMessage"' not in text and '"errorType"' not in text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    found: dict[str, Any] = {}
    for field in ("errorMessage", "errorType"):
        match = re.search(_PAYLOAD_FIELD.format(field), text)
        if match:
            try:
                found[field] = json.loads(f'"{match.group(1)}"')
            except ValueError:
                found[field] = match.group(1)
    return found or None


def split_fix(text: str) -> tuple[str, str]:
    """`message fix: remediation` as (message, remediation), each on one line."""
    message, sep, fix = text.rpartition(FIX_SEPARATOR)
    if not sep:
        message, fix = text, ""
    return one_line(message), one_line(fix)


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) as one space; cut at MAX_MESSAGE_CHARS."""
    flat = " ".join(text.split())
    if len(flat) > MAX_MESSAGE_CHARS:
        return flat[: MAX_MESSAGE_CHARS - 1] + "…"
    return flat
