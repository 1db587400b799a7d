"""Fault rules for the local emulator: make chosen AWS calls fail, or lie about health.

A rule is matched against every call that reaches moto (see ``realism.py``). Test-only code:
Lambda code never imports this package.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.core.exceptions import ServiceException

from ipsync_migrator.errors import InvalidInputError

#: States a ``target_health`` rule may report (the states of DescribeTargetHealth).
TARGET_STATES = frozenset({"initial", "healthy", "unhealthy", "unused", "draining", "unavailable"})

_DICT_KEYS = {
    "service": "service",
    "operation": "operation",
    "errorCode": "error_code",
    "error_code": "error_code",
    "message": "message",
    "match": "match",
    "times": "times",
    "targetHealth": "target_health",
    "target_health": "target_health",
    "after": "after",
    "details": "details",
    "applied": "applied",
}


@dataclass(frozen=True)
class FaultRule:
    """One injected fault: calls of ``service``/``operation`` matching ``match`` fail.

    ``error_code`` makes the call fail with that code, with ``details`` as further members
    of a JSON protocol's error (DynamoDB's ``CancellationReasons``); ``target_health``
    (DescribeTargetHealth only) instead reports every target in that state. ``times`` is how
    many matching calls are affected (``None`` = forever). ``applied`` makes the call first
    (the emulator's state changes), then answers with the error: a response lost on its way
    back, which the client's own retry sends again.
    """

    service: str
    operation: str
    error_code: str | None = None
    message: str = "injected fault"
    match: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    target_health: str | None = None
    after: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    applied: bool = False

    def __post_init__(self) -> None:
        if (self.error_code is None) == (self.target_health is None):
            raise ValueError("a fault rule needs exactly one of error_code or target_health")
        if self.target_health is not None:
            if self.operation != "DescribeTargetHealth":
                raise ValueError("target_health only applies to DescribeTargetHealth")
            if self.target_health not in TARGET_STATES:
                raise ValueError(f"target_health must be one of {sorted(TARGET_STATES)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be a positive number, or None for forever")
        if self.after < 0:
            raise ValueError("after must be 0 or more matching calls")
        if (self.details or self.applied) and self.error_code is None:
            raise ValueError("details and applied only apply to an error_code")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FaultRule:
        """Build a rule from a dict with camelCase or snake_case keys."""
        unknown = set(d) - set(_DICT_KEYS)
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        kwargs = {_DICT_KEYS[key]: value for key, value in d.items()}
        if "match" in kwargs:
            kwargs["match"] = {str(k): str(v) for k, v in (kwargs["match"] or {}).items()}
        return cls(**kwargs)

    def matches(
        self, service: str, operation: str, params: Callable[[], Mapping[str, str]]
    ) -> bool:
        """True if a call of ``service``/``operation`` with ``params()`` is affected."""
        if self.service.lower() != service.lower() or self.operation != operation:
            return False
        if not self.match:
            return True
        actual = params()
        return all(actual.get(key) == value for key, value in self.match.items())


def load_rules(path: str | Path) -> list[FaultRule]:
    """Read rules from a JSON file: ``{"faults": [...]}`` or a bare list."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    items = data.get("faults", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of fault rules")
    return [FaultRule.from_dict(item) for item in items]


def read_rules(path: str | Path) -> list[FaultRule]:
    """`load_rules`, with a clear error and fix for a file that is missing or wrong."""
    fix = (
        'Write {"faults": [{"service": "elbv2", "operation": "ModifyListener", '
        '"errorCode": "AccessDenied", "times": 1}]} (times: a positive number, or null '
        "for every call); see local/faults.py."
    )
    try:
        return load_rules(path)
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot read the faults file {path}: {exc.strerror or exc}.", "Pass an existing file."
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"The faults file {path} is not JSON: {exc}.", fix) from None
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise InvalidInputError(f"The faults file {path} has a bad rule: {exc}.", fix) from None


class FaultBook:
    """The active rules with their remaining counts; safe to use from server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[list[Any]] = []  # [rule, remaining or None, calls to let pass]

    def add(self, rules: Iterable[FaultRule]) -> None:
        with self._lock:
            self._entries.extend([rule, rule.times, rule.after] for rule in rules)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def take(
        self, service: str, operation: str, params: Callable[[], Mapping[str, str]]
    ) -> FaultRule | None:
        """Return the first rule matching this call and use up one of its ``times``."""
        with self._lock:
            for entry in self._entries:
                rule, remaining, unharmed = entry
                if rule.matches(service, operation, params):
                    if unharmed > 0:
                        entry[2] = unharmed - 1
                        return None
                    if remaining is not None:
                        entry[1] = remaining - 1
                        if entry[1] <= 0:
                            self._entries.remove(entry)
                    return rule  # type: ignore[no-any-return]
        return None


class InjectedFault(ServiceException):
    """The error a fault rule raises; moto's serializer writes it in the service's format.

    Relies on moto >= 5.2: ``ServiceException(code, message)`` and its per-protocol error
    serializer, which uses the status code modelled for ``code`` or 400 when unmodelled.
    """
