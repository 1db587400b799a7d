"""The local runtime: template.yaml deployed on a moto server, executions run the real handlers.

One runtime (server on 127.0.0.1, a free port, the demo estate) serves the whole module; its
teardown checks that the server stopped and every patch is gone. The ``test_moto_*`` tests pin
the moto behaviours the runtime's fixes rely on: they fail when a moto upgrade changes them.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime, prepare_template

pytestmark = pytest.mark.timeout(600)

#: Both the direct invoke and the execution drive the shop migration as the owner this
#: execution's Preflight sends, so either may run first: the second resumes the first's record.
SHOP_EXECUTION = "local-runtime-shop"
OPTIONS = {
    "pollSeconds": 1,
    "healthTimeoutSeconds": 60,
    "bakeSeconds": 0,
    "drainSeconds": 0,
    "healthyChecksRequired": 2,
}
EXECUTION_DEADLINE_SECONDS = 120


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    from moto.awslambda.models import LambdaFunction
    from moto.stepfunctions import models as sfn_models

    moto_invoke = LambdaFunction.invoke
    moto_backends = sfn_models.stepfunctions_backends
    env_before = _environment()

    started = time.monotonic()
    rt = LocalRuntime(port=0, seed="demo").start()
    print(f"runtime ready in {time.monotonic() - started:.1f} s (deploy {rt.deploy_seconds:.1f} s)")
    port = rt.port
    try:
        yield rt
    finally:
        rt.stop()
        # Then the server is gone and moto, the environment are as they were.
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        assert LambdaFunction.invoke is moto_invoke
        assert sfn_models.stepfunctions_backends is moto_backends
        assert _environment() == env_before


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def run_execution(rt: LocalRuntime, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Start an execution and poll it (bounded) until it leaves RUNNING."""
    sfn = rt.clients().client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=rt.outputs["StateMachineArn"], name=name, input=json.dumps(payload)
    )["executionArn"]
    started = time.monotonic()
    while True:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            print(f"{name}: {execution['status']} in {time.monotonic() - started:.1f} s")
            return execution
        if time.monotonic() - started > EXECUTION_DEADLINE_SECONDS:
            pytest.fail(f"execution {name} still RUNNING after {EXECUTION_DEADLINE_SECONDS} s")
        time.sleep(0.2)


def execution_owner(rt: LocalRuntime, name: str) -> str:
    """The owner the state machine's Preflight sends for execution ``name``."""
    sfn = rt.clients().client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=rt.outputs["StateMachineArn"])
    path = json.loads(machine["definition"])["States"]["Preflight"]["Parameters"]["Payload"][
        "owner.$"
    ]
    execution_arn = rt.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:")
    return {"$$.Execution.Id": f"{execution_arn}:{name}", "$$.Execution.Name": name}[path]


def invoke(rt: LocalRuntime, output: str, payload: Any) -> tuple[str | None, dict[str, Any]]:
    response = (
        rt.clients()
        .client("lambda")
        .invoke(FunctionName=rt.outputs[output], Payload=json.dumps(payload).encode())
    )
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_server_binds_only_loopback(runtime: LocalRuntime) -> None:
    assert runtime.address == ("127.0.0.1", runtime.port)
    assert runtime.endpoint == f"http://127.0.0.1:{runtime.port}"


def test_stack_deploys_with_outputs(runtime: LocalRuntime) -> None:
    # Given the deployed stack
    clients = runtime.clients()
    outputs = runtime.outputs

    # Then its outputs name real resources (names, not moto objects: the Ref quirk is fixed)
    for key in ("StateMachineArn", "JournalTableName", "EventBusName", "ArchiveName"):
        assert outputs.get(key), f"missing output {key}: {outputs}"
        assert "<moto" not in outputs[key]
    assert clients.client("dynamodb").describe_table(TableName=outputs["JournalTableName"])
    assert clients.client("events").describe_event_bus(Name=outputs["EventBusName"])
    assert clients.client("events").describe_archive(ArchiveName=outputs["ArchiveName"])
    # and the state machine exists where executions run, substituted, with $$ intact
    machine = clients.client("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["StateMachineArn"]
    )
    definition = machine["definition"]
    assert "${" not in definition
    assert '"$$.Execution.' in definition
    assert outputs["PreflightFunctionArn"] in definition
    # and every function runs one of our handlers
    function = clients.client("lambda").get_function(FunctionName=outputs["PreflightFunctionArn"])
    assert function["Configuration"]["Handler"] == "ipsync_migrator.handlers.preflight.handler"


