"""template.yaml: functions match the handlers, IAM is least privilege, wiring is complete."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any

import cfnlint.api
import cfnlint.decode
import pytest

from ipsync_migrator.aws.bus import EVENT_SOURCE
from ipsync_migrator.events import ROLLBACK_TRIGGERS
from ipsync_migrator.naming import MANAGED_BY_VALUE, TAG_MANAGED_BY

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "migrate.asl.json"
#: Each state machine of the template and the ASL file it is defined by.
STATE_MACHINES = {
    "MigrationStateMachine": ASL,
    "FleetStateMachine": ROOT / "statemachine" / "fleet.asl.json",
}
MEMBER_ROLE_ARN = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
PACKAGE = ROOT / "functions" / "ipsync_migrator"
HANDLERS = PACKAGE / "handlers"
#: Modules of handlers/ that are shared code, not Lambda entry points.
NOT_ENTRY_POINTS = {"__init__", "requests", "runtime"}

MUTATING_VERBS = (
    "Create",
    "Delete",
    "Modify",
    "Put",
    "Register",
    "Deregister",
    "Remove",
    "Disable",
    "Enable",
    "Add",
    "Update",
)
#: Step Functions' log delivery: AWS authorises these only on "*", with no condition key.
STAR_ONLY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:PutResourcePolicy",
}
#: Operations of adapters the Lambda code imports that only the CLI / emulator calls (Query:
#: a migration's step entries, for status and replay; tests/e2e/test_iam.py records no
#: function calling it).
NOT_CALLED_BY_LAMBDA = {
    "dynamodb:Query",
    "dynamodb:CreateTable",
    "lambda:AddPermission",
}
#: Where the IAM action differs from the operation named in `aws_call(...)`.
#: A call authorized as another action; a transaction's Puts as PutItem (the journal's only use).
IAM_ACTION_OF = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:DeleteObjects": "s3:DeleteObject",
    "dynamodb:TransactWriteItems": "dynamodb:PutItem",
}
#: Required by ELB for tag-on-create, never called directly.
IMPLIED_ACTIONS = {"elasticloadbalancing:AddTags"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, problems = cfnlint.decode.decode(str(TEMPLATE))
    assert not problems, problems
    return dict(decoded)


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of(template, "AWS::Serverless::Function")


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every inline IAM statement, with the logical id of the resource it belongs to."""
    found = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for policy in properties.get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                found += [(logical_id, s) for s in policy["Statement"]]
        document = properties.get("PolicyDocument", {})
        found += [(logical_id, s) for s in document.get("Statement", [])]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def is_mutating(action: str) -> bool:
    return action.split(":", 1)[1].startswith(MUTATING_VERBS)


def test_every_function_runs_python_3_13_and_names_an_importable_handler(template):
    # Given the template's functions and their Globals
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["CodeUri"] == "functions/"
    for logical_id, function in functions_of(template).items():
        properties = function["Properties"]
        # When the runtime and handler Lambda would use are resolved
        runtime = properties.get("Runtime", globals_["Runtime"])
        code_uri = properties.get("CodeUri", globals_["CodeUri"])
        module_name, _, attribute = properties["Handler"].rpartition(".")
        # Then each is Python 3.13, and the module is in the package and has the callable
        assert runtime == "python3.13", logical_id
        module_file = ROOT / code_uri / (module_name.replace(".", "/") + ".py")
        assert module_file.parent == HANDLERS, f"{logical_id}: {module_file} is not a handler"
        assert module_file.is_file(), f"{logical_id}: {module_file} does not exist"
        handler = getattr(importlib.import_module(module_name), attribute, None)
        assert callable(handler), f"{logical_id}: {properties['Handler']} is not callable"


def test_every_handler_module_has_a_function(template):
    # Given the entry-point modules in handlers/
    modules = {p.stem for p in HANDLERS.glob("*.py")} - NOT_ENTRY_POINTS
    # When the template's handlers are listed
    deployed = {
        f["Properties"]["Handler"].rsplit(".", 2)[-2] for f in functions_of(template).values()
    }
    # Then every module is deployed, and nothing else is
    assert deployed == modules


