"""The deployed ipsync-migrator stack: its outputs, its state machine, its functions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import (
    InvalidInputError,
    IpsyncError,
    NotFoundError,
    StepPreconditionError,
)
from ipsync_migrator.failures import split_fix

#: The migration state machine's rollback state (statemachine/migrate.asl.json): the state
#: entered before it is the one that failed.
ROLLBACK_STATE = "Rollback"
#: History events of states that decide or end, never fail by themselves.
_PASSING_STATES = frozenset({"ChoiceStateEntered", "FailStateEntered", "SucceedStateEntered"})
#: Step Functions' errors for a task token that no longer waits.
_STALE_TOKEN = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


@dataclass(frozen=True)
class StackOutputs:
    state_machine_arn: str
    journal_table: str
    event_bus: str
    rollback_function: str
    finalize_function: str
    archive_arn: str
    event_bus_arn: str
    #: Absent from stacks deployed before fleets existed.
    fleet_state_machine_arn: str | None = None
    #: The rule replayed events go to (StartReplay's FilterArns); absent from older stacks.
    replay_rule_arn: str | None = None

    @classmethod
    def read(cls, clients: ClientFactory, stack_name: str) -> StackOutputs:
        cloudformation = clients.client("cloudformation")  # a bad --region fails as itself
        try:
            with aws_call("cloudformation:DescribeStacks"):
                stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        except (NotFoundError, InvalidInputError) as exc:
            # CloudFormation answers ValidationError "Stack with id X does not exist"; other
            # failures (credentials, permissions, endpoint) keep their own message and fix.
            raise NotFoundError(
                f"No ipsync-migrator stack named '{stack_name}' in this account and region.",
                "Deploy it (`sam build && sam deploy --guided`), pass --stack-name, or start "
                "the local runtime with `ipsync-migrator local`.",
            ) from exc
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        try:
            return cls(
                state_machine_arn=outputs["StateMachineArn"],
                journal_table=outputs["JournalTableName"],
                event_bus=outputs["EventBusName"],
                rollback_function=outputs["RollbackFunctionArn"],
                finalize_function=outputs["FinalizeFunctionArn"],
                archive_arn=outputs["ArchiveArn"],
                event_bus_arn=outputs["EventBusArn"],
                fleet_state_machine_arn=outputs.get("FleetStateMachineArn"),
                replay_rule_arn=outputs.get("ReplayRollbackRuleArn"),
            )
        except KeyError as exc:
            raise NotFoundError(
                f"Stack '{stack_name}' lacks the output {exc.args[0]}.",
                "Is it an ipsync-migrator stack? Redeploy it from this version's template.yaml.",
            ) from exc


class Executions:
    """Step Functions executions of the migration state machine."""

    def __init__(self, clients: ClientFactory, state_machine_arn: str):
        self._sfn = clients.client("stepfunctions")
        self._arn = state_machine_arn

    @property
    def state_machine_arn(self) -> str:
        return self._arn

    def named_like(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.all() if e["name"] == prefix or e["name"].startswith(prefix + "-")]

    def all(self) -> list[dict[str, Any]]:
        with aws_call("states:ListExecutions"):
            pages = self._sfn.get_paginator("list_executions").paginate(stateMachineArn=self._arn)
            return [e for page in pages for e in page["executions"]]

    def arn_of(self, name: str) -> str:
        """The ARN of this state machine's execution called `name`."""
        return self._arn.replace(":stateMachine:", ":execution:", 1) + ":" + name

    def state_output(self, execution_arn: str, state: str) -> Any:
        """The output of the last time `state` ended in the execution (None: never did)."""
        with aws_call("states:GetExecutionHistory"):
            pages = self._sfn.get_paginator("get_execution_history").paginate(
                executionArn=execution_arn, reverseOrder=True
            )
            for page in pages:
                for event in page["events"]:
                    exited = event.get("stateExitedEventDetails")
                    if exited and exited.get("name") == state:
                        return json.loads(exited.get("output") or "null")
        return None

    def failed_state(self, execution_arn: str) -> str:
        """The state whose failure ended the execution, or sent it to its rollback ("" if
        none), from the end of its history."""
        with aws_call("states:GetExecutionHistory"):
            pages = self._sfn.get_paginator("get_execution_history").paginate(
                executionArn=execution_arn, includeExecutionData=False
            )
            # Sorted here: the local emulator ignores reverseOrder (histories stay under
            # 25,000 events, limits.py).
            events = sorted(
                (e for page in pages for e in page["events"]), key=lambda e: -int(e["id"])
            )
        skipped_rollback = False
        for event in events:
            kind = event["type"]
            if not kind.endswith("StateEntered") or kind in _PASSING_STATES:
                continue
            name = str(event["stateEnteredEventDetails"]["name"])
            if name == ROLLBACK_STATE and not skipped_rollback:
                skipped_rollback = True
                continue
            return name
        return ""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        with aws_call("states:StartExecution"):
            return str(
                self._sfn.start_execution(
                    stateMachineArn=self._arn, name=name, input=json.dumps(payload)
                )["executionArn"]
            )

    def describe(self, execution_arn: str) -> dict[str, Any]:
        with aws_call("states:DescribeExecution"):
            return dict(self._sfn.describe_execution(executionArn=execution_arn))

    def stop(self, execution_arn: str, cause: str) -> None:
        with aws_call("states:StopExecution"):
            self._sfn.stop_execution(executionArn=execution_arn, error="Stopped", cause=cause)

    def approve(self, task_token: str, approver: str) -> None:
        try:
            with aws_call("states:SendTaskSuccess"):
                self._sfn.send_task_success(
                    taskToken=task_token, output=json.dumps({"approvedBy": approver})
                )
        except IpsyncError as exc:
            if exc.code not in _STALE_TOKEN:
                raise
            raise StepPreconditionError(
                "That approval was already given, or the execution stopped waiting for it "
                f"({exc.code}).",
                "Check `ipsync-migrator status ID`: the migration goes on (or ended) by itself.",
            ) from exc


