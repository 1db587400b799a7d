"""Amazon S3 and Step Functions adapters of fleets: the stack's fleet bucket, fleet executions."""

from __future__ import annotations

import json
from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import ConfigurationError, InvalidInputError, IpsyncError, NotFoundError

#: S3's answers for an object that is not there (with s3:ListBucket; without it S3 answers
#: AccessDenied, which stays an access error).
_MISSING = frozenset({"NoSuchKey", "NoSuchBucket"})


class FleetBucket:
    """JSON objects in the stack's fleet bucket (template.yaml FleetBucket): the Map's items,
    what discovery left out, the ResultWriter's files and the reports."""

    def __init__(self, clients: ClientFactory, bucket: str):
        if not bucket:
            raise ConfigurationError(
                "No fleet bucket is configured (FLEET_BUCKET).",
                "Deploy the stack from this version's template.yaml: its FleetBucket holds "
                "the fleets' items, results and reports.",
            )
        self._s3 = clients.client("s3")
        self.bucket = bucket

    def put_json(self, key: str, value: Any) -> None:
        body = json.dumps(value, separators=(",", ":")).encode()
        with aws_call("s3:PutObject"):
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )

    def get_json(self, key: str) -> Any:
        try:
            with aws_call("s3:GetObject"):
                body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except IpsyncError as exc:
            if exc.code not in _MISSING:
                raise
            raise NotFoundError(
                f"No object s3://{self.bucket}/{key}.",
                "The fleet bucket keeps a fleet's files for FleetFileRetentionDays (stack "
                "parameter); a fleet that failed before writing it has none.",
            ) from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise InvalidInputError(
                f"s3://{self.bucket}/{key} is not JSON: {exc}.",
                "Re-run the fleet: its files are written by its own states and its Map's "
                "ResultWriter.",
            ) from exc


class FleetExecutions:
    """Executions of the fleet state machine, as FleetReport sees them."""

    def __init__(self, clients: ClientFactory):
        self._sfn = clients.client("stepfunctions")

    def describe(self, execution_arn: str) -> dict[str, Any]:
        """The execution's description; an unknown one is NotFoundError (ExecutionDoesNotExist)."""
        with aws_call("states:DescribeExecution"):
            return dict(self._sfn.describe_execution(executionArn=execution_arn))