def test_no_statement_allows_every_action_of_a_service(template):
    # Given every IAM statement of the template
    for owner, statement in statements(template):
        # When its actions are read
        actions = as_list(statement["Action"])
        # Then none is a wildcard
        wild = [a for a in actions if a == "*" or "*" in a.split(":", 1)[-1]]
        assert not wild, f"{owner} {statement.get('Sid')}: wildcard actions {wild}"


def test_mutating_actions_on_any_resource_need_a_condition(template):
    # Given the statements whose Resource is "*"
    for owner, statement in statements(template):
        if "*" not in as_list(statement["Resource"]):
            continue
        # When the mutating actions among them are picked out
        mutating = {a for a in as_list(statement["Action"]) if is_mutating(a)}
        star_only = mutating & STAR_ONLY_ACTIONS
        # Then they carry a Condition (only the state machine's log delivery cannot)
        assert not (mutating - STAR_ONLY_ACTIONS) or "Condition" in statement, (
            f"{owner} {statement.get('Sid')}: {sorted(mutating)} on '*' without a Condition"
        )
        assert not star_only or owner in STATE_MACHINES, (
            f"{owner} {statement.get('Sid')}: {sorted(star_only)} belong to the state machine"
        )


def test_writes_on_our_own_resources_are_scoped_by_the_ownership_tag(template):
    # Given the conditions each of our create/tag/delete actions must carry
    requested = {f"aws:RequestTag/{TAG_MANAGED_BY}": MANAGED_BY_VALUE}
    present = {f"elasticloadbalancing:ResourceTag/{TAG_MANAGED_BY}": MANAGED_BY_VALUE}
    expected = {
        "elasticloadbalancing:CreateTargetGroup": requested,
        "elasticloadbalancing:CreateListener": requested,
        "elasticloadbalancing:DeleteListener": present,
        "elasticloadbalancing:DeregisterTargets": present,
    }
    creations = {"CreateTargetGroup", "CreateListener"}
    seen = set()
    for owner, statement in statements(template):
        actions = set(as_list(statement["Action"]))
        # When its StringEquals condition is read
        condition = statement.get("Condition", {}).get("StringEquals", {})
        # Then creating and deleting need our ownership tag, and tagging is creation-only
        for action in actions & set(expected):
            seen.add(action)
            assert condition == expected[action], f"{owner} {statement.get('Sid')}: {action}"
        if "elasticloadbalancing:AddTags" in actions:
            create_action = as_list(condition.get("elasticloadbalancing:CreateAction", []))
            assert create_action, f"{owner}: AddTags without a CreateAction condition"
            assert set(create_action) <= creations, f"{owner}: AddTags outside creation"
    assert seen == set(expected), "some owned-resource writes are not granted at all"


def lambda_modules() -> set[Path]:
    """Files of the package that the handlers import, directly or not (the Lambda's code)."""
    seen: set[Path] = set()
    pending = list(HANDLERS.glob("*.py"))
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] != PACKAGE.name or len(parts) < 2:
                    continue
                relative = Path(*parts[1:])
                for candidate in (
                    PACKAGE / relative.with_suffix(".py"),
                    PACKAGE / relative / "__init__.py",
                ):
                    if candidate.is_file():
                        pending.append(candidate)
    return seen


def test_functions_are_granted_exactly_the_operations_their_code_calls(template):
    # Given the AWS operations named by the adapters the Lambda code imports
    called = {
        IAM_ACTION_OF.get(op, op)
        for path in lambda_modules()
        for op in re.findall(r'aws_call\("([\w-]+:\w+)"\)', path.read_text())
    }
    # When the actions granted to the functions are collected
    functions = set(functions_of(template))
    granted = {
        action
        for owner, statement in statements(template)
        if owner in functions
        for action in as_list(statement["Action"])
    }
    # Then nothing is granted that no code calls, and every call a step makes is granted
    assert granted - called - IMPLIED_ACTIONS == set()
    assert called - granted == NOT_CALLED_BY_LAMBDA


