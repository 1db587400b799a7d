"""AWS CloudFormation adapter: the legacy function's own stack."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory


class Stacks:
    def __init__(self, clients: ClientFactory):
        self._cfn = clients.client("cloudformation")

    def resources(self, stack_name: str) -> list[dict[str, Any]]:
        with aws_call("cloudformation:ListStackResources"):
            pages = self._cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
            return [r for page in pages for r in page["StackResourceSummaries"]]

    def delete(self, stack_name: str) -> None:
        with aws_call("cloudformation:DeleteStack"):
            self._cfn.delete_stack(StackName=stack_name)
        with aws_call("cloudformation:DescribeStacks"):
            self._cfn.get_waiter("stack_delete_complete").wait(
                StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
            )
