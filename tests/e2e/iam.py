"""IAM offline: the policies of the built template and member-role.yaml, and an evaluator.

`Policies` resolves each function's statements (SAM `Policies`, inline statements) from the
built template, `.aws-sam/build/template.yaml`, with the intrinsics a policy uses: `!Sub`,
`!Ref`, `!GetAtt`, `!If`, `!Join` resolved against the deployed stack (its parameters and
the physical ids of its resources, from the emulator). member-role.yaml's policy is resolved
for each member account. `evaluate` then decides a recorded call as IAM would, for what can
be evaluated offline: explicit deny wins, an allow needs the action (wildcards, case
insensitive), the resource (wildcards within each ARN segment, the resource part as a
whole) and every condition (the operators below; a condition key the call does not carry
is absent, as in IAM). An operator not modelled here matches nothing: a grant that cannot be
proved offline does not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from ipsync_migrator.local.call_log import RecordedCall

ROOT = Path(__file__).resolve().parents[2]
MEMBER_ROLE_TEMPLATE = ROOT / "member-role.yaml"
MEMBER_ROLE_OWNER = "member-role.yaml"
_NO_VALUE = object()
_PSEUDO_UNRESOLVED = "<unresolved {}>"


@dataclass(frozen=True)
class Statement:
    """One IAM statement, its intrinsics resolved; `owner` is whose policy holds it."""

    owner: str
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def describe(self) -> str:
        condition = f", Condition {dict(self.condition)}" if self.condition else ""
        return (
            f"{self.owner} statement {self.sid or '(no Sid)'}: {self.effect} "
            f"{list(self.actions)} on {list(self.resources)}{condition}"
        )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    by: tuple[Statement, ...]  # the statements that allow it (or the one that denies it)
    closest: Statement | None = None
    why: str = ""


# ---- matching ---------------------------------------------------------------------------


@cache
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return bool(_glob(pattern, ignore_case=True).match(action))


def resource_matches(pattern: str, resource: str) -> bool:
    """IAM's ARN match: `*` alone is anything; else segment by segment, wildcards inside."""
    if pattern == "*":
        return True
    wanted, got = pattern.split(":", 5), resource.split(":", 5)
    if len(wanted) != 6 or len(got) != 6:
        return bool(_glob(pattern).match(resource))
    return all(_glob(w).match(g) for w, g in zip(wanted, got, strict=True))


def _values(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _lookup(context: Mapping[str, Any], key: str) -> Any:
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


_STRING_TESTS = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": lambda want, got: bool(_glob(want).match(got)),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: resource_matches(want, got),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def condition_failures(
    condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]
) -> list[str]:
    """Why the condition block does not hold for `context` (empty: it holds)."""
    failures = []
    for operator, tests in condition.items():
        set_operator, _, base = operator.rpartition(":")
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        for key, wanted in tests.items():
            got = _lookup(context, key)
            if not _holds(set_operator, base, if_exists, _values(wanted), got):
                failures.append(f"{operator} {key} {wanted!r} (the call has {got!r})")
    return failures


def _holds(set_operator: str, base: str, if_exists: bool, wanted: list[str], got: Any) -> bool:
    if base == "Null":
        return (got is None) == (wanted[0].lower() == "true")
    if got is None:
        return if_exists or base in _NEGATED or set_operator == "ForAllValues"
    if base == "Bool":
        return any(str(g).lower() == w.lower() for g in _values(got) for w in wanted)
    negated = base in _NEGATED
    test = _STRING_TESTS.get(_NEGATED.get(base, base))
    if test is None:
        return False  # an operator not modelled: the grant cannot be proved offline
    values = _values(got)
    if set_operator == "ForAllValues":
        matched = all(any(test(w, g) for w in wanted) for g in values)
    else:  # ForAnyValue, or a single-valued key
        matched = any(test(w, g) for w in wanted for g in values)
    return not matched if negated else matched


def statement_allows(statement: Statement, call: RecordedCall) -> bool:
    return (
        any(action_matches(a, call.action) for a in statement.actions)
        and any(resource_matches(r, call.resource) for r in statement.resources)
        and not condition_failures(statement.condition, call.context)
    )


