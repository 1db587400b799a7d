"""Realism adapter: makes moto's ELBv2 behave like AWS where this project depends on it.

It patches moto (class attributes, so it works both in-process under ``mock_aws()`` and for a
``ThreadedMotoServer`` in the same process) to add:

1. the target-health life cycle of ``alb`` target groups (``unused`` -> ``initial`` ->
   ``healthy`` / ``unhealthy``) on AWS's clock, scaled by a time factor, see ``health.py``
   and ``clock.py``;
2. AWS's rules for ``alb`` target groups (DOMAIN.md section 2) and duplicate listener ports;
3. one ENI per subnet for each application load balancer, see ``eni.py``;
4. fault injection for any service/operation, see ``faults.py``;
5. a count of the calls that reached moto;
6. the per-zone addresses (Elastic IPs included) of network load balancers, see
   ``nlb_addresses.py``;
7. a target group's ``LoadBalancerArns`` as AWS reports them: the load balancers whose
   listeners forward to it now.
8. DynamoDB transactions that back up and restore only the items they name, not whole
   tables, isolated from every other DynamoDB request, see ``transactions.py``.

Every patch names the moto behaviour it relies on; ``tests/integration/local/test_realism.py``
has a test per patch that fails if a moto upgrade changes it. Tests, the CLI demo and the local
runtime use this; Lambda code never imports it.
"""

from __future__ import annotations

import collections
import contextvars
import json
import threading
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

from ipsync_migrator.local.clock import AwsClock
from ipsync_migrator.local.eni import sync_alb_enis
from ipsync_migrator.local.faults import FaultBook, FaultRule, InjectedFault, load_rules
from ipsync_migrator.local.health import (
    REGISTRATION_SECONDS,
    HealthModel,
    check_settings,
    checks_pass,
    forwarded_target_group_arns,
    load_balancers_routing_to,
    set_state,
    target_groups_in_use,
)
from ipsync_migrator.local.nlb_addresses import assign_nlb_addresses, with_addresses
from ipsync_migrator.local.transactions import (
    SERIALIZED,
    backup_without_tables,
    one_at_a_time,
    restore_touched_items,
)

__all__ = ["AwsClock", "FaultRule", "Realism", "Rejected"]

_MISSING = object()
_active: Realism | None = None
_install_lock = threading.Lock()
#: Set while a ``target_health`` fault serves one DescribeTargetHealth call (same thread).
_health_override: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ipsync_health_override", default=None
)


class Rejected(ServiceException):
    """A request AWS would refuse; moto serializes it like its own ELBv2 errors."""


class CallHold:
    """One held call: `reached` is set when it arrives, and it goes on once `released`."""

    timeout = 60.0

    def __init__(self, service: str, operation: str) -> None:
        self.service, self.operation = service, operation
        self.reached, self.released = threading.Event(), threading.Event()

    def release(self) -> None:
        self.released.set()


class Realism:
    """Installs the patches; holds fault rules, health progress and the call counts."""

    def __init__(
        self, clock: AwsClock | None = None, registration_seconds: float = REGISTRATION_SECONDS
    ) -> None:
        #: AWS's clock for target health: pass one with the time factor wanted (clock.py).
        self.clock = clock or AwsClock()
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self._calls_lock = threading.Lock()
        self._faults = FaultBook()
        self._health = HealthModel(self.clock, registration_seconds)
        self._saved: list[tuple[Any, str, Any]] = []
        self._holds: list[CallHold] = []

    # -- life cycle -------------------------------------------------------------------------

    def install(self) -> Realism:
        """Patch moto (idempotent). Only one Realism can be installed at a time."""
        global _active
        with _install_lock:
            if _active is self:
                return self
            if _active is not None:
                raise RuntimeError("another Realism is installed: uninstall it first")
            # moto warns when a code is not in the service model; injected codes often are not.
            warnings.filterwarnings(
                "ignore", message=r"Exception\(InjectedFault\)", category=UserWarning
            )
            for owner, name, make in _PATCHES:
                original = getattr(owner, name)
                self._saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
                setattr(owner, name, make(original))
            _active = self
        return self

    def uninstall(self) -> None:
        """Restore every patched moto attribute exactly as it was."""
        global _active
        with _install_lock:
            if _active is not self:
                return
            for owner, name, saved in reversed(self._saved):
                if saved is _MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, saved)
            self._saved.clear()
            _active = None

    def __enter__(self) -> Realism:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    # -- faults -----------------------------------------------------------------------------

    def add_fault(self, rule: FaultRule) -> None:
        self._faults.add([rule])

    def load_faults(self, path: str | Path) -> None:
        """Add the rules of a JSON file: ``{"faults": [...]}`` or a bare list."""
        self._faults.add(load_rules(path))

    def clear_faults(self) -> None:
        self._faults.clear()

    def hold(self, service: str, operation: str) -> CallHold:
        """Hold the next such call before it reaches moto, until released: an invocation
        already in flight, for races (tests). Waits at most ``CallHold.timeout`` seconds."""
        hold = CallHold(service, operation)
        self._holds.append(hold)
        return hold

    def _hold_if_asked(self, service: str, operation: str) -> None:
        for hold in list(self._holds):
            if hold.service.lower() == service.lower() and hold.operation == operation:
                self._holds.remove(hold)
                hold.reached.set()
                hold.released.wait(hold.timeout)
                return

    def reset(self) -> None:
        """Forget health progress, fault rules and call counts (reuse between tests)."""
        self._faults.clear()
        self._health.reset()
        with self._calls_lock:
            self.calls.clear()

    # -- used by the patches ------------------------------------------------------------------

    def _record(self, service: str, operation: str) -> None:
        with self._calls_lock:
            self.calls[(service, operation)] += 1


