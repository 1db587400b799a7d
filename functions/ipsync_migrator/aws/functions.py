"""AWS Lambda adapter (the legacy functions)."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory


class Functions:
    def __init__(self, clients: ClientFactory):
        self._lambda = clients.client("lambda")

    def all(self) -> list[dict[str, Any]]:
        """Every function's configuration (ListFunctions includes the environment)."""
        with aws_call("lambda:ListFunctions"):
            pages = self._lambda.get_paginator("list_functions").paginate(
                PaginationConfig={"PageSize": 50}
            )
            return [fn for page in pages for fn in page["Functions"]]

    def tags(self, function_arn: str) -> dict[str, str]:
        with aws_call("lambda:ListTags"):
            return dict(self._lambda.list_tags(Resource=function_arn).get("Tags", {}))

    def reserved_concurrency(self, name: str) -> int | None:
        with aws_call("lambda:GetFunctionConcurrency"):
            response = self._lambda.get_function_concurrency(FunctionName=name)
        value = response.get("ReservedConcurrentExecutions")
        return None if value is None else int(value)
