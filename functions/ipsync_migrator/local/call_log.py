"""Call log: every AWS call the bridged handlers make, as IAM would authorize it.

While installed, every botocore client built inside a bridged Lambda invocation (the
Lambda bridge's ``current_function()``) gets event hooks, and each of its calls is logged
as one ``RecordedCall`` per IAM authorization it needs:

- the function making it (its name) and the role whose credentials sign it: the function's
  own, or a member account's role it assumed (known from the access key AssumeRole returned);
- the IAM action (``elasticloadbalancing:ModifyListener``), from the botocore service and
  operation (``IAM_PREFIX``, ``IAM_ACTION``);
- the resource ARN, from the request parameters (``"*"`` for actions that take none), in
  AWS's form: moto names network load balancers ``loadbalancer/app/...``, AWS ``net/...``;
- the condition keys known offline: request tags (``aws:RequestTag/...``, ``aws:TagKeys``),
  the tags of the existing ELB resource the call acts on, read from the emulator before the
  call (``elasticloadbalancing:ResourceTag/...``), the resource's account, the caller's role
  (``aws:PrincipalArn``), an AssumeRole's ``sts:ExternalId``;
- the authorizations AWS adds: ELB's tag-on-create (tags on CreateTargetGroup /
  CreateListener need ``elasticloadbalancing:AddTags`` on the new resource with
  ``elasticloadbalancing:CreateAction``; elasticloadbalancing/userguide/
  tagging-resources-during-creation.html); a created resource's ARN is read from the response.

An operation this module has no rule for is logged on resource ``"*"``: only a grant on
``"*"`` covers it, so a scoped grant fails the check until a rule is added here.

Relied on (``tests/integration/local/test_call_log.py``): boto3 builds every client through
``botocore.session.Session.create_client``; ``before-parameter-build``, ``before-call``
(with ``request_signer``), ``after-call`` and ``after-call-error`` share one ``context`` dict
per call; ``RequestSigner._credentials``; moto's ``elbv2_backends[account][region]`` with
``load_balancers`` (``type``, ``listeners``) and ``tagging_service``;
``s3_backends.bucket_accounts``. Lambda code never imports this module.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import botocore.session

from ipsync_migrator.local.lambda_bridge import RunningFunction, current_function

__all__ = ["IAM_ACTION", "IAM_PREFIX", "CallLog", "RecordedCall"]

#: botocore service name -> IAM service prefix (Service Authorization Reference).
IAM_PREFIX = {
    "cloudformation": "cloudformation",
    "cloudwatch": "cloudwatch",  # botocore signs as "monitoring"
    "dynamodb": "dynamodb",
    "ec2": "ec2",
    "elbv2": "elasticloadbalancing",
    "events": "events",
    "iam": "iam",
    "lambda": "lambda",
    "logs": "logs",
    "s3": "s3",
    "sns": "sns",
    "sqs": "sqs",
    "stepfunctions": "states",
    "sts": "sts",
}
#: Operations whose IAM action is named otherwise (the rest: the operation's own name).
IAM_ACTION = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "DeleteObjects"): "DeleteObject",  # one authorization per key
}
#: ELB operations that create a resource, and where the response names it.
_ELB_CREATED = {
    "CreateTargetGroup": ("TargetGroups", "TargetGroupArn"),
    "CreateListener": ("Listeners", "ListenerArn"),
    "CreateLoadBalancer": ("LoadBalancers", "LoadBalancerArn"),
    "CreateRule": ("Rules", "RuleArn"),
}
#: ELB parameters naming the one existing resource an operation acts on.
_ELB_RESOURCE_PARAMS = ("ListenerArn", "TargetGroupArn", "RuleArn", "LoadBalancerArn")
#: Stand-in for the ARN of the resource a call creates, until the response names it.
CREATED = "<created>"
_PARAMS = "ipsync_call_log.params"
_PENDING = "ipsync_call_log.pending"

_active: CallLog | None = None
_install_lock = threading.Lock()


@dataclass(frozen=True)
class RecordedCall:
    """One IAM authorization one AWS call of a bridged function needs."""

    function: str  # the function's name
    role: str  # the ARN of the role whose credentials signed the call
    assumed: bool  # True: a role the function assumed (a member account's), not its own
    service: str  # botocore's service name, e.g. "elbv2"
    operation: str  # e.g. "ModifyListener"
    action: str  # the IAM action, e.g. "elasticloadbalancing:ModifyListener"
    resource: str  # the ARN IAM authorizes the action on, or "*"
    context: dict[str, Any] = field(default_factory=dict)  # condition key -> str | list[str]
    error: str | None = None  # the error code the call got (None: it succeeded)

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallLog:
    """Installs the client hooks; ``calls`` holds what the bridged handlers called."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self._lock = threading.Lock()
        #: Access key id -> the role ARN AssumeRole returned it for.
        self._roles: dict[str, str] = {}
        self._saved: Any = None

    # -- life cycle -------------------------------------------------------------------------

    def install(self) -> CallLog:
        """Hook client creation (idempotent). Only one CallLog can be installed at a time."""
        global _active
        with _install_lock:
            if _active is self:
                return self
            if _active is not None:
                raise RuntimeError("another CallLog is installed: uninstall it first")
            session_class = botocore.session.Session
            self._saved = session_class.__dict__["create_client"]
            session_class.create_client = _patch_create_client(self._saved)  # type: ignore[method-assign]
            _active = self
        return self

    def uninstall(self) -> None:
        """Restore client creation; clients built meanwhile stop logging."""
        global _active
        with _install_lock:
            if _active is not self:
                return
            botocore.session.Session.create_client = self._saved  # type: ignore[method-assign]
            self._saved = None
            _active = None

    def __enter__(self) -> CallLog:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    # -- reading it ---------------------------------------------------------------------------

    def snapshot(self) -> list[RecordedCall]:
        with self._lock:
            return list(self.calls)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def dump(self, path: str | Path) -> Path:
        """Write the calls as JSON (a list of objects); returns the path."""
        target = Path(path)
        target.write_text(json.dumps([c.to_json_dict() for c in self.snapshot()], indent=1))
        return target

    # -- the hooks ----------------------------------------------------------------------------

    def _watch(self, client: Any) -> None:
        service = str(client.meta.service_model.service_name)
        events = client.meta.events
        events.register("before-parameter-build", _keep_params)
        events.register("before-call", lambda **kw: self._before_call(service, **kw))
        events.register("after-call", lambda **kw: self._after_call(**kw))
        events.register("after-call-error", lambda **kw: self._after_call_error(**kw))

    def _before_call(
        self,
        service: str,
        model: Any,
        request_signer: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        running = current_function()
        if running is None or _active is not self:
            return  # used outside a bridged run (not the function's call), or uninstalled
        params: dict[str, Any] = context.pop(_PARAMS, None) or {}
        access_key = _access_key(request_signer)
        with self._lock:
            assumed_role = self._roles.get(access_key or "")
        role = assumed_role or running.role
        account = _account_of(assumed_role) if assumed_role else _account_of(running.arn)
        region = str(context.get("client_region") or running.region)
        operation = str(model.name)
        requests = authorizations(service, operation, params, account, region)
        for request in requests:
            request.context.setdefault("aws:PrincipalArn", role)
        context[_PENDING] = _Pending(
            running, role, bool(assumed_role), service, operation, params, requests
        )

    def _after_call(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        pending: _Pending | None = context.pop(_PENDING, None)
        if pending is None:
            return
        failed = getattr(http_response, "status_code", 200) >= 300
        error = str(parsed.get("Error", {}).get("Code") or "Error") if failed else None
        if not failed and pending.service == "sts" and pending.operation == "AssumeRole":
            key = parsed.get("Credentials", {}).get("AccessKeyId")
            if key:
                with self._lock:
                    self._roles[str(key)] = str(pending.params.get("RoleArn"))
        self._log(pending, error, _created_arn(pending, parsed) if not failed else None)

    def _after_call_error(
        self, exception: BaseException, context: dict[str, Any], **_: Any
    ) -> None:
        pending: _Pending | None = context.pop(_PENDING, None)
        if pending is not None:
            self._log(pending, type(exception).__name__, None)

    def _log(self, pending: _Pending, error: str | None, created: str | None) -> None:
        calls = []
        for request in pending.requests:
            resource = request.resource
            if CREATED in resource:  # the new resource's ARN, once the response names it
                resource = created or resource
            calls.append(
                RecordedCall(
                    function=pending.running.name,
                    role=pending.role,
                    assumed=pending.assumed,
                    service=pending.service,
                    operation=pending.operation,
                    action=request.action,
                    resource=resource,
                    context=request.context,
                    error=error,
                )
            )
        with self._lock:
            self.calls.extend(calls)


@dataclass
class Authorization:
    """What IAM checks for one call: an action on a resource, with condition keys."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    running: RunningFunction
    role: str
    assumed: bool
    service: str
    operation: str
    params: dict[str, Any]
    requests: list[Authorization]


def _patch_create_client(original: Any) -> Any:
    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        log = _active
        if log is not None and current_function() is not None:
            log._watch(client)
        return client

    return create_client


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # before-call sees the serialized request only; the API parameters keep their shape.
    context[_PARAMS] = dict(params)


def _access_key(request_signer: Any) -> str | None:
    credentials = getattr(request_signer, "_credentials", None)
    if credentials is None:
        return None
    return str(credentials.get_frozen_credentials().access_key)


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


# ---- what IAM authorizes for a call ---------------------------------------------------------


def iam_action(service: str, operation: str) -> str:
    prefix = IAM_PREFIX.get(service, service)
    return f"{prefix}:{IAM_ACTION.get((service, operation), operation)}"


#: The IAM action of each kind of TransactWriteItems action.
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def authorizations(
    service: str, operation: str, params: dict[str, Any], account: str, region: str
) -> list[Authorization]:
    """The authorizations IAM needs for `operation` of `service` with these parameters."""
    action = iam_action(service, operation)
    arn = _Arns(account, region)
    if service == "elbv2":
        return _elb(operation, action, params, arn)
    if service == "lambda":
        return [_lambda(operation, action, params, arn)]
    if service == "events":
        return _events(operation, action, params, arn)
    if service == "dynamodb" and operation == "TransactWriteItems":
        # Each action is authorized as its underlying operation (PutItem, UpdateItem, ...):
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
        return [
            Authorization(
                f"dynamodb:{_TRANSACT_ACTIONS[kind]}",
                table,
                {"aws:ResourceAccount": _account_of(table)},
            )
            for item in params.get("TransactItems", [])
            for kind, request in item.items()
            for table in [arn.dynamodb_table(str(request["TableName"]))]
        ]
    if service == "dynamodb" and "TableName" in params:
        table = arn.dynamodb_table(str(params["TableName"]))
        if params.get("IndexName"):
            table += f"/index/{params['IndexName']}"
        return [Authorization(action, table, {"aws:ResourceAccount": _account_of(table)})]
    if service == "sts" and operation == "AssumeRole":
        context = {"aws:ResourceAccount": _account_of(str(params["RoleArn"]))}
        if params.get("ExternalId"):
            context["sts:ExternalId"] = str(params["ExternalId"])
        return [Authorization(action, str(params["RoleArn"]), context)]
    if service == "cloudwatch" and operation == "DescribeAlarms" and params.get("AlarmNames"):
        return [Authorization(action, arn.alarm(str(n))) for n in params["AlarmNames"]]
    if service == "s3" and "Bucket" in params:
        return _s3(operation, action, params, account)
    if service == "stepfunctions":
        named = params.get("executionArn") or params.get("stateMachineArn")
        if named:  # task tokens and listings name no resource
            return [Authorization(action, str(named), {"aws:ResourceAccount": _account_of(named)})]
    return [Authorization(action, "*")]


class _Arns:
    """ARNs of this call's account and region (partition aws: the emulator's)."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def function(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        if ":function:" in name:  # partial ARN: ACCOUNT:function:NAME
            return f"arn:aws:lambda:{self.region}:{name}"
        return self._arn("lambda", f"function:{name}")

    def rule(self, name: str, bus: str | None) -> str:
        if name.startswith("arn:"):
            return name
        bus_name = (bus or "default").rsplit("/", 1)[-1]
        path = name if bus_name == "default" else f"{bus_name}/{name}"
        return self._arn("events", f"rule/{path}")

    def event_bus(self, name: str | None) -> str:
        if name and name.startswith("arn:"):
            return name
        return self._arn("events", f"event-bus/{name or 'default'}")

    def dynamodb_table(self, name: str) -> str:
        return name if name.startswith("arn:") else self._arn("dynamodb", f"table/{name}")

    def alarm(self, name: str) -> str:
        return self._arn("cloudwatch", f"alarm:{name}")

    def elb(self, resource: str) -> str:
        return self._arn("elasticloadbalancing", resource)


def _request_tags(params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags")
    if isinstance(tags, dict):
        pairs = {str(k): str(v) for k, v in tags.items()}
    elif isinstance(tags, list):
        pairs = {str(t["Key"]): str(t.get("Value", "")) for t in tags}
    else:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs.items()}
    context["aws:TagKeys"] = sorted(pairs)
    return context


def _elb(operation: str, action: str, params: dict[str, Any], arn: _Arns) -> list[Authorization]:
    if operation.startswith("Describe"):
        # The Service Authorization Reference lists no resource type for ELB's Describe*.
        return [Authorization(action, "*")]
    tags = _request_tags(params)
    if operation in ("AddTags", "RemoveTags"):
        return [
            Authorization(action, _aws_elb_arn(str(r)), {**_elb_resource_keys(str(r)), **tags})
            for r in params.get("ResourceArns", [])
        ]
    parent = next((str(params[p]) for p in _ELB_RESOURCE_PARAMS if p in params), None)
    if operation not in _ELB_CREATED:
        if parent is None:
            return [Authorization(action, "*")]
        return [Authorization(action, _aws_elb_arn(parent), _elb_resource_keys(parent))]
    # A create: authorized on the new resource (a group) or on its parent (a listener's
    # load balancer, a rule's listener); the new resource's ARN comes with the response.
    created = _created_placeholder(operation, params, parent, arn)
    if operation == "CreateTargetGroup" or parent is None:
        found = [Authorization(action, created, {"aws:ResourceAccount": arn.account, **tags})]
    else:
        found = [
            Authorization(action, _aws_elb_arn(parent), {**_elb_resource_keys(parent), **tags})
        ]
    if tags:
        # Tag-on-create: AddTags on the new resource, with the creating action named.
        found.append(
            Authorization(
                "elasticloadbalancing:AddTags",
                created,
                {
                    "aws:ResourceAccount": arn.account,
                    **tags,
                    "elasticloadbalancing:CreateAction": operation,
                },
            )
        )
    return found


def _created_placeholder(
    operation: str, params: dict[str, Any], parent: str | None, arn: _Arns
) -> str:
    """The new resource's ARN as far as the request tells it (its id comes with the response)."""
    if operation == "CreateTargetGroup":
        return arn.elb(f"targetgroup/{params.get('Name', '')}/{CREATED}")
    if operation == "CreateLoadBalancer":
        kind = {"network": "net", "gateway": "gwy"}.get(str(params.get("Type")), "app")
        return arn.elb(f"loadbalancer/{kind}/{params.get('Name', '')}/{CREATED}")
    if parent is not None:
        child = "listener" if operation == "CreateListener" else "listener-rule"
        kind = "loadbalancer" if operation == "CreateListener" else "listener"
        return _aws_elb_arn(parent).replace(f":{kind}/", f":{child}/", 1) + f"/{CREATED}"
    return arn.elb(CREATED)


def _elb_resource_keys(moto_arn: str) -> dict[str, Any]:
    """Condition keys of an existing ELB resource: its tags (read from moto) and account."""
    keys: dict[str, Any] = {"aws:ResourceAccount": _account_of(moto_arn)}
    for key, value in _elb_tags(moto_arn).items():
        keys[f"elasticloadbalancing:ResourceTag/{key}"] = value
        keys[f"aws:ResourceTag/{key}"] = value
    return keys


def _elb_backend(moto_arn: str) -> Any:
    from moto.elbv2.models import elbv2_backends

    parts = moto_arn.split(":")
    if len(parts) < 6:
        return None
    return elbv2_backends[parts[4]][parts[3]]


def _elb_tags(moto_arn: str) -> dict[str, str]:
    backend = _elb_backend(moto_arn)
    if backend is None:
        return {}
    return dict(backend.tagging_service.get_tag_dict_for_resource(moto_arn))


def _aws_elb_arn(moto_arn: str) -> str:
    """AWS's ARN of an ELB resource: a network load balancer's resources read ``net/``."""
    if "/app/" not in moto_arn:
        return moto_arn
    prefix, _, path = moto_arn.partition(":elasticloadbalancing:")
    region_account, _, resource = path.rpartition(":")
    kind, _, rest = resource.partition("/app/")
    parts = rest.split("/")
    if kind == "loadbalancer":
        balancer = moto_arn
    elif kind in ("listener", "listener-rule") and len(parts) >= 2:
        balancer = f"{prefix}:elasticloadbalancing:{region_account}:loadbalancer/app/" + "/".join(
            parts[:2]
        )
    else:
        return moto_arn
    backend = _elb_backend(balancer)
    found = backend.load_balancers.get(balancer) if backend is not None else None
    if found is None or found.type != "network":
        return moto_arn
    return moto_arn.replace(f":{kind}/app/", f":{kind}/net/", 1)


def _created_arn(pending: _Pending, parsed: dict[str, Any]) -> str | None:
    if pending.service != "elbv2" or pending.operation not in _ELB_CREATED:
        return None
    collection, key = _ELB_CREATED[pending.operation]
    items = parsed.get(collection) or []
    return _aws_elb_arn(str(items[0][key])) if items and key in items[0] else None


def _lambda(operation: str, action: str, params: dict[str, Any], arn: _Arns) -> Authorization:
    name = params.get("FunctionName") or params.get("Resource")
    if name is None:  # ListFunctions and the account-wide reads
        return Authorization(action, "*")
    function = arn.function(str(name))
    return Authorization(action, function, {"aws:ResourceAccount": _account_of(function)})


def _events(operation: str, action: str, params: dict[str, Any], arn: _Arns) -> list[Authorization]:
    if operation == "PutEvents":
        buses = sorted({str(e.get("EventBusName") or "default") for e in params.get("Entries", [])})
        return [Authorization(action, arn.event_bus(b)) for b in buses]
    # A rule is named by Name (DescribeRule, DisableRule, ...) or Rule (ListTargetsByRule, ...).
    rule = params.get("Name") or params.get("Rule")
    if rule is None:  # ListRules, ListRuleNamesByTarget, ...
        return [Authorization(action, "*")]
    resource = arn.rule(str(rule), params.get("EventBusName"))
    return [Authorization(action, resource, {"aws:ResourceAccount": _account_of(resource)})]


def _s3(operation: str, action: str, params: dict[str, Any], account: str) -> list[Authorization]:
    bucket = str(params["Bucket"])
    context = {"aws:ResourceAccount": _bucket_account(bucket) or account}
    if operation == "DeleteObjects":
        keys: Iterable[str] = [str(o["Key"]) for o in params.get("Delete", {}).get("Objects", [])]
    elif "Key" in params:
        keys = [str(params["Key"])]
    else:
        return [Authorization(action, f"arn:aws:s3:::{bucket}", context)]
    return [Authorization(action, f"arn:aws:s3:::{bucket}/{k}", dict(context)) for k in keys]


def _bucket_account(bucket: str) -> str | None:
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket)
    return str(owner[1]) if owner else None