def test_the_stack_deploy_leaves_no_unpublished_translator_metrics(runtime: LocalRuntime) -> None:
    # The SAM translator times its methods into a metrics object; left unpublished, it prints
    # "There are unpublished metrics" when collected (in the middle of `make bench`'s tables).
    from samtranslator.metrics.method_decorator import MetricsMethodWrapperSingleton

    assert MetricsMethodWrapperSingleton.get_instance().metrics_cache == {}


def test_stack_deploys_its_kept_history_logs_and_dead_letter_queue(runtime: LocalRuntime) -> None:
    # Given the deployed stack
    clients = runtime.clients()
    outputs = runtime.outputs

    # Then the journal is deletion-protected, the dead-letter queue encrypted and kept 14 days
    table = clients.client("dynamodb").describe_table(TableName=outputs["JournalTableName"])
    assert table["Table"]["DeletionProtectionEnabled"] is True
    queue = clients.client("sqs").get_queue_attributes(
        QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert queue["SqsManagedSseEnabled"] == "true"
    assert queue["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    # and every function has its log group, kept 30 days (the parameter's default)
    groups = clients.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{runtime.stack_name}/"
    )["logGroups"]
    assert len(groups) == sum(k.endswith("FunctionArn") for k in outputs)
    assert {g.get("retentionInDays") for g in groups} == {30}
    # and the replay rule output is the bus's rule that targets the replay-rollback function
    rule = outputs["ReplayRollbackRuleArn"]
    events = clients.client("events")
    targets = events.list_targets_by_rule(
        Rule=rule.rsplit("/", 1)[-1], EventBusName=outputs["EventBusName"]
    )["Targets"]
    assert [t["Arn"] for t in targets] == [outputs["ReplayRollbackFunctionArn"]]


def test_invoke_preflight_runs_the_real_handler(runtime: LocalRuntime) -> None:
    # Given the demo's shop deployment (v1, migratable)
    assert runtime.demo is not None
    owner = execution_owner(runtime, SHOP_EXECUTION)
    payload = {"targetGroupArn": runtime.demo.shop_tg, "owner": owner, "options": OPTIONS}

    # When the Preflight function is invoked through the endpoint
    error, result = invoke(runtime, "PreflightFunctionArn", payload)

    # Then our handler answered (moto alone would echo the payload back)
    assert error is None, result
    assert result["verdict"] == "migratable"
    assert result["migrationId"].startswith("shop-ip-tg-")
    assert result["plan"]["targetGroupArn"] == runtime.demo.shop_tg


def test_invoke_with_malformed_payload_is_a_function_error(runtime: LocalRuntime) -> None:
    # When Preflight gets an event without its required fields
    error, result = invoke(runtime, "PreflightFunctionArn", {"targetGroupArn": "not-an-arn"})

    # Then it is Lambda's unhandled-error payload, named after our exception class
    assert error == "Unhandled"
    assert result["errorType"] == "InvalidInputError"
    assert "targetGroupArn" in result["errorMessage"]
    assert isinstance(result["stackTrace"], list) and result["stackTrace"]


def test_execution_migrates_the_shop_deployment(runtime: LocalRuntime) -> None:
    # Given the shop deployment, whose NLB listener forwards to the legacy IP group
    assert runtime.demo is not None
    shop_tg = runtime.demo.shop_tg
    elb = runtime.clients().client("elbv2")

    # When the state machine runs the whole migration with zero waits
    execution = run_execution(
        runtime, SHOP_EXECUTION, {"targetGroupArn": shop_tg, "options": OPTIONS}
    )

    # Then it succeeds
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    # and the NLB's listener now forwards to an alb target group holding the shop ALB
    [nlb] = elb.describe_load_balancers(Names=["shop-nlb"])["LoadBalancers"]
    [alb] = elb.describe_load_balancers(Names=["shop-alb"])["LoadBalancers"]
    listeners = elb.describe_listeners(LoadBalancerArn=nlb["LoadBalancerArn"])["Listeners"]
    assert [listener["Port"] for listener in listeners] == [80]  # the probe listener is gone
    [action] = listeners[0]["DefaultActions"]
    assert action["TargetGroupArn"] != shop_tg
    [group] = elb.describe_target_groups(TargetGroupArns=[action["TargetGroupArn"]])["TargetGroups"]
    assert group["TargetType"] == "alb"
    health = elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
    assert [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]] == [
        alb["LoadBalancerArn"]
    ]


