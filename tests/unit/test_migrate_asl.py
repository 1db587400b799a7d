"""statemachine/migrate.asl.json within Step Functions' limits, checked without running it.

Intrinsic string literals escape their reserved characters, every Lambda task retries
Lambda's transient errors and function timeouts, approval gates wait a bounded time and end
cleanly, and the history budget of limits.py covers what the ASL can spend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ipsync_migrator.errors import AwsUnavailableError, ThrottledError
from ipsync_migrator.handlers.requests import ApprovalRequest
from ipsync_migrator.limits import FIXED_EVENTS, POLL_ITERATION_EVENTS
from ipsync_migrator.models import MigrationOptions

STATEMACHINE = Path(__file__).resolve().parents[2] / "statemachine"
MIGRATE = STATEMACHINE / "migrate.asl.json"
#: Every state machine of the repository (fleet.asl.json is only read here).
ASL_FILES = sorted(STATEMACHINE.glob("*.asl.json"))

#: AWS's recommended retry for Lambda tasks (step-functions/latest/dg/
#: bp-lambda-serviceexception.html), and throttling, which arrives as TooManyRequests.
LAMBDA_TRANSIENT = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
#: A function that ran out of its Timeout: Lambda's errorType is Sandbox.Timedout
#: (lambda/latest/dg/troubleshooting-invocation.html); the Step Functions page above says
#: unhandled errors, timeouts included, are reported as Lambda.Unknown. Both are retried.
FUNCTION_TIMED_OUT = {"Sandbox.Timedout", "Lambda.Unknown"}
#: Our own transient errors, raised once the client's retries gave up (the state's error is
#: the exception's class name).
OWN_RETRIES = {ThrottledError.__name__, AwsUnavailableError.__name__}
#: Never retried: an approval's wait timing out, and every non-transient error.
NEVER_RETRIED = {"States.Timeout", "States.ALL", "States.TaskFailed"}

#: In intrinsic-function string literals these are reserved and must be escaped with a
#: backslash (step-functions/latest/dg/intrinsic-functions.html, "Reserved characters").
RESERVED = "'{}\\"
CALL = re.compile(r"States\.[A-Za-z0-9]+\(")

#: History events per state, as Step Functions records them (and the local runtime shows).
TASK_EVENTS, TASK_RETRY_EVENTS = 5, 3  # entered, scheduled, started, succeeded, exited
CALLBACK_EVENTS, CALLBACK_RETRY_EVENTS = 6, 4  # the same plus TaskSubmitted
STATE_EVENTS = 2  # entered, exited (a Fail state records only its entry)
EXECUTION_EVENTS = 2  # ExecutionStarted and the execution's end
#: The poll loops of limits.history_budget: Wait, Task, Choice, and back to the Wait.
LOOPS = {
    "health": ("WaitForHealth", "CheckHealth", "HealthGate"),
    "bake": ("WaitForBake", "VerifyBake", "BakeGate"),
    # A rollback waiting for the old group's health (its first pass counts as one check)
    "rollback": ("WaitForOldGroupHealth", "Rollback", "AfterRollback"),
}
#: A loop polled by its own option (limits.py counts its checks by it).
LOOP_POLLS = {"rollback": "$.preflight.options.rollbackPollSeconds"}


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return load(MIGRATE)


def all_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those inside Map item processors included."""
    found = dict(states)
    for state in states.values():
        if state["Type"] == "Map":
            found |= all_states(state["ItemProcessor"]["States"])
    return found


def lambda_tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: state
        for name, state in all_states(asl["States"]).items()
        if state["Type"] == "Task"
        and state["Resource"].startswith("arn:aws:states:::lambda:invoke")
    }


def successors(state: dict[str, Any]) -> list[str]:
    found = [state[key] for key in ("Next", "Default") if key in state]
    found += [choice["Next"] for choice in state.get("Choices", [])]
    found += [catch["Next"] for catch in state.get("Catch", [])]
    return found