def evaluate(call: RecordedCall, statements: Iterable[Statement]) -> Decision:
    """IAM's decision on `call` under `statements` (identity policies of one principal)."""
    candidates = list(statements)
    for statement in candidates:
        if statement.effect == "Deny" and statement_allows(statement, call):
            return Decision(False, (statement,), statement, "explicitly denied")
    allowing = tuple(s for s in candidates if s.effect == "Allow" and statement_allows(s, call))
    if allowing:
        return Decision(True, allowing)
    closest, why = _closest(call, [s for s in candidates if s.effect == "Allow"])
    return Decision(False, (), closest, why)


def _closest(call: RecordedCall, statements: list[Statement]) -> tuple[Statement | None, str]:
    best: tuple[int, Statement | None, str] = (-1, None, "no statement at all")
    for statement in statements:
        action = any(action_matches(a, call.action) for a in statement.actions)
        resource = any(resource_matches(r, call.resource) for r in statement.resources)
        failures = condition_failures(statement.condition, call.context)
        score = 4 * action + 2 * resource + (not failures)
        reasons = []
        if not action:
            reasons.append(f"no action matches {call.action}")
        if not resource:
            reasons.append(f"no resource pattern matches {call.resource}")
        reasons += [f"condition fails: {f}" for f in failures]
        if score > best[0]:
            best = (score, statement, "; ".join(reasons))
    return best[1], best[2]


# ---- the templates' policies --------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """What resolving the template's intrinsics needs from the deployed stack."""

    name: str
    account: str
    region: str
    parameters: Mapping[str, str]
    physical_ids: Mapping[str, str]  # logical id -> physical id (when moto gives one)


class Resolver:
    """Resolves a CloudFormation template's intrinsics to strings (and lists of them)."""

    def __init__(self, template: Mapping[str, Any], stack: Stack) -> None:
        self.template = template
        self.stack = stack
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        defaults = {
            name: str(spec["Default"])
            for name, spec in template.get("Parameters", {}).items()
            if "Default" in spec
        }
        self.parameters = {**defaults, **stack.parameters}
        self.pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account,
            "AWS::StackName": stack.name,
            "AWS::URLSuffix": "amazonaws.com",
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(str(argument))
            if key == "Fn::GetAtt":
                logical, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                return self.get_att(str(logical), str(attribute))
            if key == "Fn::Sub":
                return self.sub(argument)
            if key == "Fn::If":
                condition, yes, no = argument
                return self.resolve(yes if self.condition(str(condition)) else no)
            if key == "Fn::Join":
                separator, items = argument
                return str(separator).join(str(i) for i in self.resolve(items))
        return {k: self.resolve(v) for k, v in value.items()}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.resources.get(name, {}).get("Type", "")
        physical = self._physical(name)
        if physical is None:
            return _PSEUDO_UNRESOLVED.format(f"Ref {name}")
        if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return (
                physical
                if physical.startswith("arn:")
                else self._arn("states", f"stateMachine:{physical}")
            )
        return physical

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources.get(name, {}).get("Type", "")
        physical = self._physical(name)
        if physical is None:
            return _PSEUDO_UNRESOLVED.format(f"GetAtt {name}.{attribute}")
        if physical.startswith("arn:"):
            arn, physical = physical, physical.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            if attribute == "Arn":
                return arn
        forms = {
            ("AWS::DynamoDB::Table", "Arn"): lambda: self._arn("dynamodb", f"table/{physical}"),
            ("AWS::Events::EventBus", "Arn"): lambda: self._arn("events", f"event-bus/{physical}"),
            ("AWS::Events::EventBus", "Name"): lambda: physical,
            ("AWS::Serverless::Function", "Arn"): lambda: self._arn(
                "lambda", f"function:{physical}"
            ),
            ("AWS::Lambda::Function", "Arn"): lambda: self._arn("lambda", f"function:{physical}"),
            ("AWS::Serverless::StateMachine", "Name"): lambda: physical,
            ("AWS::Serverless::StateMachine", "Arn"): lambda: self._arn(
                "states", f"stateMachine:{physical}"
            ),
            ("AWS::SQS::Queue", "Arn"): lambda: self._arn("sqs", physical.rsplit("/", 1)[-1]),
            ("AWS::SQS::Queue", "QueueName"): lambda: physical.rsplit("/", 1)[-1],
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:aws:iam::{self.stack.account}:role/{physical}",
            ("AWS::Logs::LogGroup", "Arn"): lambda: self._arn("logs", f"log-group:{physical}:*"),
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:aws:s3:::{physical}",
        }
        form = forms.get((kind, attribute))
        return form() if form else _PSEUDO_UNRESOLVED.format(f"GetAtt {name}.{attribute}")

    def sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    def condition(self, name: str) -> bool:
        return bool(self._truth(self.template.get("Conditions", {})[name]))

    def _truth(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Fn::Not":
                return not self._truth(argument[0])
            if key == "Fn::Equals":
                left, right = (self._truth(a) for a in argument)
                return str(left) == str(right)
            if key == "Fn::And":
                return all(self._truth(a) for a in argument)
            if key == "Fn::Or":
                return any(self._truth(a) for a in argument)
            if key == "Condition":
                return self.condition(str(argument))
        return self.resolve(value)

    def _physical(self, name: str) -> str | None:
        if name in self.stack.physical_ids:
            return self.stack.physical_ids[name]
        # moto gives no physical id for some types (an event bus): their Name property is it.
        properties = self.resources.get(name, {}).get("Properties", {})
        for key in ("Name", "TableName", "FunctionName", "QueueName", "LogGroupName", "BucketName"):
            if key in properties:
                return str(self.resolve(properties[key]))
        return None

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.stack.region}:{self.stack.account}:{resource}"


