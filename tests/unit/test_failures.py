"""Failures as a person reads them: the error's name, one line, the fix; never a traceback."""

from __future__ import annotations

import json

from ipsync_migrator.aws.service import function_error
from ipsync_migrator.errors import AccessDeniedError, StepPreconditionError
from ipsync_migrator.failures import MAX_MESSAGE_CHARS, from_execution, from_journal

DENIED = AccessDeniedError(
    "Access denied calling elasticloadbalancing:ModifyListener: injected fault",
    "Grant the caller permission for elasticloadbalancing:ModifyListener.",
)


def lambda_payload(error: Exception) -> str:
    """What Lambda returns for an unhandled exception, as Step Functions passes it on."""
    return json.dumps(
        {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": "fea16700",
            "stackTrace": ['  File "/var/task/handler.py", line 20, in handler\n'] * 150,
        }
    )


def test_a_rolled_back_execution_shows_the_task_error_its_message_and_fix() -> None:
    # Given an execution that failed MigrationRolledBack with a Lambda payload as its cause
    failure = from_execution("MigrationRolledBack", lambda_payload(DENIED), step="Cutover")

    # Then the failure is the task's error, with the message and fix apart, and no traceback
    assert failure is not None
    assert failure.error == "AccessDeniedError"
    assert failure.outcome == "MigrationRolledBack"
    assert failure.message == DENIED.message
    assert failure.fix == DENIED.remediation
    assert failure.headline() == f"Cutover: AccessDeniedError: {DENIED.message}"
    assert "stackTrace" not in str(failure.to_json_dict()) and "File" not in failure.headline()


def test_a_cause_cut_short_by_step_functions_still_gives_its_message() -> None:
    cut = lambda_payload(DENIED)[:400]  # Step Functions truncates long causes

    failure = from_execution("MigrationRolledBack", cut)

    assert failure is not None
    assert (failure.error, failure.message) == ("AccessDeniedError", DENIED.message)


def test_the_journal_last_error_as_the_asl_rollback_writes_it() -> None:
    # Given the Rollback task's reason: States.Format('{}: {}', Error, Cause)
    last_error = f"AccessDeniedError: {lambda_payload(DENIED)}"

    failure = from_journal(last_error)

    assert failure is not None
    assert (failure.error, failure.message, failure.fix) == (
        "AccessDeniedError",
        DENIED.message,
        DENIED.remediation,
    )


def test_a_plain_reason_and_a_pass_state_cause_stay_sentences() -> None:
    cli = from_journal("rollback requested from the CLI")
    gate = from_journal("HealthGateFailed: not healthy after 600 s (state initial)")

    assert cli is not None and (cli.error, cli.message) == ("", "rollback requested from the CLI")
    assert gate is not None and gate.error == "HealthGateFailed"
    assert gate.message == "not healthy after 600 s (state initial)"


def test_a_long_or_multi_line_message_is_one_bounded_line() -> None:
    failure = from_execution("States.TaskFailed", "line one\nline two " + "x" * 2000)

    assert failure is not None
    assert "\n" not in failure.message and len(failure.message) == MAX_MESSAGE_CHARS


def test_a_function_error_is_a_sentence_and_a_fix_never_a_class_name() -> None:
    # Given the finalize function refusing (a StepPreconditionError) and one crashing
    refused = StepPreconditionError(
        "Migration 'shop' is finalized: a rollback cannot undo a deletion.",
        "Run `ipsync-migrator migrate shop` to migrate it again.",
    )
    ours = function_error(
        "arn:aws:lambda:us-east-1:1:function:fn", json.loads(lambda_payload(refused))
    )
    crash = function_error(
        "arn:aws:lambda:us-east-1:1:function:ipsync-Finalize",
        {"errorMessage": "'NoneType' object is not subscriptable", "errorType": "TypeError"},
    )

    # Then ours reads as its message and remediation; the crash names the function and its log
    assert (ours.message, ours.remediation, ours.code) == (
        refused.message,
        refused.remediation,
        "StepPreconditionError",
    )
    assert not ours.message.startswith("StepPreconditionError")
    assert crash.message.startswith("The function ipsync-Finalize failed (TypeError)")
    assert "/aws/lambda/ipsync-Finalize" in crash.remediation


def test_an_error_of_ours_without_a_fix_is_its_message_not_a_crash() -> None:
    # Given a function of a version whose errors carried no separator (or no remediation)
    error = function_error(
        "arn:aws:lambda:us-east-1:1:function:fn",
        {"errorMessage": "Migration 'shop' is finalized.", "errorType": "StepPreconditionError"},
    )

    assert (error.message, error.remediation) == ("Migration 'shop' is finalized.", "")
