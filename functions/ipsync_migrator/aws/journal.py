"""DynamoDB journal: single table, partition key = migration id.

Items: `pk=MIGRATION#<id>, sk=RECORD` (the record, with a `version` for compare-and-set)
and `pk=MIGRATION#<id>, sk=STEP#<time>#<step>` (one per step, with before/after).
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from botocore.exceptions import ClientError

from ipsync_migrator.aws.errors import aws_call, error_code
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import AwsUnavailableError
from ipsync_migrator.journal import MigrationRecord, StepEntry, conflict, utc_now

RECORD_SK = "RECORD"
#: Writes of one record that met another transaction are tried again this many times in all
#: (botocore does not retry them), then reported as a concurrent writer.
CONFLICT_ATTEMPTS = 4


def _pk(migration_id: str) -> str:
    return f"MIGRATION#{migration_id}"


class DynamoJournal:
    def __init__(self, clients: ClientFactory, table_name: str):
        self._table = table_name
        self._ddb = clients.client("dynamodb")

    def get(self, migration_id: str) -> MigrationRecord | None:
        with aws_call("dynamodb:GetItem"):
            item = self._ddb.get_item(
                TableName=self._table,
                Key={"pk": {"S": _pk(migration_id)}, "sk": {"S": RECORD_SK}},
                ConsistentRead=True,
            ).get("Item")
        return MigrationRecord.model_validate_json(item["body"]["S"]) if item else None

    def save(self, record: MigrationRecord, entry: StepEntry | None = None) -> MigrationRecord:
        saved = record.model_copy(update={"version": record.version + 1, "updated_at": utc_now()})
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": _pk(record.migration_id)},
                "sk": {"S": RECORD_SK},
                "version": {"N": str(saved.version)},
                "state": {"S": saved.state.value},
                "body": {"S": saved.model_dump_json(by_alias=True)},
            },
            **(
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if record.version == 0
                else {
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": {"N": str(record.version)}},
                }
            ),
        }
        attempt = 1
        while True:
            try:
                self._write(put, entry)
                return saved
            except Exception as exc:
                if _condition_failed(exc.__cause__):
                    return self._settle(record, saved, exc)
                if not _transaction_conflict(exc.__cause__):
                    raise
                if attempt == CONFLICT_ATTEMPTS:
                    return self._settle(record, saved, exc)
                # The same conditioned write again: it lands if the other transaction did
                # not change the record, and fails the version condition if it did.
                time.sleep(random.uniform(0.05, 0.1) * 2**attempt)
                attempt += 1

    def _settle(
        self, record: MigrationRecord, saved: MigrationRecord, exc: Exception
    ) -> MigrationRecord:
        """A write that did not land as asked: the stored record says what happened.

        - It is `saved`: this very write landed and only its answer was lost (the client
          sent it again after a timeout, and the repeat met its own version): done.
        - Another version: another writer won, this one is fenced.
        - The version read, still: only other transactions kept meeting it (nothing was
          written); the state machine retries the step, which is idempotent.
        """
        stored = self.get(record.migration_id)
        if stored == saved:
            return saved
        if stored is not None and stored.version == record.version:
            raise AwsUnavailableError(
                f"DynamoDB refused the journal write of migration '{record.migration_id}' "
                f"{CONFLICT_ATTEMPTS} times for other transactions on its record; nothing "
                "was written.",
                "The state machine retries the step; if it persists, check what else writes "
                "the journal table.",
            ) from exc
        raise conflict(record.migration_id) from exc

    def _write(self, put: dict[str, Any], entry: StepEntry | None) -> None:
        if entry is None:
            with aws_call("dynamodb:PutItem"):
                self._ddb.put_item(**put)
            return
        # One request, atomic: the entry is written only with the record, so a fenced writer
        # leaves no entry behind. Each Put is authorized as dynamodb:PutItem
        # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
        with aws_call("dynamodb:TransactWriteItems"):
            self._ddb.transact_write_items(
                TransactItems=[{"Put": put}, {"Put": self._entry_put(entry)}]
            )

    def append(self, entry: StepEntry) -> None:
        with aws_call("dynamodb:PutItem"):
            self._ddb.put_item(**self._entry_put(entry))

    def _entry_put(self, entry: StepEntry) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": {
                "pk": {"S": _pk(entry.migration_id)},
                "sk": {"S": f"STEP#{entry.at}#{entry.step}"},
                "body": {"S": json.dumps(entry.to_json_dict(), default=str)},
            },
        }

    def entries(self, migration_id: str) -> list[StepEntry]:
        with aws_call("dynamodb:Query"):
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :step)",
                ExpressionAttributeValues={
                    ":pk": {"S": _pk(migration_id)},
                    ":step": {"S": "STEP#"},
                },
                ConsistentRead=True,
            )
            items = [item for page in pages for item in page["Items"]]
        return [StepEntry.model_validate_json(item["body"]["S"]) for item in items]

    def all(self) -> list[MigrationRecord]:
        with aws_call("dynamodb:Scan"):
            pages = self._ddb.get_paginator("scan").paginate(
                TableName=self._table,
                FilterExpression="sk = :record",
                ExpressionAttributeValues={":record": {"S": RECORD_SK}},
            )
            items = [item for page in pages for item in page["Items"]]
        return [MigrationRecord.model_validate_json(item["body"]["S"]) for item in items]


def _condition_failed(cause: BaseException | None) -> bool:
    """The record's version condition failed: in a PutItem, or as the first action of a
    transaction (its CancellationReasons are in the order of TransactItems)."""
    if not isinstance(cause, ClientError):
        return False
    code = error_code(cause)
    if code == "ConditionalCheckFailedException":
        return True
    reasons = cause.response.get("CancellationReasons") or []
    return (
        code == "TransactionCanceledException"
        and bool(reasons)
        and reasons[0].get("Code") == "ConditionalCheckFailed"
    )


def _transaction_conflict(cause: BaseException | None) -> bool:
    """The write met a transaction on the same item and was not applied: a PutItem during a
    TransactWriteItems (TransactionConflictException), or a transaction cancelled for
    another's (reason TransactionConflict). "Transaction conflict handling",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html"""
    if not isinstance(cause, ClientError):
        return False
    code = error_code(cause)
    if code == "TransactionConflictException":
        return True
    reasons = cause.response.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and any(
        r.get("Code") == "TransactionConflict" for r in reasons
    )


def create_table(clients: ClientFactory, table_name: str) -> None:
    """Create the journal table (the template does this in AWS; tests and the emulator use it)."""
    with aws_call("dynamodb:CreateTable"):
        clients.client("dynamodb").create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
