"""Target-health model for ALB-type target groups, as AWS reports it, on AWS's clock.

moto calls every registered target ``healthy`` at once. AWS reports an ``alb`` group's target
``unused`` until a listener forwards to the group; health checks start then. The target is
``initial`` (``Elb.RegistrationInProgress``) for the registration delay, then
(``Elb.InitialHealthChecking``) until the group's healthy threshold of consecutive checks at
its interval has passed, then ``healthy``. Checks pass while the ALB has a listener on the
health-check port and protocol (application-load-balancer-target.html: "Ensure that your
Application Load Balancer can receive these health checks by having a listener with a port
and protocol that matches"); when they fail, the target turns ``unhealthy`` after the
unhealthy threshold of checks, and back after the healthy threshold once they pass again.
Time is the emulator's AWS clock (``clock.py``), scaled by its time factor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ipsync_migrator.local.clock import AwsClock

#: AWS gives no figure: "It can take a few minutes for the registration process to complete
#: and health checks to start" (elasticloadbalancing/latest/network/target-group-health-checks
#: .html). The emulator takes one interval; pass another to ``HealthModel`` to model more.
REGISTRATION_SECONDS = 30.0
#: An alb group's interval (30 s) and unhealthy threshold (2) cannot be changed, its healthy
#: threshold can (2-10, default 5): DOMAIN.md section 6 (seed 000), and the NLB guide's
#: application-load-balancer-target.html ("you can't modify Unhealthy threshold, Timeout, or
#: Success codes").
ALB_INTERVAL_SECONDS = 30
ALB_UNHEALTHY_THRESHOLD = 2

#: (State, Reason, Description) as DescribeTargetHealth reports them.
STATES: dict[str, tuple[str, str | None, str | None]] = {
    "unused": (
        "unused",
        "Target.NotInUse",
        "Target group is not configured to receive traffic from the load balancer",
    ),
    "registering": ("initial", "Elb.RegistrationInProgress", "Target registration is in progress"),
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


def load_balancers_routing_to(elbv2_backend: Any) -> dict[str, list[str]]:
    """The load balancers whose listeners (default actions or rules) forward to each group.

    What AWS reports as a target group's ``LoadBalancerArns``; moto appends to it on
    CreateListener/CreateRule only, never removing or adding on ModifyListener/DeleteListener.
    """
    routing: dict[str, set[str]] = {}
    for balancer in elbv2_backend.load_balancers.values():
        for listener in balancer.listeners.values():
            actions = list(listener.default_actions)
            for rule in listener.rules.values():
                actions += list(rule.actions)
            for group_arn in forwarded_target_group_arns(actions):
                routing.setdefault(group_arn, set()).add(balancer.arn)
    return {arn: sorted(lbs) for arn, lbs in routing.items()}


def checks_pass(elbv2_backend: Any, group: Any, target_id: str) -> bool:
    """Whether the ALB `target_id` answers `group`'s health checks: it has a listener on the
    health-check port (the target's port for ``traffic-port``) with the check's protocol."""
    balancer = elbv2_backend.load_balancers.get(target_id)
    if balancer is None:
        return False
    target = group.targets.get(target_id) or {}
    port = group.health_check_port
    if str(port) == "traffic-port":
        port = target.get("Port") or group.port
    # moto stores the group's protocol (TCP) when none is given; an alb group's checks are
    # HTTP or HTTPS only, and the realism adapter refuses TCP when it is asked for.
    protocol = str(group.health_check_protocol or "HTTP").upper()
    protocol = "HTTP" if protocol == "TCP" else protocol
    return any(
        str(listener.port) == str(port) and listener.protocol == protocol
        for listener in balancer.listeners.values()
    )


@dataclass(frozen=True)
class CheckSettings:
    """How a group checks its targets: AWS seconds between checks, and both thresholds."""

    interval_seconds: float
    healthy_threshold: int
    unhealthy_threshold: int


def check_settings(group: Any) -> CheckSettings:
    """A moto ``FakeTargetGroup``'s settings as AWS applies them (fixed ones for alb groups)."""
    healthy = int(group.healthy_threshold_count)
    if group.target_type == "alb":
        return CheckSettings(ALB_INTERVAL_SECONDS, healthy, ALB_UNHEALTHY_THRESHOLD)
    return CheckSettings(
        float(group.health_check_interval_seconds), healthy, int(group.unhealthy_threshold_count)
    )


@dataclass
class _Checks:
    """One target's health checks: since when, and the current run of equal outcomes."""

    started: float  # AWS time the checks began (registered, and the group in use)
    passing: bool  # the outcome of the current run of checks
    since: float  # AWS time the current run began
    settled: str = "initial"  # the state the last completed threshold decided


class HealthModel:
    """Per registered target of an in-use ``alb`` group, its checks on the AWS clock."""

    def __init__(self, clock: AwsClock, registration_seconds: float = REGISTRATION_SECONDS):
        if registration_seconds < 0:
            raise ValueError("registration_seconds cannot be negative")
        self.clock = clock
        self.registration_seconds = registration_seconds
        self._lock = threading.Lock()
        self._checks: dict[tuple[str, str, str], _Checks] = {}  # (scope, group arn, target id)

    def reset(self) -> None:
        with self._lock:
            self._checks.clear()

    def observe(
        self,
        scope: str,
        group_arn: str,
        target_id: str,
        in_use: bool,
        settings: CheckSettings,
        passing: bool,
    ) -> str:
        """Record what the checks see now; return the state AWS reports now (a ``STATES`` key).

        Called when health is read and whenever a listener changes, so checks start when a
        listener starts forwarding and an outcome changes when the ALB's listeners do.
        """
        key = (scope, group_arn, target_id)
        now = self.clock.now()
        with self._lock:
            if not in_use:
                self._checks.pop(key, None)  # reattached later: the checks start over
                return "unused"
            checks = self._checks.get(key)
            if checks is None:
                begins = now + self.registration_seconds
                checks = self._checks[key] = _Checks(started=now, passing=passing, since=begins)
            if now < checks.started + self.registration_seconds:
                checks.passing = passing
                return "registering"
            if passing != checks.passing:
                checks.passing, checks.since = passing, now
            threshold = settings.healthy_threshold if passing else settings.unhealthy_threshold
            if now - checks.since >= threshold * settings.interval_seconds:
                checks.settled = "healthy" if passing else "unhealthy"
            return checks.settled

    def forget_targets(self, scope: str, group_arn: str, target_ids: Iterable[str]) -> None:
        """A (re)registered target starts its health checks again."""
        with self._lock:
            for target_id in target_ids:
                self._checks.pop((scope, group_arn, target_id), None)