# ---- 4 + 5: every call (counting and fault injection) -------------------------------------


def _service_name(response: Any) -> str:
    # moto's own names differ from botocore's for a few services ("awslambda" -> "lambda").
    return str(response.boto3_service_name or response.service_name or "")


def _request_params(response: Any) -> dict[str, str]:
    """The request as flat strings: query keys (``Targets.member.1.Id``), top-level body
    members and URI parameters (e.g. Lambda's ``FunctionName``)."""
    flat: dict[str, str] = {}
    querystring = response.querystring
    if isinstance(querystring, dict) and "Action" in querystring:  # query/ec2 protocols
        for key, value in querystring.items():
            flat[key] = str(value[0] if isinstance(value, list) and value else value)
    body = getattr(response, "params", None)
    if not isinstance(body, dict):
        body = response.body
        if isinstance(body, (str, bytes)) and body[:1] in ("{", b"{"):
            try:
                body = json.loads(body)
            except ValueError:
                body = None
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, (str, int, float, bool)):
                flat.setdefault(key, str(value))
    for key, value in (getattr(response, "uri_match", None) or {}).items():
        flat.setdefault(key, str(value))
    return flat


def _fault_response(response: Any, rule: FaultRule) -> Any:
    """The error in the service's wire format, as moto's call_action writes ServiceException."""
    assert rule.error_code is not None
    status, headers, body = response.serialized(
        ActionResult(InjectedFault(rule.error_code, rule.message))
    )
    if rule.error_code.startswith("AccessDenied"):
        status = 403
    if rule.details:
        if isinstance(body, bytes):
            body = body.decode()
        if not (isinstance(body, str) and body.startswith("{")):
            raise ValueError(f"details need a JSON protocol's error, not {rule.service}'s")
        body = json.dumps({**json.loads(body), **rule.details})
    headers["status"] = str(status)
    headers, body = response._enrich_response(headers, body)
    return status, headers, body


