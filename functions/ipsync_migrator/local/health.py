"""Target-health model for ALB-type target groups, as AWS reports it.

moto calls every registered target ``healthy`` at once. AWS reports an ``alb`` group's target
``unused`` until a listener forwards to the group, then ``initial`` while health checks run,
then ``healthy``. Here a DescribeTargetHealth call stands in for a health-check interval.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

#: (State, Reason, Description) as DescribeTargetHealth reports them.
STATES: dict[str, tuple[str, str | None, str | None]] = {
    "unused": (
        "unused",
        "Target.NotInUse",
        "Target group is not configured to receive traffic from the load balancer",
    ),
    "initial": ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress"),
    "healthy": ("healthy", None, None),
    "unhealthy": ("unhealthy", "Target.FailedHealthChecks", "Health checks failed"),
    "draining": (
        "draining",
        "Target.DeregistrationInProgress",
        "Target deregistration is in progress",
    ),
    "unavailable": ("unavailable", "Target.HealthCheckDisabled", "Health checks are disabled"),
}


def set_state(status: Any, state: str) -> None:
    """Overwrite a moto ``FakeHealthStatus`` (attributes status/reason/description)."""
    status.status, status.reason, status.description = STATES[state]


def forwarded_target_group_arns(actions: Iterable[Any]) -> Iterator[str]:
    """Target group ARNs a list of listener actions forwards to (plain or weighted).

    Accepts request dicts or moto ``FakeAction`` objects (their request dict is ``.data``).
    """
    for action in actions:
        data = action if isinstance(action, dict) else getattr(action, "data", {})
        if str(data.get("Type", "")).lower() != "forward":
            continue
        if data.get("TargetGroupArn"):
            yield data["TargetGroupArn"]
        for weighted in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
            if weighted.get("TargetGroupArn"):
                yield weighted["TargetGroupArn"]


def target_groups_in_use(elbv2_backend: Any) -> set[str]:
    """ARNs of target groups some listener's default actions forward to.

    Scans the listeners because moto does not keep a group's ``load_balancer_arns`` up to date
    on ModifyListener/DeleteListener.
    """
    in_use: set[str] = set()
    for balancer in elbv2_backend.load_balancers.values():
        for listener in balancer.listeners.values():
            in_use.update(forwarded_target_group_arns(listener.default_actions))
    return in_use


class HealthModel:
    """Counts, per registered target of an in-use ``alb`` group, the health reports so far."""

    def __init__(self, initial_health_checks: int) -> None:
        self.initial_health_checks = initial_health_checks
        self._lock = threading.Lock()
        self._reports: dict[tuple[str, str, str], int] = {}  # (scope, group arn, target id)

    def reset(self) -> None:
        with self._lock:
            self._reports.clear()

    def next_state(self, scope: str, group_arn: str, target_id: str, in_use: bool) -> str:
        """State to report now; an unused group restarts the initial phase when reattached."""
        key = (scope, group_arn, target_id)
        with self._lock:
            if not in_use:
                self._reports.pop(key, None)
                return "unused"
            seen = self._reports.get(key, 0)
            if seen < self.initial_health_checks:
                self._reports[key] = seen + 1
                return "initial"
            return "healthy"

    def forget_targets(self, scope: str, group_arn: str, target_ids: Iterable[str]) -> None:
        """A (re)registered target starts its health checks again."""
        with self._lock:
            for target_id in target_ids:
                self._reports.pop((scope, group_arn, target_id), None)

    def forget_groups_not_in(self, scope: str, in_use: set[str]) -> None:
        """Groups no listener forwards to any more restart the initial phase when reattached."""
        with self._lock:
            for key in [k for k in self._reports if k[0] == scope and k[1] not in in_use]:
                del self._reports[key]
