"""member-role.yaml: exactly the hub functions' target-account permissions, trust by external id."""

from __future__ import annotations

from typing import Any

import cfnlint.api
import cfnlint.decode
import pytest

from ipsync_migrator.naming import MANAGED_BY_VALUE, TAG_MANAGED_BY
from tests.unit.test_template import ROOT, TEMPLATE, as_list, functions_of, statements

MEMBER_ROLE = ROOT / "member-role.yaml"
#: Hub-side actions: the journal, the state machines' executions, the bus, assuming the
#: member role itself.
HUB_ONLY_PREFIXES = ("dynamodb:", "states:")
HUB_ONLY_ACTIONS = {"events:PutEvents", "sts:AssumeRole"}
#: Hub-side resources: statements only on the fleet bucket (its items, results and reports).
HUB_ONLY_RESOURCE = "s3:::${FleetBucket}/"


def decode(path: Any) -> dict[str, Any]:
    decoded, problems = cfnlint.decode.decode(str(path))
    assert not problems, problems
    return dict(decoded)


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return decode(MEMBER_ROLE)


@pytest.fixture(scope="module")
def hub() -> dict[str, Any]:
    return decode(TEMPLATE)


def member_statements(member: dict[str, Any]) -> list[dict[str, Any]]:
    role = member["Resources"]["MemberRole"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def hub_target_statements(hub: dict[str, Any]) -> list[dict[str, Any]]:
    """The hub functions' statements, restricted to actions taken in a target account."""
    functions = set(functions_of(hub))
    found = []
    for owner, statement in statements(hub):
        if all(HUB_ONLY_RESOURCE in repr(r) for r in as_list(statement["Resource"])):
            continue
        actions = [
            a
            for a in as_list(statement["Action"])
            if a not in HUB_ONLY_ACTIONS and not a.startswith(HUB_ONLY_PREFIXES)
        ]
        if owner in functions and actions:
            found.append({**statement, "Action": actions})
    return found


def region_free(resource: Any) -> Any:
    """A resource pattern with the region as "*" (a member role serves every region)."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        return {"Fn::Sub": resource["Fn::Sub"].replace("${AWS::Region}", "*")}
    return resource


def grants(found: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    """action -> {(resource pattern, condition)} as comparable strings."""
    result: dict[str, set[tuple[str, str]]] = {}
    for statement in found:
        condition = repr(statement.get("Condition", {}))
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                result.setdefault(action, set()).add((repr(region_free(resource)), condition))
    return result


def test_member_role_has_exactly_the_hub_functions_target_account_actions(member, hub):
    # Given the hub functions' target-account statements and the member role's
    hub_grants = grants(hub_target_statements(hub))
    member_grants = grants(member_statements(member))
    # When their actions are compared
    # Then they are the same set: nothing missing for a step, nothing extra
    assert set(member_grants) == set(hub_grants)
    assert not any(a.startswith(HUB_ONLY_PREFIXES) or a in HUB_ONLY_ACTIONS for a in member_grants)


def test_member_role_scopes_each_action_as_the_hub_does(member, hub):
    # Given every (resource, condition) the hub grants an action with, regions made "*"
    hub_grants = grants(hub_target_statements(hub))
    # When the member role's grants are read
    for action, granted in grants(member_statements(member)).items():
        # Then each is one the hub grants too: same ARN pattern, same condition
        assert granted <= hub_grants[action], (action, granted, hub_grants[action])


def test_owned_resource_writes_need_the_ownership_tag(member):
    # Given the conditions our create/delete actions must carry
    requested = {f"aws:RequestTag/{TAG_MANAGED_BY}": MANAGED_BY_VALUE}
    present = {f"elasticloadbalancing:ResourceTag/{TAG_MANAGED_BY}": MANAGED_BY_VALUE}
    expected = {
        "elasticloadbalancing:CreateTargetGroup": requested,
        "elasticloadbalancing:CreateListener": requested,
        "elasticloadbalancing:DeleteListener": present,
        "elasticloadbalancing:DeregisterTargets": present,
    }
    for statement in member_statements(member):
        condition = statement.get("Condition", {}).get("StringEquals", {})
        actions = set(as_list(statement["Action"]))
        # Then each carries its tag condition, and tagging is creation-only
        for action in actions & set(expected):
            assert condition == expected[action], (statement["Sid"], action)
        if "elasticloadbalancing:AddTags" in actions:
            assert condition.get("elasticloadbalancing:CreateAction") in (
                "CreateTargetGroup",
                "CreateListener",
            ), statement["Sid"]


def test_only_the_hub_account_with_the_external_id_may_assume(member):
    # Given the role's trust policy
    role = member["Resources"]["MemberRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    # When its principal and conditions are read
    with_prefix, without_prefix = trust["Condition"]["Fn::If"][1:]
    # Then the principal is the hub account, always with the (secret) external id
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:root"}
    }
    assert trust["Action"] == "sts:AssumeRole"
    for condition in (with_prefix, without_prefix):
        assert condition["StringEquals"] == {"sts:ExternalId": {"Ref": "ExternalId"}}
    assert with_prefix["ArnLike"]["aws:PrincipalArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:role/${HubRolePrefix}*"
    }
    parameters = member["Parameters"]
    assert parameters["ExternalId"]["NoEcho"] is True
    # and its name is the one the hub's functions may assume
    assert role["RoleName"] == {"Ref": "RoleName"}
    hub_default = decode(TEMPLATE)["Parameters"]["MemberRoleName"]["Default"]
    assert parameters["RoleName"]["Default"] == hub_default


def test_cfn_lint_finds_nothing_in_the_member_role():
    # Given member-role.yaml, When cfn-lint checks it
    matches = cfnlint.api.lint_file(MEMBER_ROLE)
    # Then it reports no error and no warning
    problems = [m for m in matches if not m.rule.id.startswith("I")]
    assert not problems, "\n".join(str(m) for m in problems)
