"""DynamoDB journal: single table, partition key = migration id.

Items: `pk=MIGRATION#<id>, sk=RECORD` (the record, with a `version` for compare-and-set)
and `pk=MIGRATION#<id>, sk=STEP#<time>#<step>` (one per step, with before/after).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ipsync_migrator.aws.errors import aws_call, error_code
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.journal import MigrationRecord, StepEntry, conflict, utc_now

RECORD_SK = "RECORD"


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

    def save(self, record: MigrationRecord) -> MigrationRecord:
        saved = record.model_copy(update={"version": record.version + 1, "updated_at": utc_now()})
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if record.version == 0
            else {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(record.version)}},
            }
        )
        try:
            with aws_call("dynamodb:PutItem"):
                self._ddb.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": _pk(record.migration_id)},
                        "sk": {"S": RECORD_SK},
                        "version": {"N": str(saved.version)},
                        "state": {"S": saved.state.value},
                        "body": {"S": saved.model_dump_json(by_alias=True)},
                    },
                    **condition,
                )
        except Exception as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and error_code(cause) == (
                "ConditionalCheckFailedException"
            ):
                raise conflict(record.migration_id) from exc
            raise
        return saved

    def append(self, entry: StepEntry) -> None:
        with aws_call("dynamodb:PutItem"):
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": _pk(entry.migration_id)},
                    "sk": {"S": f"STEP#{entry.at}#{entry.step}"},
                    "body": {"S": json.dumps(entry.to_json_dict(), default=str)},
                },
            )

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