def _patch_call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: every query/json/rest-json service dispatches through
    ``BaseResponse.call_action`` after ``setup_class`` (DynamoDB's override calls super), and
    ``serialized(ActionResult(exception))`` renders errors per protocol."""

    def call_action(self: Any) -> Any:
        realism = _active
        if realism is None:
            return original(self)
        try:
            operation = self._get_action()
        except Exception:  # unroutable request: let moto answer it as it would
            return original(self)
        if not operation:
            return original(self)
        service = _service_name(self)
        realism._record(service, operation)
        realism._hold_if_asked(service, operation)
        rule = realism._faults.take(service, operation, lambda: _request_params(self))
        if rule is None:
            return original(self)
        if rule.target_health is not None:
            token = _health_override.set(rule.target_health)
            try:
                return original(self)
            finally:
                _health_override.reset(token)
        if rule.applied:
            original(self)  # the call lands; only its answer is lost
        return _fault_response(self, rule)  # otherwise before moto runs: no state changes

    return call_action


# ---- 1: target health of alb groups -------------------------------------------------------


def _scope(backend: Any) -> str:
    return f"{backend.account_id}/{backend.region_name}"


def _patch_describe_target_health(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``describe_target_health`` returns ``FakeHealthStatus`` objects with
    ``instance_id``/``status``/``reason``/``description``; ``target_groups`` maps ARN to
    ``FakeTargetGroup`` with ``target_type`` and ``targets`` keyed by target Id."""

    def describe_target_health(
        self: Any, target_group_arn: str, targets: list[dict[str, Any]]
    ) -> Any:
        statuses = original(self, target_group_arn, targets)
        realism = _active
        if realism is None:
            return statuses
        override = _health_override.get()
        if override is not None:
            for status in statuses:
                set_state(status, override)
            return statuses
        group = self.target_groups[target_group_arn]
        if group.target_type != "alb":
            return statuses
        states = _observe(realism, self, [group])
        for status in statuses:
            if status.instance_id in states:
                set_state(status, states[status.instance_id])
        return statuses

    return describe_target_health


def _observe(realism: Realism, backend: Any, groups: Iterable[Any]) -> dict[str, str]:
    """Let the health model see the alb groups' targets now; their states by target id."""
    in_use = target_groups_in_use(backend)
    states = {}
    for group in groups:
        if group.target_type != "alb":
            continue
        for target_id in group.targets:
            states[target_id] = realism._health.observe(
                _scope(backend),
                group.arn,
                target_id,
                group.arn in in_use,
                check_settings(group),
                checks_pass(backend, group, target_id),
            )
    return states


def _observe_all(backend: Any) -> None:
    """After a write that can start, stop or change health checks: every alb group's targets
    start their checks when a listener starts forwarding, not at the next read."""
    if _active is not None:
        _observe(_active, backend, list(backend.target_groups.values()))


# ---- 2: alb target group rules -------------------------------------------------------------


def _check_new_alb_group(kwargs: dict[str, Any]) -> None:
    protocol = kwargs.get("protocol")
    if protocol and str(protocol).upper() != "TCP":
        raise Rejected(
            "InvalidConfigurationRequest",
            f"Target type 'alb' is not supported for target groups with {protocol} protocol",
        )
    health_protocol = kwargs.get("healthcheck_protocol")
    if health_protocol and str(health_protocol).upper() not in ("HTTP", "HTTPS"):
        raise Rejected(
            "ValidationError",
            f"Health check protocol '{health_protocol}' is not supported for target groups "
            "with target type 'alb': use HTTP or HTTPS",
        )


def _check_alb_registration(backend: Any, group: Any, targets: list[dict[str, Any]]) -> None:
    if len({t["Id"] for t in targets} | set(group.targets)) > 1:
        raise Rejected(
            "ValidationError",
            "You can register only one Application Load Balancer per target group",
        )
    for target in targets:
        target_id = target["Id"]
        if target.get("AvailabilityZone"):
            raise Rejected(
                "ValidationError",
                "An Availability Zone cannot be specified for targets of target type 'alb'",
            )
        balancer = backend.load_balancers.get(target_id)
        if balancer is None or balancer.type != "application":
            raise Rejected(
                "InvalidTarget",
                f"Target '{target_id}' is not the ARN of an Application Load Balancer "
                "in this account and region",
            )
        if balancer.vpc_id != group.vpc_id:
            raise Rejected(
                "InvalidTarget",
                f"The Application Load Balancer '{target_id}' is not in the same VPC "
                "as the target group",
            )
        port = target.get("Port") or group.port
        if str(port) not in {str(listener.port) for listener in balancer.listeners.values()}:
            raise Rejected(
                "ValidationError",
                "If the target type is ALB, the target must have at least one listener that "
                "matches the target group port or any specified port overrides",
            )
        other_groups = {
            other.arn
            for other in backend.target_groups.values()
            if other.target_type == "alb" and other.arn != group.arn and target_id in other.targets
        }
        if len(other_groups) >= 2:
            raise Rejected(
                "TooManyRegistrationsForTargetId",
                f"The Application Load Balancer '{target_id}' is already the target of two "
                "target groups: an ALB can be the target of at most two Network Load Balancers",
            )


def _check_listener(
    backend: Any,
    balancer: Any,
    listener_arn: str | None,
    protocol: str | None,
    port: Any,
    actions: Iterable[Any],
) -> None:
    if port is not None:
        for other in balancer.listeners.values():
            if other.arn != listener_arn and str(other.port) == str(port):
                raise Rejected(
                    "DuplicateListener", "A listener with the specified port already exists."
                )
    for group_arn in forwarded_target_group_arns(actions):
        group = backend.target_groups.get(group_arn)
        if group is None or group.target_type != "alb":
            continue  # unknown groups: moto's own ActionTargetGroupNotFound
        if balancer.type != "network":
            raise Rejected(
                "InvalidConfigurationRequest",
                f"Target group '{group_arn}' has target type 'alb': only a Network Load "
                "Balancer can forward to it",
            )
        if str(protocol or "").upper() != "TCP":
            raise Rejected(
                "IncompatibleProtocols",
                f"The listener protocol '{protocol}' is not compatible with target group "
                f"'{group_arn}' of target type 'alb': only TCP listeners can forward to it",
            )
        if balancer.vpc_id != group.vpc_id:
            raise Rejected(
                "InvalidConfigurationRequest",
                f"Target group '{group_arn}' is not in the same VPC as the load balancer",
            )
        for other in backend.load_balancers.values():
            if other.arn == balancer.arn:
                continue
            for listener in other.listeners.values():
                if group_arn in set(forwarded_target_group_arns(listener.default_actions)):
                    raise Rejected(
                        "TargetGroupAssociationLimit",
                        "The following target groups cannot be associated with more than one "
                        f"load balancer: {group_arn}",
                    )


def _patch_create_target_group(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: keyword arguments ``target_type``/``protocol``/``healthcheck_protocol``;
    moto itself rejects an alb group without VPC (``A VPC ID must be specified``)."""

    def create_target_group(self: Any, name: str, **kwargs: Any) -> Any:
        if _active is not None and kwargs.get("target_type") == "alb":
            _check_new_alb_group(kwargs)
        return original(self, name, **kwargs)

    return create_target_group


def _patch_register_targets(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``register_targets(target_group_arn, instances)`` with request dicts
    (``Id``, ``Port``, ``AvailabilityZone``); ``load_balancers`` maps ARN to
    ``FakeLoadBalancer`` (``type``, ``vpc_id``, ``listeners`` with ``port``)."""

    def register_targets(self: Any, target_group_arn: str, instances: list[Any]) -> Any:
        group = self.target_groups.get(target_group_arn)
        if _active is not None and group is not None and group.target_type == "alb":
            _check_alb_registration(self, group, instances)
        result = original(self, target_group_arn, instances)
        if _active is not None:
            _active._health.forget_targets(
                _scope(self), target_group_arn, [t["Id"] for t in instances]
            )
            _observe_all(self)
        return result

    return register_targets


def _patch_create_listener(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``create_listener(load_balancer_arn, protocol, port, ssl_policy, certificate,
    actions, ...)``; moto's own port check compares the port with listener ARNs (the keys of
    ``balancer.listeners``), so it never fires and the check here is needed."""

    def create_listener(
        self: Any,
        load_balancer_arn: str,
        protocol: str,
        port: Any,
        ssl_policy: str,
        certificate: str | None,
        actions: list[dict[str, Any]],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        balancer = self.load_balancers.get(load_balancer_arn)
        if _active is not None and balancer is not None:
            _check_listener(self, balancer, None, protocol, port, actions or [])
        listener = original(
            self,
            load_balancer_arn,
            protocol,
            port,
            ssl_policy,
            certificate,
            actions,
            *args,
            **kwargs,
        )
        _observe_all(self)
        return listener

    return create_listener


def _patch_modify_listener(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``modify_listener(arn, port, protocol, ssl_policy, certificates, actions)``
    where empty actions keep the listener's ``default_actions`` (``FakeAction.data``)."""

    def modify_listener(
        self: Any,
        arn: str,
        port: Any = None,
        protocol: str | None = None,
        ssl_policy: str | None = None,
        certificates: list[dict[str, Any]] | None = None,
        actions: list[dict[str, Any]] | None = None,
    ) -> Any:
        if _active is not None:
            for balancer in self.load_balancers.values():
                listener = balancer.listeners.get(arn)
                if listener is None:
                    continue
                _check_listener(
                    self,
                    balancer,
                    arn,
                    protocol or listener.protocol,
                    port,
                    actions or listener.default_actions,
                )
        result = original(self, arn, port, protocol, ssl_policy, certificates, actions)
        _observe_all(self)
        return result

    return modify_listener


def _patch_delete_listener(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``delete_listener(listener_arn)`` removing it from ``balancer.listeners``."""

    def delete_listener(self: Any, listener_arn: str) -> Any:
        result = original(self, listener_arn)
        _observe_all(self)
        return result

    return delete_listener


# ---- 3: ENIs of application load balancers -------------------------------------------------


def _patch_create_load_balancer(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``create_load_balancer`` returning the new ``FakeLoadBalancer``."""

    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = original(self, *args, **kwargs)
        if _active is not None:
            sync_alb_enis(self.ec2_backend, self)
            assign_nlb_addresses(self.ec2_backend, balancer, kwargs.get("subnet_mappings"))
        return balancer

    return create_load_balancer


def _patch_availability_zones(original: property) -> property:
    """Relies on: FakeLoadBalancer's ``availability_zones`` property building AvailabilityZone
    objects (``subnet_id``) that the response serializer reads attribute by attribute."""

    def availability_zones(self: Any) -> list[Any]:
        zones = original.fget(self) if original.fget else []
        return with_addresses(self, zones) if _active is not None else zones

    return property(availability_zones)


def _patch_delete_load_balancer(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``delete_load_balancer(arn)`` popping it from ``load_balancers`` (silently
    when unknown). AWS refuses to delete an ALB registered as a target."""

    def delete_load_balancer(self: Any, arn: str) -> Any:
        if _active is not None:
            using = [
                group.arn
                for group in self.target_groups.values()
                if group.target_type == "alb" and arn in group.targets
            ]
            if using:
                raise Rejected(
                    "ResourceInUse",
                    f"Load balancer '{arn}' cannot be deleted because it is registered as a "
                    f"target of target group '{using[0]}'",
                )
        result = original(self, arn)
        if _active is not None:
            sync_alb_enis(self.ec2_backend, self)
            _observe_all(self)
        return result

    return delete_load_balancer


def _patch_get_all_network_interfaces(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: DescribeNetworkInterfaces reading ``get_all_network_interfaces`` of the
    EC2 backend (``account_id``/``region_name``); catches ALBs created before install."""

    def get_all_network_interfaces(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _active is not None:
            from moto.elbv2.models import elbv2_backends

            sync_alb_enis(self, elbv2_backends[self.account_id][self.region_name])
        return original(self, *args, **kwargs)

    return get_all_network_interfaces


# ---- 7: LoadBalancerArns of target groups -------------------------------------------------


def _patch_describe_target_groups(original: Callable[..., Any]) -> Callable[..., Any]:
    """Relies on: ``describe_target_groups(load_balancer_arn, target_group_arns, names)``
    reading each ``FakeTargetGroup.load_balancer_arns`` (the response's LoadBalancerArns and
    the LoadBalancerArn filter)."""

    def describe_target_groups(
        self: Any, load_balancer_arn: Any, target_group_arns: Any, names: Any
    ) -> Any:
        if _active is not None:
            routing = load_balancers_routing_to(self)
            for group in self.target_groups.values():
                group.load_balancer_arns = list(routing.get(group.arn, []))
        return original(self, load_balancer_arn, target_group_arns, names)

    return describe_target_groups


#: (owner, attribute, wrap): a method wrapped, (FakeLoadBalancer) a property replaced, or
#: (moto's DynamoDB models module) the ``copy`` module it uses replaced.
_PATCHES: list[tuple[Any, str, Callable[[Any], Any]]] = [
    (BaseResponse, "call_action", _patch_call_action),
    (ELBv2Backend, "describe_target_health", _patch_describe_target_health),
    (ELBv2Backend, "describe_target_groups", _patch_describe_target_groups),
    (ELBv2Backend, "create_target_group", _patch_create_target_group),
    (ELBv2Backend, "register_targets", _patch_register_targets),
    (ELBv2Backend, "create_listener", _patch_create_listener),
    (ELBv2Backend, "modify_listener", _patch_modify_listener),
    (ELBv2Backend, "delete_listener", _patch_delete_listener),
    (ELBv2Backend, "create_load_balancer", _patch_create_load_balancer),
    (ELBv2Backend, "delete_load_balancer", _patch_delete_load_balancer),
    (FakeLoadBalancer, "availability_zones", _patch_availability_zones),
    (NetworkInterfaceBackend, "get_all_network_interfaces", _patch_get_all_network_interfaces),
    (dynamodb_models, "copy", backup_without_tables),
    (DynamoDBBackend, "transact_write_items", restore_touched_items),
    *((DynamoDBBackend, name, one_at_a_time) for name in SERIALIZED),
]
