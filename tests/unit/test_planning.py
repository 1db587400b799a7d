"""Planning: listener rewrites and the ordered plan."""

from __future__ import annotations

from ipsync_migrator.discovery import build_deployment
from ipsync_migrator.models import ChangeAction, Verdict
from ipsync_migrator.planning import (
    NEW_TARGET_GROUP_ARN,
    Step,
    plan_migration,
    replace_target_group,
)
from tests.unit import facts as f


def test_plain_forward_is_rewritten_and_input_is_untouched() -> None:
    actions = [{"Type": "forward", "TargetGroupArn": "old"}]
    assert replace_target_group(actions, "old", "new") == [
        {"Type": "forward", "TargetGroupArn": "new"}
    ]
    assert actions[0]["TargetGroupArn"] == "old"


def test_weighted_forward_keeps_other_groups_and_weights() -> None:
    actions = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": "old", "Weight": 90},
                    {"TargetGroupArn": "other", "Weight": 10},
                ]
            },
        }
    ]
    groups = replace_target_group(actions, "old", "new")[0]["ForwardConfig"]["TargetGroups"]
    assert groups == [
        {"TargetGroupArn": "new", "Weight": 90},
        {"TargetGroupArn": "other", "Weight": 10},
    ]


def test_migratable_plan_orders_steps_safely() -> None:
    plan = plan_migration(build_deployment(f.facts()))
    steps = [c.step for c in plan.changes]
    assert steps.index(Step.CREATE_TARGET_GROUP) < steps.index(Step.ATTACH_PROBE)
    assert steps.index(Step.ATTACH_PROBE) < steps.index(Step.CUTOVER)
    assert steps.index(Step.CUTOVER) < steps.index(Step.RETIRE_LEGACY) < steps.index(Step.FINALIZE)
    assert [c.order for c in plan.changes] == list(range(1, len(plan.changes) + 1))


def test_cutover_change_shows_exact_before_and_after() -> None:
    plan = plan_migration(build_deployment(f.facts()))
    cutover = next(c for c in plan.changes if c.step == Step.CUTOVER)
    assert cutover.action == ChangeAction.MODIFY
    assert cutover.resource == f.LISTENER_ARN
    assert cutover.before == [{"Type": "forward", "TargetGroupArn": f.TG_ARN}]
    assert cutover.after == [{"Type": "forward", "TargetGroupArn": NEW_TARGET_GROUP_ARN}]


def test_new_group_is_an_alb_group_on_the_alb_port_tagged_with_the_migration_id() -> None:
    deployment = build_deployment(f.facts())
    plan = plan_migration(deployment)
    assert plan.new_target_group is not None
    spec = plan.new_target_group
    assert (spec.target_type, spec.protocol, spec.port, spec.vpc_id) == ("alb", "TCP", 80, "vpc-1")
    assert spec.tags["ipsync-migrator:migration-id"] == deployment.id
    assert len(spec.name) <= 32


def test_blocked_plan_lists_blockers_and_changes_nothing() -> None:
    plan = plan_migration(build_deployment(f.facts(alb=None, alb_listeners=[])))
    assert plan.verdict == Verdict.BLOCKED
    assert plan.changes == []
    assert plan.blockers


def test_attributes_lost_are_in_the_plan() -> None:
    deployment = build_deployment(
        f.facts(target_group_attributes={"deregistration_delay.timeout_seconds": "10"})
    )
    assert plan_migration(deployment).attributes_lost == {
        "deregistration_delay.timeout_seconds": "10"
    }


def test_deployment_id_is_stable_and_derived_from_the_target_group() -> None:
    assert build_deployment(f.facts()).id == build_deployment(f.facts()).id
    assert build_deployment(f.facts()).id.startswith("web-ip-")


def test_plan_names_owning_stacks_and_offers_template_patches() -> None:
    deployment = build_deployment(f.facts(stacks={"function": "legacy-sync"})).model_copy(
        update={"target_group_stack_name": "edge"}
    )
    plan = plan_migration(deployment)
    assert plan.stacks == {"target group": "edge"}
    cloudformation = plan.template_patches["cloudformation"]
    terraform = plan.template_patches["terraform"]
    assert "TargetType: alb" in cloudformation and f"Id: {f.ALB_ARN}" in cloudformation
    assert "DefaultActions:" in cloudformation
    assert 'target_type = "alb"' in terraform and "default_action {" in terraform
    assert f'target_id        = "{f.ALB_ARN}"' in terraform