def _statements(owner: str, document: Any, resolver: Resolver) -> list[Statement]:
    found = []
    for raw in _as_list(document.get("Statement", [])):
        statement = resolver.resolve(raw)
        found.append(
            Statement(
                owner=owner,
                sid=str(statement.get("Sid", "")),
                effect=str(statement.get("Effect", "Allow")),
                actions=tuple(str(a) for a in _as_list(statement.get("Action", []))),
                resources=tuple(str(r) for r in _as_list(statement.get("Resource", []))),
                condition=statement.get("Condition") or {},
            )
        )
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_policies(template: Mapping[str, Any], stack: Stack) -> dict[str, list[Statement]]:
    """Each function's (logical id's) inline statements; policy templates and managed
    policies (SAM adds logging and X-Ray) are left out: the code calls neither."""
    resolver = Resolver(template, stack)
    policies: dict[str, list[Statement]] = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        found: list[Statement] = []
        for policy in _as_list(resource.get("Properties", {}).get("Policies", [])):
            if isinstance(policy, dict) and "Statement" in policy:
                found += _statements(name, policy, resolver)
        policies[name] = found
    return policies


def load_template(path: Path) -> dict[str, Any]:
    return dict(yaml_parse(path.read_text()))


@dataclass(frozen=True)
class MemberRole:
    """member-role.yaml deployed in one member account: the role's ARN and policies."""

    arn: str
    statements: list[Statement]
    trust: list[Statement]


def member_role(account: str, hub: Stack, external_id: str) -> MemberRole:
    """member-role.yaml as deployed in `account` (its parameter defaults, this hub)."""
    template = load_template(MEMBER_ROLE_TEMPLATE)
    stack = Stack(
        name="ipsync-migrator-member",
        account=account,
        region=hub.region,
        parameters={"HubAccountId": hub.account, "ExternalId": external_id},
        physical_ids={},
    )
    resolver = Resolver(template, stack)
    role = template["Resources"]["MemberRole"]["Properties"]
    statements = [
        s
        for policy in role["Policies"]
        for s in _statements(MEMBER_ROLE_OWNER, policy["PolicyDocument"], resolver)
    ]
    trust = _statements(f"{MEMBER_ROLE_OWNER} trust", role["AssumeRolePolicyDocument"], resolver)
    name = resolver.resolve(role["RoleName"])
    return MemberRole(f"arn:aws:iam::{account}:role/{name}", statements, trust)