def test_execution_of_a_blocked_deployment_fails_migration_blocked(
    runtime: LocalRuntime,
) -> None:
    # Given the payments deployment, blocked by its TLS listener
    assert runtime.demo is not None

    # When the state machine runs on it
    execution = run_execution(
        runtime,
        "local-runtime-payments",
        {"targetGroupArn": runtime.demo.payments_tg, "options": OPTIONS},
    )

    # Then it fails as blocked, with the findings as the cause
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "MigrationBlocked"
    assert "LISTENER_PROTOCOL_UNSUPPORTED" in execution.get("cause", "")


def test_failed_cutover_rolls_the_migration_back(runtime: LocalRuntime) -> None:
    # Given the media deployment, and a fault making ELB refuse the next listener change
    assert runtime.demo is not None
    media_tg = runtime.demo.media_tg
    elb = runtime.clients().client("elbv2")
    [nlb] = elb.describe_load_balancers(Names=["media-nlb"])["LoadBalancers"]
    before = elb.describe_listeners(LoadBalancerArn=nlb["LoadBalancerArn"])["Listeners"]
    runtime.realism.add_fault(
        FaultRule("elbv2", "ModifyListener", "ValidationError", message="refused", times=1)
    )

    # When the state machine migrates it
    try:
        execution = run_execution(
            runtime, "local-runtime-media", {"targetGroupArn": media_tg, "options": OPTIONS}
        )
    finally:
        runtime.realism.clear_faults()

    # Then Cutover fails, the rollback runs, and the NLB's listeners are exactly as before
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "MigrationRolledBack", execution.get("cause")
    assert "refused" in execution.get("cause", "")  # the injected error, through the Catch
    after = elb.describe_listeners(LoadBalancerArn=nlb["LoadBalancerArn"])["Listeners"]
    assert after == before


def test_handler_exception_name_is_the_state_error(runtime: LocalRuntime) -> None:
    # When Preflight raises InvalidInputError inside an execution (region mismatch ARN)
    bad_arn = (
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x-tg/0123456789abcdef"
    )
    execution = run_execution(
        runtime, "local-runtime-invalid", {"targetGroupArn": bad_arn, "options": OPTIONS}
    )

    # Then the state's error is the exception class name, as Catch/Retry match it on AWS
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "InvalidInputError"
    assert json.loads(execution["cause"])["errorType"] == "InvalidInputError"


