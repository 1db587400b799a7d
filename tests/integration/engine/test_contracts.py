"""Events, input validation, locking, concurrency and strategies of the engine."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from ipsync_migrator.aws.journal import DynamoJournal
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import (
    AwsUnavailableError,
    ConcurrentMigrationError,
    InvalidInputError,
)
from ipsync_migrator.events import DetailType
from ipsync_migrator.handlers import create_target_group as create_handler
from ipsync_migrator.handlers import preflight as preflight_handler
from ipsync_migrator.journal import (
    Journal,
    MemoryJournal,
    MigrationRecord,
    MigrationState,
    StepEntry,
)
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.realism import FaultRule, Realism
from ipsync_migrator.models import Strategy
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import create_target_group
from ipsync_migrator.steps.cutover import cutover
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.probe import attach_probe
from ipsync_migrator.steps.rollback import rollback
from tests.integration.engine.conftest import BUS, FAST, TABLE, snapshot, until_gate

OWNER = "run-1"


def capture_events(aws: ClientFactory) -> str:
    """Route the bus's events to an SQS queue; returns the queue URL."""
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName="captured")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["ipsync-migrator"]})
    )
    events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
    return url


def received(aws: ClientFactory, url: str) -> list[dict[str, Any]]:
    sqs, bodies = aws.client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_every_changing_step_emits_one_self_contained_event(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    url = capture_events(aws)
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    until_gate(ctx, mid, OWNER)
    cutover(ctx, mid, OWNER)
    rollback(ctx, mid, reason="test")

    events = received(aws, url)
    assert [e["detail-type"] for e in events] == [
        DetailType.STARTED,
        DetailType.STEP_COMPLETED,
        DetailType.STEP_COMPLETED,
        DetailType.CUT_OVER,
        DetailType.ROLLED_BACK,
    ]
    cut = events[3]
    assert cut["source"] == "ipsync-migrator"
    detail = cut["detail"]
    assert detail["migrationId"] == mid and detail["step"] == "cutover"
    assert detail["account"] == "123456789012" and detail["region"] == "us-east-1"
    assert detail["targetGroupArn"] == demo.shop_tg
    assert detail["before"] == detail["preMigration"]["listenerActions"]
    assert detail["time"]


def test_malformed_handler_input_is_rejected_before_any_aws_call(
    ctx: StepContext, realism: Realism, lambda_context: Any
) -> None:
    realism.reset()
    for event in (
        {},
        {"migrationId": "bad id with spaces"},
        {"migrationId": "ok", "unexpected": 1},
        "not an object",
    ):
        with pytest.raises(InvalidInputError):
            create_handler.handler(event, lambda_context)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="targetGroupArn"):
        preflight_handler.handler({"targetGroupArn": "arn:nope", "owner": "x"}, lambda_context)
    assert sum(realism.calls.values()) == 0


