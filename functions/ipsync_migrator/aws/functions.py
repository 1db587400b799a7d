"""AWS Lambda adapter (the legacy functions)."""

from __future__ import annotations

import json
from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import NotFoundError


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

    def configuration(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_call("lambda:GetFunctionConfiguration"):
                return dict(self._lambda.get_function_configuration(FunctionName=name))
        except NotFoundError:
            return None

    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        """Set reserved concurrency; None removes the reservation."""
        if value is None:
            with aws_call("lambda:DeleteFunctionConcurrency"):
                self._lambda.delete_function_concurrency(FunctionName=name)
        else:
            with aws_call("lambda:PutFunctionConcurrency"):
                self._lambda.put_function_concurrency(
                    FunctionName=name, ReservedConcurrentExecutions=value
                )

    def policy_statements(self, name: str) -> list[dict[str, Any]]:
        try:
            with aws_call("lambda:GetPolicy"):
                policy = self._lambda.get_policy(FunctionName=name)["Policy"]
        except NotFoundError:
            return []
        return list(json.loads(policy).get("Statement", []))

    def add_permission(self, name: str, statement_id: str, source_arn: str) -> None:
        with aws_call("lambda:AddPermission"):
            self._lambda.add_permission(
                FunctionName=name,
                StatementId=statement_id,
                Action="lambda:InvokeFunction",
                Principal="events.amazonaws.com",
                SourceArn=source_arn,
            )

    def remove_permission(self, name: str, statement_id: str) -> None:
        try:
            with aws_call("lambda:RemovePermission"):
                self._lambda.remove_permission(FunctionName=name, StatementId=statement_id)
        except NotFoundError:
            return

    def delete(self, name: str) -> None:
        try:
            with aws_call("lambda:DeleteFunction"):
                self._lambda.delete_function(FunctionName=name)
        except NotFoundError:
            return