def test_execution_without_a_name_gets_one(runtime: LocalRuntime) -> None:
    # Given no execution name (AWS then generates one)
    sfn = runtime.clients().client("stepfunctions")
    arn = runtime.outputs["StateMachineArn"]
    bad_input = json.dumps({"targetGroupArn": "not-an-arn", "options": OPTIONS})

    # When two executions start without a name
    first = sfn.start_execution(stateMachineArn=arn, input=bad_input)["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input=bad_input)["executionArn"]

    # Then each has its own generated name
    assert first != second
    assert not first.endswith(":None")


# ---- the template preparation, and the moto behaviours it relies on ------------------------


def test_prepare_template_fixes_the_moto_quirks(tmp_path: Path) -> None:
    # Given a SAM template with an archive, a Ref to a bus, a substituted state machine and
    # an alarm
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "sm.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Task",
                        "Resource": "${FnArn}",
                        "Parameters": {"id.$": "$$.Execution.Id"},
                        "End": True,
                    }
                },
            }
        )
    )
    (tmp_path / "template.yaml").write_text(
        """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          BUS: !Ref Bus
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: bus
  Archive:
    Type: AWS::Events::Archive
    Properties:
      SourceArn: !GetAtt Bus.Arn
      EventPattern:
        source: [me]
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm.asl.json
      DefinitionSubstitutions:
        FnArn: !GetAtt Fn.Arn
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/States
      MetricName: ExecutionsFailed
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
Outputs:
  ArchiveName:
    Value: !Ref Archive
"""
    )
    uploaded: list[Path] = []

    def upload(directory: Path) -> dict[str, str]:
        uploaded.append(directory)
        return {"Bucket": "b", "Key": "k.zip"}

    # When it is prepared for moto
    template = prepare_template(tmp_path / "template.yaml", "us-east-1", upload)

    # Then the code went to S3, and the four quirks are handled (the alarm left out)
    resources = template["Resources"]
    assert uploaded == [tmp_path / "code/"]
    assert resources["Fn"]["Properties"]["Code"] == {"S3Bucket": "b", "S3Key": "k.zip"}
    assert json.loads(resources["Archive"]["Properties"]["EventPattern"]) == {"source": ["me"]}
    assert resources["Fn"]["Properties"]["Environment"]["Variables"]["BUS"] == {
        "Fn::GetAtt": ["Bus", "Name"]
    }
    assert template["Outputs"]["ArchiveName"]["Value"] == {"Fn::GetAtt": ["Archive", "ArchiveName"]}
    machine = resources["Machine"]["Properties"]
    assert "DefinitionSubstitutions" not in machine
    parts = machine["DefinitionString"]["Fn::Join"][1]
    assert {"Fn::GetAtt": ["Fn", "Arn"]} in parts
    text = "".join(p for p in parts if isinstance(p, str))
    assert "$$.Execution.Id" in text and "${" not in text
    assert "Alarm" not in resources and "Fn" in resources


def moto_source(module_name: str, qualified_name: str) -> str:
    """The source of a function as moto ships it (the module file: patches do not show).

    Found by indentation, not `ast.parse`: CPython 3.11's AST constructor can raise a
    spurious SystemError ("recursion depth mismatch", gh-106905) while the runtime's
    threads run, which is what these tests run beside.
    """
    lines = inspect.getsource(importlib.import_module(module_name)).splitlines()
    *owners, name = qualified_name.split(".")
    start, indent = 0, -1
    for keyword, wanted in [*(("class", o) for o in owners), ("def", name)]:
        pattern = re.compile(rf"^(\s*)(?:async\s+)?{keyword}\s+{re.escape(wanted)}\b")
        for number in range(start, len(lines)):
            found = pattern.match(lines[number])
            if found and len(found.group(1)) > indent:
                start, indent = number, len(found.group(1))
                break
        else:
            raise AssertionError(f"{keyword} {wanted} not found in {module_name}")
    body = [lines[start]]
    for line in lines[start + 1 :]:
        stripped = line.lstrip()
        if stripped and len(line) - len(stripped) <= indent and not stripped.startswith(")"):
            break
        body.append(line)
    return "\n".join(body)