def test_a_step_handler_reads_its_record_once_and_completes_in_one_write(
    demo: DemoEstate,
    ctx: StepContext,
    realism: Realism,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a started migration, and the handlers' context on the same journal and bus
    monkeypatch.setenv("JOURNAL_TABLE", TABLE)
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    realism.reset()

    # When the CreateTargetGroup handler runs
    event = {"migrationId": mid, "owner": OWNER}
    create_handler.handler(event, lambda_context)  # type: ignore[arg-type]

    # Then it read the record once, wrote the intent, then the record with its step entry in
    # one write, and asked STS nothing (the event's account is the legacy group's)
    journal = {op: n for (service, op), n in realism.calls.items() if service == "dynamodb"}
    assert journal == {"GetItem": 1, "PutItem": 1, "TransactWriteItems": 1}
    assert ("sts", "GetCallerIdentity") not in realism.calls
    assert [e.step for e in ctx.journal.entries(mid)] == ["preflight", "create_target_group"]


def test_timings_that_could_outgrow_the_history_are_refused_before_any_aws_call(
    demo: DemoEstate, ctx: StepContext, realism: Realism, lambda_context: Any
) -> None:
    # Given options whose bake loop could need more than 25,000 history events
    too_long = FAST.model_copy(update={"poll_seconds": 1, "bake_seconds": 86_400})
    realism.reset()

    # When Preflight is asked to start with them (directly, and as the Lambda handler)
    with pytest.raises(InvalidInputError, match="25,000") as refused:
        preflight(ctx, demo.shop_tg, OWNER, too_long)
    event = {"targetGroupArn": demo.shop_tg, "owner": OWNER, "options": too_long.to_json_dict()}
    with pytest.raises(InvalidInputError, match="25,000"):
        preflight_handler.handler(event, lambda_context)

    # Then it says how to fix them, and nothing was read or written: no call, no record
    assert "pollSeconds" in refused.value.remediation
    assert sum(realism.calls.values()) == 0
    assert ctx.journal.all() == []


def test_target_group_in_another_region_is_refused_without_changes(
    ctx: StepContext, realism: Realism
) -> None:
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
    with pytest.raises(InvalidInputError, match="eu-west-1"):
        preflight(ctx, arn, OWNER, FAST)


def test_target_group_of_another_account_is_refused_before_any_other_call(
    demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    arn = demo.shop_tg.replace(":123456789012:", ":210987654321:")
    realism.reset()
    with pytest.raises(InvalidInputError, match="210987654321") as refused:
        preflight(ctx, arn, OWNER, FAST)
    assert "--profile" in refused.value.remediation
    assert dict(realism.calls) == {("sts", "GetCallerIdentity"): 1}
    assert ctx.journal.all() == []


@pytest.fixture(params=["memory", "dynamodb"])
def journal(request: pytest.FixtureRequest, aws: ClientFactory, ctx: StepContext) -> Journal:
    """Each journal, with its locking contract: the in-memory twin and DynamoDB's (the
    table `ctx` created)."""
    return MemoryJournal() if request.param == "memory" else DynamoJournal(aws, TABLE)


def test_stale_record_cannot_be_saved(journal: Journal) -> None:
    first = journal.save(MigrationRecord(migration_id="m-1"))
    journal.save(first)  # another run saves version 1 first
    with pytest.raises(ConcurrentMigrationError):
        journal.save(first)
    with pytest.raises(ConcurrentMigrationError):
        journal.save(MigrationRecord(migration_id="m-1"))  # create over an existing record


def test_a_step_entry_is_written_with_its_record_or_not_at_all(journal: Journal) -> None:
    first = journal.save(MigrationRecord(migration_id="m-1"))
    entry = StepEntry(migration_id="m-1", step="cutover", status="completed", after={"a": 1})
    second = journal.save(first, entry)
    assert second.version == first.version + 1
    assert [(e.step, e.after) for e in journal.entries("m-1")] == [("cutover", {"a": 1})]
    stale = StepEntry(migration_id="m-1", step="retire_legacy", status="completed")
    with pytest.raises(ConcurrentMigrationError):
        journal.save(first, stale)  # fenced: version 1 is no longer the stored one
    assert [e.step for e in journal.entries("m-1")] == ["cutover"]
    assert journal.get("m-1") == second


#: DynamoDB's cancellation of a transaction that met another one on the record's item.
CANCELLED_BY_ANOTHER = {
    "CancellationReasons": [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
        {"Code": "None"},
    ]
}


@pytest.mark.parametrize(
    ("operation", "code", "details"),
    [
        ("PutItem", "TransactionConflictException", {}),
        ("TransactWriteItems", "TransactionCanceledException", CANCELLED_BY_ANOTHER),
    ],
)
def test_a_write_that_met_another_transaction_is_made_again(
    ctx: StepContext, realism: Realism, operation: str, code: str, details: dict[str, Any]
) -> None:
    # Given a record, and DynamoDB refusing the next two writes of it for another
    # transaction in progress on the item (not applied; botocore does not retry them)
    first = ctx.journal.save(MigrationRecord(migration_id="m-1"))
    entry = StepEntry(migration_id="m-1", step="cutover", status="completed")
    realism.add_fault(FaultRule("dynamodb", operation, error_code=code, details=details, times=2))
    # When the record is saved
    saved = ctx.journal.save(first, entry if operation == "TransactWriteItems" else None)
    # Then the same conditioned write was made again until it landed, once
    assert ctx.journal.get("m-1") == saved
    assert saved.version == first.version + 1
    written = [e.step for e in ctx.journal.entries("m-1")]
    assert written == (["cutover"] if operation == "TransactWriteItems" else [])


def every_transaction_meets_another() -> FaultRule:
    return FaultRule(
        "dynamodb",
        "TransactWriteItems",
        error_code="TransactionCanceledException",
        details=CANCELLED_BY_ANOTHER,
        times=None,
    )


def test_a_record_other_transactions_keep_meeting_is_retried_later_not_fenced(
    ctx: StepContext, realism: Realism
) -> None:
    # Given a record whose every transaction meets another one, and nobody else writing it
    first = ctx.journal.save(MigrationRecord(migration_id="m-1"))
    realism.add_fault(every_transaction_meets_another())
    entry = StepEntry(migration_id="m-1", step="cutover", status="completed")
    # When a step completes, Then it fails with an error the state machine retries (no one
    # else holds the migration: fencing it would end the run without a rollback), and
    # nothing was written
    with pytest.raises(AwsUnavailableError):
        ctx.journal.save(first, entry)
    assert ctx.journal.get("m-1") == first
    assert ctx.journal.entries("m-1") == []


def test_a_writer_that_lost_the_record_meanwhile_is_fenced_after_the_conflicts(
    ctx: StepContext, realism: Realism
) -> None:
    # Given a record another run saved since this writer read it, and every transaction
    # of this writer meeting another one
    first = ctx.journal.save(MigrationRecord(migration_id="m-1"))
    theirs = ctx.journal.save(first.model_copy(update={"owner": "run-2"}))
    realism.add_fault(every_transaction_meets_another())
    # When this writer's step completes, Then it is fenced, and their record stands
    with pytest.raises(ConcurrentMigrationError):
        ctx.journal.save(first, StepEntry(migration_id="m-1", step="cutover", status="done"))
    assert ctx.journal.get("m-1") == theirs
    assert ctx.journal.entries("m-1") == []


@pytest.mark.parametrize("operation", ["PutItem", "TransactWriteItems"])
def test_a_write_whose_answer_was_lost_is_not_fenced_by_its_own_repeat(
    ctx: StepContext, realism: Realism, operation: str
) -> None:
    # Given DynamoDB applying the next write of the record but its answer lost (a timeout),
    # so the client sends the same conditioned write again and it meets its own version
    first = ctx.journal.save(MigrationRecord(migration_id="m-1"))
    entry = StepEntry(migration_id="m-1", step="cutover", status="completed")
    realism.add_fault(FaultRule("dynamodb", operation, error_code="RequestTimeout", applied=True))
    # When the record is saved, Then the write stands, once, and the writer goes on
    saved = ctx.journal.save(first, entry if operation == "TransactWriteItems" else None)
    assert ctx.journal.get("m-1") == saved
    assert saved.version == 2 and ctx.journal.get("m-1").version == 2
    written = [e.step for e in ctx.journal.entries("m-1")]
    assert written == (["cutover"] if operation == "TransactWriteItems" else [])


def test_second_run_cannot_drive_an_active_migration(demo: DemoEstate, ctx: StepContext) -> None:
    mid = preflight(ctx, demo.shop_tg, "run-1", FAST)["migrationId"]
    with pytest.raises(ConcurrentMigrationError):
        preflight(ctx, demo.shop_tg, "run-2", FAST)
    with pytest.raises(ConcurrentMigrationError):
        create_target_group(ctx, mid, "run-2")


def test_rollback_concurrently_with_itself_ends_rolled_back_once(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    original = snapshot(aws)
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            rollback(ctx, mid, reason="twice")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert snapshot(aws) == original
    record = ctx.journal.get(mid)
    assert record is not None and record.state == MigrationState.ROLLED_BACK
    assert [e.step for e in ctx.journal.entries(mid)].count("rollback") == 1


def test_weighted_strategy_sends_a_canary_share_then_cuts_over(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    options = FAST.model_copy(update={"strategy": Strategy.WEIGHTED})
    mid = preflight(ctx, demo.shop_tg, OWNER, options)["migrationId"]
    group = create_target_group(ctx, mid, OWNER)["targetGroupArn"]
    attached = attach_probe(ctx, mid, OWNER)
    assert attached["mode"] == "weighted"
    [listener_arn] = attached["listeners"]
    elb = aws.client("elbv2")
    [listener] = elb.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    weights = {
        g["TargetGroupArn"]: g["Weight"]
        for g in listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    }
    assert weights == {demo.shop_tg: 90, group: 10}
    until_gate(ctx, mid, OWNER)
    cutover(ctx, mid, OWNER)
    [listener] = elb.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == group


def test_weighted_strategy_falls_back_to_probe_when_elb_refuses(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    options = FAST.model_copy(update={"strategy": Strategy.WEIGHTED})
    mid = preflight(ctx, demo.shop_tg, OWNER, options)["migrationId"]
    original_listeners = snapshot(aws)["listeners"]
    create_target_group(ctx, mid, OWNER)
    realism.add_fault(FaultRule("elbv2", "ModifyListener", error_code="ValidationError"))

    attached = attach_probe(ctx, mid, OWNER)

    assert attached["mode"] == "probe"
    assert "fell back to the probe strategy" in attached["notes"][0]
    current = snapshot(aws)["listeners"]
    assert {k: v for k, v in current.items() if k in original_listeners} == original_listeners


def test_swap_and_watch_cuts_over_before_health_by_explicit_choice(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    options = FAST.model_copy(update={"strategy": Strategy.SWAP_AND_WATCH})
    mid = preflight(ctx, demo.shop_tg, OWNER, options)["migrationId"]
    create_target_group(ctx, mid, OWNER)
    assert cutover(ctx, mid, OWNER)["changed"]
    *pending, result = until_gate(ctx, mid, OWNER)
    assert result["gate"] == "passed" and pending[0]["state"] == "initial"
