"""Amazon EventBridge adapter: the project's own event bus."""

from __future__ import annotations

import json
from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import AwsServiceError

EVENT_SOURCE = "ipsync-migrator"


class EventBus:
    def __init__(self, clients: ClientFactory, bus_name: str):
        self._events = clients.client("events")
        self._bus = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        with aws_call("events:PutEvents"):
            response = self._events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail, default=str),
                        "EventBusName": self._bus,
                    }
                ]
            )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise AwsServiceError(
                f"events:PutEvents rejected the event: {entry.get('ErrorCode')} "
                f"{entry.get('ErrorMessage', '')}"
            )