def reachable(asl: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += successors(asl["States"][name])
    return seen


# ---- intrinsic functions: reserved characters -------------------------------------------


def intrinsic_calls(node: Any) -> Iterator[str]:
    """Every string of the definition that is an intrinsic call (comments aside)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "Comment":
                yield from intrinsic_calls(value)
    elif isinstance(node, list):
        for value in node:
            yield from intrinsic_calls(value)
    elif isinstance(node, str) and CALL.match(node):
        yield node


def literal_problems(expression: str) -> list[str]:
    """Unescaped reserved characters inside the string literals of one intrinsic call.

    The `{}` pairs of States.Format's template (its first argument) are placeholders.
    """
    problems: list[str] = []
    calls: list[list[Any]] = []  # [function name, index of the current argument]
    i = 0
    while i < len(expression):
        call = CALL.match(expression, i)
        if call:
            calls.append([call.group()[:-1], 0])
            i = call.end()
            continue
        char = expression[i]
        if char == "'":
            template = bool(calls) and calls[-1] == ["States.Format", 0]
            i = _literal_end(expression, i + 1, template, problems)
            rest = expression[i:].lstrip()
            if not rest or rest[0] not in ",)":
                problems.append(f"unescaped ' before {expression[i:]!r}")
            continue
        if char == "," and calls:
            calls[-1][1] += 1
        elif char == ")" and calls:
            calls.pop()
        i += 1
    return problems


def _literal_end(expression: str, i: int, template: bool, problems: list[str]) -> int:
    """Scan a literal from just after its opening quote; returns the index after its end."""
    while i < len(expression) and expression[i] != "'":
        char = expression[i]
        if char == "\\":
            if i + 1 >= len(expression) or expression[i + 1] not in RESERVED:
                problems.append(f"unescaped \\ at {i}")
                i += 1
            else:
                i += 2  # an escaped reserved character
            continue
        if template and expression.startswith("{}", i):
            i += 2
            continue
        if char in "{}":
            problems.append(f"unescaped {char} at {i}")
        i += 1
    if i >= len(expression):
        problems.append("unterminated string literal")
    return i + 1


@pytest.mark.parametrize(
    "expression",
    [
        # The Defaults state before issue 9: braces unescaped inside StringToJson's literal
        'States.JsonMerge(States.StringToJson(\'{"options": {}, "target": {}}\'), $, false)',
        "States.Format('it's {}', $.name)",
        "States.Format('a { b', $.x)",
        "States.Format('a}', $.x)",
        "States.Format('C:\\temp {}', $.x)",
        "States.Array(States.Format('{}', $.a), '{x}')",
        "States.Format('never closed {}, $.x)",
    ],
)
def test_the_scanner_finds_unescaped_reserved_characters(expression: str) -> None:
    # When a call with an unescaped ' { } or \ in a literal is scanned, Then it is reported
    assert literal_problems(expression), expression


@pytest.mark.parametrize(
    "expression",
    [
        "States.Format('{}: {}', $.error.Error, $.error.Cause)",
        "States.StringToJson('\\{\"a\": 1\\}')",
        "States.Format('it\\'s {} \\{literal\\} and a \\\\ backslash', $.name)",
        "States.JsonMerge($.defaults, $.input, false)",
        "States.JsonToString($.preflight.findings)",
        "States.Format('{} s, then {}', States.Format('{}', $.a), $.b)",
    ],
)
def test_the_scanner_accepts_escaped_characters_and_format_placeholders(
    expression: str,
) -> None:
    assert literal_problems(expression) == []


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_no_intrinsic_string_literal_has_an_unescaped_reserved_character(path: Path) -> None:
    # Given every intrinsic call of the definition
    calls = list(intrinsic_calls(load(path)))
    # When each is scanned, Then none has an unescaped ' { } \ inside a string literal
    problems = {call: literal_problems(call) for call in calls}
    assert {call: found for call, found in problems.items() if found} == {}
    assert calls or path.name != MIGRATE.name  # the migration uses intrinsics: not vacuous


def test_defaults_are_built_without_an_intrinsic_literal(asl: dict[str, Any]) -> None:
    # Given the states that fill in the optional parts of the input
    defaults = asl["States"][asl["StartAt"]]
    apply = asl["States"][defaults["Next"]]
    # Then the defaults are plain JSON, merged under the input, and Preflight comes next
    assert defaults["Parameters"] == {"defaults": {"options": {}, "target": {}}, "input.$": "$"}
    assert apply["Parameters"] == {"input.$": "States.JsonMerge($.defaults, $.input, false)"}
    assert (apply["OutputPath"], apply["Next"]) == ("$.input", "Preflight")


# ---- retries ----------------------------------------------------------------------------


def test_every_lambda_task_retries_lambdas_transient_errors_and_function_timeouts(
    asl: dict[str, Any],
) -> None:
    # Given every Lambda task of the definition (approval gates included)
    tasks = lambda_tasks(asl)
    assert len(tasks) >= 12, sorted(tasks)
    for name, task in tasks.items():
        # When its retriers are read
        retriers = task.get("Retry", [])
        retried = {error for retrier in retriers for error in retrier["ErrorEquals"]}
        # Then they cover AWS's list, a timed-out function and our own transient errors
        assert retried >= LAMBDA_TRANSIENT | FUNCTION_TIMED_OUT | OWN_RETRIES, name
        # and never an approval's timeout or a non-transient error
        assert not retried & NEVER_RETRIED, name
        for retrier in retriers:
            assert retrier["IntervalSeconds"] >= 1 and retrier["BackoffRate"] >= 1, name
            assert 1 <= retrier["MaxAttempts"] <= 10, name


def test_every_callback_task_has_a_timeout() -> None:
    # Given every .waitForTaskToken task of every state machine
    for path in ASL_FILES:
        for name, state in all_states(load(path)["States"]).items():
            if state["Type"] == "Task" and state["Resource"].endswith(".waitForTaskToken"):
                # Then it waits a bounded time (otherwise up to the execution's year)
                timeout = state.get("TimeoutSeconds") or state.get("TimeoutSecondsPath")
                assert timeout, f"{path.name}: {name}"


def test_every_option_the_definition_reads_is_a_migration_option(asl: dict[str, Any]) -> None:
    # Given every $.preflight.options.X path of the definition
    read = set(re.findall(r"\$\.preflight\.options\.(\w+)", json.dumps(asl)))
    assert "approvalTimeoutSeconds" in read
    # Then each is a field of MigrationOptions, so Preflight's output always carries it
    assert read <= set(MigrationOptions().to_json_dict())


# ---- approval gates ---------------------------------------------------------------------


@pytest.mark.parametrize("gate", ["AwaitCutoverApproval", "AwaitFinalizeApproval"])
def test_approval_gates_wait_the_configured_timeout_and_catch_it_first(
    asl: dict[str, Any], gate: str
) -> None:
    state = asl["States"][gate]
    assert state["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert state["TimeoutSecondsPath"] == "$.preflight.options.approvalTimeoutSeconds"
    first, *others = state["Catch"]
    assert first["ErrorEquals"] == ["States.Timeout"]
    # then a fenced run ends Superseded (where the rest goes to Rollback), then the rest
    fenced = [["ConcurrentMigrationError"]] if others[-1]["Next"] == "Rollback" else []
    assert [c["ErrorEquals"] for c in others] == [*fenced, ["States.ALL"]]


def test_cutover_approval_timeout_rolls_back_and_fails_as_approval_timed_out(
    asl: dict[str, Any],
) -> None:
    states = asl["States"]
    # Given the cutover gate's timeout catcher
    timed_out = states[states["AwaitCutoverApproval"]["Catch"][0]["Next"]]
    # When it runs, Then it names the error, with a cause, and goes on to Rollback
    assert timed_out["Type"] == "Pass" and timed_out["ResultPath"] == "$.error"
    assert timed_out["Parameters"]["Error"] == "ApprovalTimedOut"
    assert "Cause.$" in timed_out["Parameters"]
    assert timed_out["Next"] == "Rollback"
    # and after the rollback the execution fails as ApprovalTimedOut, any other error as before
    after = states[states["Rollback"]["Next"]]
    # (a run that no longer holds the migration ends Superseded first: issue 10's fencing)
    superseded, pending, incomplete, choice = after["Choices"]
    assert states[superseded["Next"]]["Error"] == "MigrationSuperseded"
    assert states[pending["Next"]]["Next"] == "Rollback"
    assert states[incomplete["Next"]]["Error"] == "RollbackIncomplete"
    assert choice == {
        "Variable": "$.error.Error",
        "StringEquals": "ApprovalTimedOut",
        "Next": choice["Next"],
    }
    fail = states[choice["Next"]]
    assert (fail["Type"], fail["Error"], fail["CausePath"]) == (
        "Fail",
        "ApprovalTimedOut",
        "$.error.Cause",
    )
    assert states[after["Default"]]["Error"] == "MigrationRolledBack"


def test_finalize_approval_timeout_journals_it_and_succeeds_retired(asl: dict[str, Any]) -> None:
    states = asl["States"]
    # Given the finalize gate's timeout catcher
    start = states["AwaitFinalizeApproval"]["Catch"][0]["Next"]
    record = states[start]
    # Then it tells the approval function the gate timed out, in the function's own model
    assert record["Parameters"]["FunctionName"] == "${RequestApprovalFunctionArn}"
    payload = record["Parameters"]["Payload"]
    sample = {"$.preflight.migrationId": "m-1", "$$.Execution.Id": "run-1"}
    sample["$.preflight.options.approvalTimeoutSeconds"] = 86400
    event = {
        key.removesuffix(".$"): sample[value] if key.endswith(".$") else value
        for key, value in payload.items()
    }
    request = ApprovalRequest.model_validate(event)
    assert (request.gate, request.timed_out_after_seconds) == ("finalize", 86400)
    # and the execution then ends successfully, saying finalize was not approved in time
    end = states[record["Next"]]
    assert end.get("End") is True and end["Type"] in ("Pass", "Succeed")
    assert (end["Parameters"]["outcome"], end["Parameters"]["finalize"]) == (
        "retired",
        "approval timed out",
    )
    # and nothing on that path rolls back
    assert "Rollback" not in reachable(asl, start)


def test_an_approval_request_is_a_token_or_a_timeout_never_both() -> None:
    base = {"migrationId": "m-1", "owner": "run-1", "gate": "finalize"}
    assert ApprovalRequest.model_validate({**base, "taskToken": "t"}).task_token == "t"
    for wrong in ({}, {"taskToken": "t", "timedOutAfterSeconds": 5}):
        with pytest.raises(ValidationError, match="taskToken or timedOutAfterSeconds"):
            ApprovalRequest.model_validate({**base, **wrong})


# ---- the history budget (limits.py) against the definition ------------------------------


def state_events(state: dict[str, Any]) -> int:
    """A state's history events, each retry its Retry allows included."""
    if state["Type"] == "Fail":
        return 1
    if state["Type"] != "Task":
        return STATE_EVENTS
    retries = sum(retrier.get("MaxAttempts", 3) for retrier in state.get("Retry", []))
    if state["Resource"].endswith(".waitForTaskToken"):
        return CALLBACK_EVENTS + CALLBACK_RETRY_EVENTS * retries
    return TASK_EVENTS + TASK_RETRY_EVENTS * retries


@pytest.mark.parametrize("loop", LOOPS)
def test_each_poll_loop_costs_what_limits_counts_per_iteration(
    asl: dict[str, Any], loop: str
) -> None:
    # Given the loop's Wait, Task and Choice, polling every pollSeconds
    wait, task, choice = (asl["States"][name] for name in LOOPS[loop])
    assert (wait["Type"], task["Type"], choice["Type"]) == ("Wait", "Task", "Choice")
    assert wait["SecondsPath"] == LOOP_POLLS.get(loop, "$.preflight.options.pollSeconds")
    assert (wait["Next"], task["Next"]) == LOOPS[loop][1:]
    assert LOOPS[loop][0] in [c["Next"] for c in choice["Choices"]]
    # When an iteration's events are counted, its Task's retries included
    events = sum(state_events(asl["States"][name]) for name in LOOPS[loop])
    # Then limits.py counts exactly that
    assert events == POLL_ITERATION_EVENTS == 27


def test_every_state_outside_the_loops_fits_in_the_fixed_budget(asl: dict[str, Any]) -> None:
    states = asl["States"]
    in_loops = {name for loop in LOOPS.values() for name in loop}
    # Given the definition without the loops' way back (Choice -> Wait) and without
    # HealthGate -> Cutover, which only other strategies than swap-and-watch take, while
    # only swap-and-watch goes from Cutover back into the health loop (AfterCutover)
    health_gate, after_cutover = states["HealthGate"]["Choices"], states["AfterCutover"]
    assert health_gate[0]["Next"] == "ReleaseProbe"
    swap_and_watch = {"Variable": "$.preflight.options.strategy", "StringEquals": "swap-and-watch"}
    assert swap_and_watch in health_gate[0]["And"]
    assert after_cutover["Choices"][0]["StringEquals"] == "swap-and-watch"
    dropped = {(loop[2], loop[0]) for loop in LOOPS.values()} | {("HealthGate", "Cutover")}
    graph = {
        name: [n for n in successors(state) if (name, n) not in dropped]
        for name, state in states.items()
    }
    # When it is walked, Then no state can run twice (the loops aside)
    assert _cycle(graph) is None
    # and every state outside the loops, once, with all its retries, fits in FIXED_EVENTS
    fixed = EXECUTION_EVENTS + sum(
        state_events(state) for name, state in states.items() if name not in in_loops
    )
    assert fixed <= FIXED_EVENTS, f"raise limits.FIXED_EVENTS to at least {fixed}"


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the graph, if it has one (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for successor in graph[name]:
            found = visit(successor)
            if found:
                return found
        path.pop()
        done.add(name)
        return None

    for name in graph:
        found = visit(name)
        if found:
            return found
    return None