def test_moto_cloudformation_state_machines_use_the_module_backends() -> None:
    # Relied on by the runtime's fix 1: these are the only readers of the module global.
    models = "moto.stepfunctions.models"
    for method in ("create", "update", "delete"):
        source = moto_source(models, f"StateMachine.{method}_from_cloudformation_json")
        assert "stepfunctions_backends[account_id][region_name]" in source
    assert (
        inspect.getsource(importlib.import_module(models)).count(
            "stepfunctions_backends[account_id]"
        )
        == 3
    )
    get_backend = moto_source("moto.stepfunctions.responses", "get_backend")
    assert "stepfunctions_parser_backends" in get_backend


def test_moto_parser_backend_does_not_name_executions() -> None:
    # Relied on by the runtime's fix 2: when moto generates the name itself, drop the fix.
    source = moto_source(
        "moto.stepfunctions.parser.models", "StepFunctionsParserBackend.start_execution"
    )
    assert "exec_name = name" in source
    assert "uuid" not in source


def test_moto_lambda_responses_call_function_invoke() -> None:
    # Relied on by the bridge: both invoke paths go through LambdaFunction.invoke.
    backend = moto_source("moto.awslambda.models", "LambdaBackend.invoke")
    assert "fn.invoke(body, headers, response_headers)" in backend
    invoke_async = moto_source("moto.awslambda.responses", "LambdaResponse.invoke_async")
    assert "fn.invoke(self.body, self.headers, response_headers)" in invoke_async


def test_moto_interpreter_names_errors_after_error_type() -> None:
    # Relied on by the bridge's error payload: the state's error is the payload's errorType.
    source = moto_source(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
        "state_task_service_lambda",
        "StateTaskServiceLambda._from_error",
    )
    assert 'cause_object["errorType"]' in source


def test_moto_callback_pool_keeps_answered_callbacks() -> None:
    # Relied on by the runtime's fix 4: an answered callback stays in the pool and a second
    # notify succeeds; when moto refuses it itself, drop the fix.
    source = moto_source(
        "moto.stepfunctions.parser.asl.eval.callback.callback", "CallbackPoolManager.notify"
    )
    assert "callback_endpoint.notify(outcome=outcome)" in source
    assert "_outcome" not in source and "pop(" not in source


def test_moto_cloudformation_lacks_the_types_the_runtime_leaves_out() -> None:
    # Relied on by the runtime's quirk 4 (alarms, queue policy, async invoke config): when
    # moto implements one of these types, deploy it instead of leaving it out.
    from moto.cloudformation.parsing import get_model_map

    from ipsync_migrator.local.runtime import _NOT_IN_MOTO

    assert _NOT_IN_MOTO.isdisjoint(get_model_map())
    assert "AWS::SQS::Queue" in get_model_map() and "AWS::Logs::LogGroup" in get_model_map()


# ---- Distributed Maps: S3 in and out (local/distributed_map.py) -----------------------------

MAP_RUN_BUCKET = "local-runtime-map-runs"
#: A Distributed Map as the fleet's: items from S3, bucket and prefix from the state's input.
MAP_RUN_DEFINITION = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
            },
            "ItemSelector": {"item.$": "$$.Map.Item.Value", "run.$": "$.run"},
            "MaxConcurrency": 1,
            "ToleratedFailurePercentage": 100.0,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Odd",
                "States": {
                    "Odd": {
                        "Type": "Choice",
                        "Choices": [
                            {"Variable": "$.item.fail", "BooleanEquals": True, "Next": "Boom"}
                        ],
                        "Default": "Done",
                    },
                    "Boom": {"Type": "Fail", "Error": "Boom", "Cause": "item said so"},
                    "Done": {"Type": "Pass", "Parameters": {"n.$": "$.item.n"}, "End": True},
                },
            },
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.prefix"},
            },
            "ResultPath": "$.results",
            "End": True,
        }
    },
}