def invoke(clients: ClientFactory, function: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Invoke one of the stack's functions synchronously; a function error is raised."""
    with aws_call("lambda:InvokeFunction"):
        response = clients.client("lambda").invoke(
            FunctionName=function, Payload=json.dumps(payload).encode()
        )
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise function_error(function, body)
    return dict(body or {})


def _error_names(cls: type[IpsyncError]) -> set[str]:
    return {cls.__name__}.union(*(_error_names(sub) for sub in cls.__subclasses__()))


#: Our own errors' names (errors.py): a function raising one of them did not break.
_OUR_ERRORS = frozenset(_error_names(IpsyncError))


def function_error(function: str, body: Any) -> IpsyncError:
    """A function's error payload as one sentence and a fix; its name is the error's code."""
    payload = body if isinstance(body, dict) else {"errorMessage": str(body)}
    name = str(payload.get("errorType") or "FunctionError")
    message, fix = split_fix(str(payload.get("errorMessage") or ""))
    if not fix and name not in _OUR_ERRORS:  # the function broke: a timeout, an import, a bug
        short = function.rsplit(":", 1)[-1]
        message = f"The function {short} failed ({name}): {message or 'no message'}"
        fix = f"Its log group /aws/lambda/{short} holds the details; report it if it persists."
    error = IpsyncError(message, fix)
    error.code = name
    return error


class Replays:
    """EventBridge replays of the stack's archive onto its bus, to the named rules only."""

    def __init__(
        self,
        clients: ClientFactory,
        archive_arn: str,
        bus_arn: str,
        rule_arns: Sequence[str] = (),
    ):
        self._events = clients.client("events")
        self._archive, self._bus = archive_arn, bus_arn
        self._rules = list(rule_arns)

    def start(self, name: str, since: datetime, until: datetime) -> None:
        # Without FilterArns every rule of the bus gets the replayed events, the
        # notification rules too: a team would hear of the window's milestones again.
        destination: dict[str, Any] = {"Arn": self._bus}
        if self._rules:
            destination["FilterArns"] = self._rules
        with aws_call("events:StartReplay"):
            self._events.start_replay(
                ReplayName=name,
                EventSourceArn=self._archive,
                EventStartTime=since,
                EventEndTime=until,
                Destination=destination,
            )

    def state(self, name: str) -> str:
        with aws_call("events:DescribeReplay"):
            return str(self._events.describe_replay(ReplayName=name)["State"])