@pytest.mark.parametrize(("machine_id", "asl"), STATE_MACHINES.items())
def test_definition_substitutions_match_the_asl_placeholders(template, machine_id, asl):
    # Given the state machine definition the ASL file holds
    assert asl.is_file(), f"{asl} is missing: the template's DefinitionUri points at it"
    placeholders = set(re.findall(r"\$\{([^}]+)\}", asl.read_text()))
    machine = template["Resources"][machine_id]["Properties"]
    # When the template's substitutions are read
    substitutions = machine["DefinitionSubstitutions"]
    # Then each placeholder is substituted, by the Arn of the resource it is named after (a
    # table by its name)
    assert machine["DefinitionUri"] == f"statemachine/{asl.name}"
    assert set(substitutions) == placeholders
    functions = functions_of(template)
    machines = resources_of(template, "AWS::Serverless::StateMachine")
    tables = resources_of(template, "AWS::DynamoDB::Table")
    for name, value in substitutions.items():
        if name.removesuffix("Name") in tables:
            assert value == {"Ref": name.removesuffix("Name")}, name
            continue
        resource = name.removesuffix("Arn")
        if resource in machines:
            assert value == {"Ref": resource}, name
            continue
        assert resource in functions, f"{name}: no function {resource}"
        assert value == {"Fn::GetAtt": [resource, "Arn"]}, name


@pytest.mark.parametrize("machine_id", STATE_MACHINES)
def test_state_machine_may_invoke_exactly_the_functions_it_calls(template, machine_id):
    # Given the state machine's policies
    machine = template["Resources"][machine_id]["Properties"]
    # When the functions it may invoke are listed
    invocable = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for p in machine["Policies"]
        if isinstance(p, dict) and "LambdaInvokePolicy" in p
    }
    # Then they are exactly the functions its definition calls
    functions = functions_of(template)
    called = {name.removesuffix("Arn") for name in machine["DefinitionSubstitutions"]}
    assert invocable == called & set(functions)