def test_a_distributed_map_reads_items_from_s3_and_writes_every_result(
    runtime: LocalRuntime,
) -> None:
    # Given 1,500 items in S3, the fifth of which fails, and one worker to take them all
    # (moto's worker recursed once per item: RecursionError past ~900, then a hang)
    clients = runtime.clients()
    s3, sfn = clients.client("s3"), clients.client("stepfunctions")
    s3.create_bucket(Bucket=MAP_RUN_BUCKET)
    items = [{"n": n, "fail": n == 4} for n in range(1500)]
    s3.put_object(Bucket=MAP_RUN_BUCKET, Key="in/items.json", Body=json.dumps(items).encode())
    machine = sfn.create_state_machine(
        name="local-runtime-map-run",
        definition=json.dumps(MAP_RUN_DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/local-runtime",
    )["stateMachineArn"]
    payload = {"bucket": MAP_RUN_BUCKET, "key": "in/items.json", "prefix": "out", "run": "r-1"}

    # When it runs
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    started = time.monotonic()
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() - started < EXECUTION_DEADLINE_SECONDS, "still RUNNING"
        time.sleep(0.2)

    # Then the ResultWriter used the state's input for its bucket and prefix, and the
    # state's output is the manifest's location (not the results)
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    output = json.loads(execution["output"])["results"]
    details = output["ResultWriterDetails"]
    assert details["Bucket"] == MAP_RUN_BUCKET
    run_id = output["MapRunArn"].rsplit(":", 1)[-1]
    assert details["Key"] == f"out/{run_id}/manifest.json"
    # and the manifest lists one file per status, as AWS's does
    manifest = json.loads(s3.get_object(Bucket=MAP_RUN_BUCKET, Key=details["Key"])["Body"].read())
    assert manifest["DestinationBucket"] == MAP_RUN_BUCKET
    assert manifest["MapRunArn"] == output["MapRunArn"]
    files = manifest["ResultFiles"]
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"out/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"out/{run_id}/FAILED_0.json"]
    assert files["PENDING"] == []

    def executions(status: str) -> list[dict[str, Any]]:
        [listed] = files[status]
        body = s3.get_object(Bucket=MAP_RUN_BUCKET, Key=listed["Key"])["Body"].read()
        assert listed["Size"] == len(body)
        return list(json.loads(body))

    # and every child is in them: its input after the ItemSelector, its output or error
    succeeded, failed = executions("SUCCEEDED"), executions("FAILED")
    assert len(succeeded) == 1499 and len(failed) == 1
    first = succeeded[0]
    assert json.loads(first["Input"]) == {"item": {"n": 0, "fail": False}, "run": "r-1"}
    assert json.loads(first["Output"]) == {"n": 0}
    assert first["Status"] == "SUCCEEDED" and ":execution:" in first["ExecutionArn"]
    assert sorted(json.loads(e["Output"])["n"] for e in succeeded) == [
        n for n in range(1500) if n != 4
    ]
    [boom] = failed
    assert (boom["Status"], boom["Error"], boom["Cause"]) == ("FAILED", "Boom", "item said so")
    assert json.loads(boom["Input"])["item"] == {"n": 4, "fail": True}
    assert "Output" not in boom


def test_prepare_template_writes_tolerated_failure_percentages_moto_can_read(
    tmp_path: Path,
) -> None:
    # Given a state machine whose Distributed Map tolerates 100 percent (an integer)
    (tmp_path / "sm.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "M",
                "States": {
                    "M": {**MAP_RUN_DEFINITION["States"]["Each"], "ToleratedFailurePercentage": 100}
                },
            }
        )
    )
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Machine:\n"
        "    Type: AWS::Serverless::StateMachine\n    Properties:\n"
        "      DefinitionUri: sm.asl.json\n"
    )
    # When it is prepared for moto
    template = prepare_template(tmp_path / "template.yaml", "us-east-1", lambda path: {})
    # Then the same number is written as a decimal, which moto's grammar reads
    [machine] = [
        r for r in template["Resources"].values() if "DefinitionString" in r.get("Properties", {})
    ]
    text = machine["Properties"]["DefinitionString"]
    text = (
        text
        if isinstance(text, str)
        else "".join(p for p in text["Fn::Join"][1] if isinstance(p, str))
    )
    assert json.loads(text)["States"]["M"]["ToleratedFailurePercentage"] == 100.0
    assert '"ToleratedFailurePercentage": 100.0' in text