@pytest.mark.parametrize("machine_id", STATE_MACHINES)
def test_state_machine_is_standard_with_logging_and_tracing_on(template, machine_id):
    # Given the state machine
    machine = template["Resources"][machine_id]["Properties"]
    # When its type, logging and tracing are read
    logging = machine["Logging"]
    log_group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    # Then it is Standard, logs every event to a log group kept for the retention parameter's
    # days, and is traced
    assert machine["Type"] == "STANDARD"
    assert logging["Level"] == "ALL"
    group = template["Resources"][log_group["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert machine["Tracing"] == {"Enabled": True}
    # but without the states' inputs and outputs: they carry task tokens and external ids
    assert logging["IncludeExecutionData"] is False


def test_fleet_state_machine_may_start_and_follow_only_migration_executions(template):
    # Given the fleet state machine's policies
    machine = template["Resources"]["FleetStateMachine"]["Properties"]
    policies = machine["Policies"]
    # When its Step Functions permissions are read
    (start,) = [
        p["StepFunctionsExecutionPolicy"] for p in policies if "StepFunctionsExecutionPolicy" in p
    ]
    granted = {
        action: statement["Resource"]
        for p in policies
        if "Statement" in p
        for statement in p["Statement"]
        for action in as_list(statement["Action"])
    }
    # Then it starts migration executions, follows (and stops) them, and uses the .sync rule
    assert start == {"StateMachineName": {"Fn::GetAtt": ["MigrationStateMachine", "Name"]}}
    follow = (
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
        "${MigrationStateMachine.Name}:*"
    )
    statements_ = [s for p in policies if "Statement" in p for s in p["Statement"]]
    (following,) = [s for s in statements_ if s["Sid"] == "FollowChildMigrations"]
    assert following["Resource"] == {"Fn::Sub": follow}
    assert set(following["Action"]) == {"states:DescribeExecution", "states:StopExecution"}
    rule = "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert granted[action]["Fn::Sub"].endswith(rule), action
    # and a Distributed Map's children are executions of its own (named) state machine
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-fleet"}
    assert granted["states:StartExecution"]["Fn::Sub"].endswith(
        ":stateMachine:${AWS::StackName}-fleet"
    )


def acts_in_target_accounts(handler: str) -> bool:
    """Whether a handler builds its dependencies for a migration's (or fleet's) target."""
    module = HANDLERS / (handler.rsplit(".", 2)[-2] + ".py")
    return re.search(r"migration_context\(|step_context\(\w", module.read_text()) is not None


def test_functions_acting_in_member_accounts_may_assume_only_the_member_role(template):
    # Given every function, and whether its handler acts in a migration's target account
    for logical_id, function in functions_of(template).items():
        properties = function["Properties"]
        targeted = acts_in_target_accounts(properties["Handler"])
        # When its sts:AssumeRole grants are read
        grants = [
            statement
            for owner, statement in statements(template)
            if owner == logical_id and "sts:AssumeRole" in as_list(statement["Action"])
        ]
        # Then exactly the target-acting functions may assume, and only the member role
        assert bool(grants) == targeted, logical_id
        for statement in grants:
            assert as_list(statement["Action"]) == ["sts:AssumeRole"], logical_id
            assert statement["Resource"] == MEMBER_ROLE_ARN, logical_id
    assert template["Parameters"]["MemberRoleName"]["Default"] == "ipsync-migrator-member"


def test_archive_keeps_our_events_for_the_configured_days(template):
    # Given the archive and its parameter
    (archive,) = resources_of(template, "AWS::Events::Archive").values()
    properties = archive["Properties"]
    # When its retention, source bus and pattern are read
    retention = properties["RetentionDays"]
    # Then they come from the parameter, our bus, and the source our code publishes
    assert retention == {"Ref": "ArchiveRetentionDays"}
    assert template["Parameters"]["ArchiveRetentionDays"]["Default"] == 90
    assert properties["SourceArn"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert properties["EventPattern"] == {"source": [EVENT_SOURCE]}


def test_only_replayed_migration_events_trigger_the_replay_rollback(template):
    # Given the replay-rollback function
    function = template["Resources"]["ReplayRollbackFunction"]["Properties"]
    assert function["Handler"] == "ipsync_migrator.handlers.replay_rollback.handler"
    # When its trigger is read
    (trigger,) = function["Events"].values()
    pattern = trigger["Properties"]["Pattern"]
    # Then it is our bus, our events, the rollback triggers, and replayed events only
    assert trigger["Type"] == "EventBridgeRule"
    assert trigger["Properties"]["EventBusName"] == {"Fn::GetAtt": ["EventBus", "Name"]}
    assert pattern["source"] == [EVENT_SOURCE]
    assert pattern["detail-type"] == list(ROLLBACK_TRIGGERS)
    assert pattern["replay-name"] == [{"exists": True}]


def test_functions_get_every_setting_config_reads(template):
    # Given the variables config.py reads (AWS_* ones Lambda sets itself)
    read = set(re.findall(r'os\.environ\.get\("(\w+)"', (PACKAGE / "config.py").read_text()))
    needed = {name for name in read if not name.startswith("AWS_")}
    # When the functions' environment is read
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # Then each is set, to the stack's own resources
    assert needed <= set(variables)
    assert variables["JOURNAL_TABLE"] == {"Ref": "JournalTable"}
    assert variables["EVENT_BUS_NAME"] == {"Fn::GetAtt": ["EventBus", "Name"]}
    assert variables["PROBE_PORT_RANGE"] == {"Ref": "ProbePortRange"}


def test_journal_table_matches_the_adapter_keys(template):
    # Given the journal table
    table = template["Resources"]["JournalTable"]["Properties"]
    # When its keys and settings are read
    keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    # Then they are what aws/journal.py writes, on-demand, recoverable and encrypted
    assert keys == {"pk": "HASH", "sk": "RANGE"}
    assert types == {"pk": "S", "sk": "S"}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}


def test_outputs_name_the_stack_resources_and_every_function(template):
    # Given the template's outputs
    outputs = set(template["Outputs"])
    # When compared with what operators and the CLI look up
    expected = {
        "StateMachineArn",
        "FleetStateMachineArn",
        "JournalTableName",
        "EventBusName",
        "EventBusArn",
        "ArchiveName",
        "ArchiveArn",
        "ReplayRollbackRuleArn",
        "DeadLetterQueueUrl",
    } | {f"{name}Arn" for name in functions_of(template)}
    # Then all are there
    assert expected <= outputs


def test_cfn_lint_finds_nothing():
    # Given the template, When cfn-lint checks it (SAM transform included)
    matches = cfnlint.api.lint_file(TEMPLATE)
    # Then it reports no error and no warning
    problems = [m for m in matches if not m.rule.id.startswith("I")]
    assert not problems, "\n".join(str(m) for m in problems)


# ---- runtime behaviour the emulator hides (issue 9) -----------------------------------------

#: Services whose resources a migration acts on: in whichever region a fleet names.
TARGET_SERVICES = {"elasticloadbalancing", "lambda", "events", "cloudwatch"}
#: Step Functions' execution metrics (AWS/States) that mean an execution did not succeed.
UNSUCCESSFUL_EXECUTIONS = {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
DEAD_LETTER_QUEUE = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
#: The logical id SAM gives the rule of ReplayRollbackFunction's ReplayedMigrationEvent.
REPLAY_RULE = "ReplayRollbackFunctionReplayedMigrationEvent"


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    """The template after the SAM transform (code 'uploaded' nowhere: no network)."""
    from ipsync_migrator.local.runtime import prepare_template

    return prepare_template(TEMPLATE, "us-east-1", lambda directory: {"Bucket": "b", "Key": "k"})


def unconditional(values: list[Any]) -> list[Any]:
    """A list's items, each `!If [condition, value, AWS::NoValue]` as its value."""
    return [v["Fn::If"][1] if isinstance(v, dict) and "Fn::If" in v else v for v in values]


def test_grants_on_a_migrations_resources_allow_any_region_of_this_account(template):
    # Given the functions' statements, and the ARN patterns they grant on
    functions = set(functions_of(template))
    granted = [
        (owner, statement, resource)
        for owner, statement in statements(template)
        if owner in functions
        for resource in as_list(statement["Resource"])
    ]
    checked = set()
    for owner, statement, resource in granted:
        if not (isinstance(resource, dict) and "Fn::Sub" in resource):
            continue
        # When a pattern on a service a migration acts on is split into its fields
        pattern = resource["Fn::Sub"].replace("${AWS::Partition}", "aws")
        _, _, service, region, account, _ = pattern.replace("${AWS::AccountId}", "ME").split(":", 5)
        if service not in TARGET_SERVICES:
            continue
        checked.add(service)
        # Then it allows every region (a fleet may list the hub account elsewhere), in this
        # account only
        assert (region, account) == ("*", "ME"), (owner, statement["Sid"])
    assert checked == TARGET_SERVICES
    # and the hub's own journal and bus stay named exactly
    for owner, statement, resource in granted:
        actions = set(as_list(statement["Action"]))
        if any(action.startswith("dynamodb:") for action in actions):
            assert resource == {"Fn::GetAtt": ["JournalTable", "Arn"]}, owner
        if "events:PutEvents" in actions:
            assert resource == {"Fn::GetAtt": ["EventBus", "Arn"]}, owner


def test_a_replay_can_name_the_rollback_rule_as_its_only_destination(template, transformed):
    # Given the output the CLI passes as StartReplay's ReplayDestination.FilterArns
    output = template["Outputs"]["ReplayRollbackRuleArn"]["Value"]
    # When the rule it names is looked up in the transformed template
    rule = transformed["Resources"][REPLAY_RULE]
    # Then it is the rule of replayed migration events, whose only target is the
    # replay-rollback function (no notification rule: FilterArns keeps those out)
    assert output == {"Fn::GetAtt": [REPLAY_RULE, "Arn"]}
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["EventPattern"]["replay-name"] == [{"exists": True}]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReplayRollbackFunction", "Arn"]}


def test_the_archive_and_the_journal_outlive_the_stack(template):
    # Given the event archive and the journal table
    archive = template["Resources"]["EventArchive"]
    journal = template["Resources"]["JournalTable"]
    # When their deletion and replacement policies are read
    # Then both are kept when the stack is deleted or they are replaced
    for resource in (archive, journal):
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"
    # and the table refuses a delete by hand too
    assert journal["Properties"]["DeletionProtectionEnabled"] is True


def test_every_function_logs_to_its_own_group_kept_for_the_retention_parameter(template):
    # Given the retention parameter and the template's log groups
    parameter = template["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 30 and 30 in parameter["AllowedValues"]
    groups = resources_of(template, "AWS::Logs::LogGroup")
    for logical_id, function in functions_of(template).items():
        # When the group its LoggingConfig names is looked up
        group = groups[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        # Then it is the function's own, named after the stack and the function
        name = {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{logical_id}"}
        assert group["Properties"]["LogGroupName"] == name
    # and every log group of the stack (the state machines' too) keeps logs that many days
    assert len(groups) == len(functions_of(template)) + len(STATE_MACHINES)
    for logical_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id


def test_undeliverable_rollbacks_and_notifications_go_to_a_dead_letter_queue(template):
    # Given the dead-letter queue
    queue = template["Resources"]["DeadLetterQueue"]["Properties"]
    # When it, the replay-rollback function's delivery settings and the rules are read
    function = template["Resources"]["ReplayRollbackFunction"]["Properties"]
    invoke = function["EventInvokeConfig"]
    (trigger,) = function["Events"].values()
    # Then the queue is encrypted (SSE-SQS) and keeps messages 14 days
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    # and a rollback that still fails after Lambda's retries lands in it
    assert invoke["MaximumRetryAttempts"] >= 1
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": DEAD_LETTER_QUEUE,
    }
    # and so does every event a rule cannot deliver: the rollback rule's and each
    # notification's, after a bounded retry
    dead_lettering = {REPLAY_RULE}
    assert trigger["Properties"]["DeadLetterConfig"] == {"Arn": DEAD_LETTER_QUEUE}
    assert trigger["Properties"]["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600
    for logical_id, rule in resources_of(template, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": DEAD_LETTER_QUEUE}, logical_id
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600, logical_id
            dead_lettering.add(logical_id)
    assert len(dead_lettering) == 4


def test_the_dead_letter_queue_accepts_only_our_rules_and_the_replay_function(template):
    # Given the queue's policy
    policy = template["Resources"]["DeadLetterQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "DeadLetterQueue"}]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    # When its statements are read
    events, function = by_sid["UndeliveredEvents"], by_sid["FailedReplayRollbacks"]
    # Then EventBridge may send to it on behalf of exactly the rules that dead-letter there
    rules = {REPLAY_RULE} | set(resources_of(template, "AWS::Events::Rule"))
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    sources = unconditional(events["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert sorted(s["Fn::GetAtt"][0] for s in sources) == sorted(rules)
    # and Lambda with the replay function's role (failed asynchronous invocations)
    assert function["Principal"] == {"AWS": {"Fn::GetAtt": ["ReplayRollbackFunctionRole", "Arn"]}}
    for statement in (events, function):
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == DEAD_LETTER_QUEUE


def alarm_actions_are_the_optional_topic(alarm: dict[str, Any]) -> bool:
    return alarm["AlarmActions"] == {
        "Fn::If": [
            "HasNotificationTopic",
            [{"Ref": "NotificationTopicArn"}],
            {"Ref": "AWS::NoValue"},
        ]
    }


@pytest.mark.parametrize("machine_id", STATE_MACHINES)
def test_unsuccessful_executions_raise_an_alarm(template, machine_id):
    # Given the alarms of the template
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    # When the one watching this state machine's executions is found
    (alarm,) = [
        a["Properties"]
        for a in alarms
        if any(
            query.get("MetricStat", {}).get("Metric", {}).get("Dimensions")
            == [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}]
            for query in a["Properties"].get("Metrics", [])
        )
    ]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    watched = {
        query["MetricStat"]["Metric"]["MetricName"]: query_id
        for query_id, query in queries.items()
        if "MetricStat" in query
    }
    (result,) = [query for query in queries.values() if query.get("ReturnData", True)]
    # Then it sums failed, timed-out and aborted executions (a period without one of them
    # counting as none) and fires on the first
    assert set(watched) == UNSUCCESSFUL_EXECUTIONS
    for query_id in watched.values():
        assert queries[query_id]["MetricStat"]["Metric"]["Namespace"] == "AWS/States"
        assert queries[query_id]["MetricStat"]["Stat"] == "Sum"
        assert f"FILL({query_id}, 0)" in result["Expression"]
    assert result["Expression"].count("+") == len(UNSUCCESSFUL_EXECUTIONS) - 1
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["TreatMissingData"] == "notBreaching"
    # and notifies the topic when the stack has one (the console shows it either way)
    assert alarm_actions_are_the_optional_topic(alarm)


def test_a_failed_rollback_raises_its_own_alarm(template, capsys, lambda_context):
    # Given the RollbackFailed alarm, and the state machine's Rollback state
    from ipsync_migrator.observability import SERVICE, step_handler
    from ipsync_migrator.planning import Step

    alarm = template["Resources"]["RollbackFailedAlarm"]["Properties"]
    states = json.loads(ASL.read_text())["States"]
    rollback = states["Rollback"]
    assert rollback["Parameters"]["FunctionName"] == "${RollbackFunctionArn}"
    (catch,) = rollback["Catch"]
    assert states[catch["Next"]]["Type"] == "Fail" and catch["Next"] == "RollbackFailed"

    # When a rollback step fails
    @step_handler(Step.ROLLBACK)
    def failing_rollback(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("the listener could not be restored")

    with pytest.raises(RuntimeError):
        failing_rollback({"migrationId": "m-1"}, lambda_context)

    # Then it emits the metric the alarm watches, with the alarm's namespace and dimensions
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    (record,) = [r for r in records if "StepFailed" in r]
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions == {"service": SERVICE, "step": Step.ROLLBACK}
    assert {name: record[name] for name in directive["Dimensions"][0]} == dimensions
    assert alarm["MetricName"] == "StepFailed"
    assert alarm["Namespace"] == directive["Namespace"]
    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["Namespace"] == globals_["POWERTOOLS_METRICS_NAMESPACE"]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)
    assert alarm_actions_are_the_optional_topic(alarm)


def test_anything_in_the_dead_letter_queue_raises_an_alarm(template):
    # Given the dead-letter alarm, When its metric is read
    alarm = template["Resources"]["DeadLetterAlarm"]["Properties"]
    # Then it watches the queue's visible messages and fires on the first
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm_actions_are_the_optional_topic(alarm)


def test_only_this_stacks_functions_may_put_events_on_its_bus(template):
    # Given the bus's resource policy and the tag every function (and so its role) carries
    [statement] = template["Resources"]["EventBus"]["Properties"]["Policy"]["Statement"]
    tags = template["Globals"]["Function"]["Tags"]
    # Then PutEvents is denied to any principal without this stack's tag
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Deny",
        "*",
        "events:PutEvents",
    )
    condition = statement["Condition"]
    assert condition["StringNotEquals"] == {
        "aws:PrincipalTag/ipsync-migrator:stack": {"Ref": "AWS::StackName"}
    }
    assert tags == {"ipsync-migrator:stack": {"Ref": "AWS::StackName"}}
    # and only to requests a principal makes (never to EventBridge's own redelivery)
    assert condition["Null"] == {"aws:PrincipalArn": "false"}
    # and no function overrides the tag away
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        assert "Tags" not in function["Properties"], name