def test_distributed_map_fixes_uninstall_exactly() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as reader,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker as Worker,
    )

    from ipsync_migrator.local.distributed_map import DistributedMapFixes

    # Given the worker's attributes and a module's client factory as they are now
    before = {
        name: Worker.__dict__.get(name) for name in ("_eval_pool", "_eval_job", "_eval_input")
    }
    factory = reader.boto_client_for
    # When a second set of fixes is installed, then uninstalled
    fixes = DistributedMapFixes().install()
    assert Worker.__dict__.get("_eval_job") is not before["_eval_job"]  # a new wrapper
    assert reader.boto_client_for is not factory
    fixes.uninstall()
    # Then every attribute is back, the same object (or absent, when it was inherited)
    assert {name: Worker.__dict__.get(name) for name in before} == before
    assert reader.boto_client_for is factory


def test_moto_result_writer_evaluates_its_parameters_against_the_results() -> None:
    # Relied on by distributed_map.py fix 1: the ResultWriter runs right after the map run,
    # its results on top of the stack, and evaluates its Parameters there; when moto reads
    # the state's input itself, drop the fix.
    state_map = moto_source(
        "moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map",
        "StateMap._eval_execution",
    )
    assert "self.iteration_component.eval(env)\n\n        if self.result_writer:" in state_map
    writer = moto_source(
        "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer."
        "result_writer_decl",
        "ResultWriter._eval_body",
    )
    assert writer.splitlines()[1:] == [
        "        self.parargs.eval(env=env)",
        "        self.resource_eval.eval_resource(env=env)",
    ]


def test_moto_result_writer_writes_an_empty_manifest_only() -> None:
    # Relied on by fix 2: moto writes no result file; when it does, drop the fix.
    source = moto_source(
        "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer."
        "resource_eval.resource_eval_s3",
        "ResourceEvalS3._handle_put_object",
    )
    assert '"ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": []}' in source
    assert "env.stack.pop()  # TODO: results" in source
    assert source.count(".put_object(") == 1


def test_moto_distributed_worker_takes_each_item_by_recursing() -> None:
    # Relied on by fix 3: the loop replaces this recursion step for step; when moto loops
    # itself, drop the fix.
    source = moto_source(
        "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration."
        "itemprocessor.distributed_item_processor_worker",
        "DistributedItemProcessorWorker._eval_pool",
    )
    assert "self._eval_pool(job=next_job, worker_frame=worker_frame)" in source
    assert "job_frame = worker_frame.open_inner_frame()" in source


def test_moto_grammar_reads_tolerated_failure_percentage_only_as_a_decimal() -> None:
    # Relied on by the runtime's quirk 5: when moto parses the integer, drop the quirk.
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )

    def definition(percentage: Any) -> str:
        state = {**MAP_RUN_DEFINITION["States"]["Each"], "ToleratedFailurePercentage": percentage}
        return json.dumps({"StartAt": "Each", "States": {"Each": state}})

    with pytest.raises(ASLParserException):
        AmazonStateLanguageParser.parse(definition(100))
    AmazonStateLanguageParser.parse(definition(100.0))


def test_moto_interpreter_builds_a_client_per_call_with_fixed_credentials() -> None:
    # Relied on by fix 4: one client per service, region and endpoint serves every call, as
    # each call builds the same one (fake credentials, moto's config, no use of the state's
    # credentials); when moto caches clients itself, drop the fix.
    source = moto_source("moto.stepfunctions.parser.asl.utils.boto_client", "boto_client_for")
    assert "return boto3.client(" in source
    assert 'aws_access_key_id="ak"' in source and 'aws_secret_access_key="sk"' in source
    assert source.count("state_credentials") == 1  # the parameter, never read
    assert "moto_server_port()" in source and "botocore_stubber.enabled" in source
