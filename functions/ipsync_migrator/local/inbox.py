"""A team's inbox on the local runtime: an SQS queue subscribed to the notification topic."""

from __future__ import annotations

import json

from ipsync_migrator.clients import ClientFactory


class NotificationInbox:
    """Subscribes a queue (raw delivery) to the topic; `receive()` collects the messages."""

    def __init__(self, clients: ClientFactory, topic_arn: str, name: str = "team-inbox") -> None:
        self._sqs = clients.client("sqs")
        self._url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        clients.client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        #: Every message received so far, oldest first.
        self.messages: list[str] = []

    def receive(self) -> list[str]:
        """Drain the queue into `messages`; returns all messages received so far."""
        while True:
            received = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10)
            batch = received.get("Messages", [])
            for message in batch:
                self.messages.append(_text(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
            if not batch:
                return self.messages


def _text(body: str) -> str:
    """The stack's input templates are JSON strings: the message is that string's JSON."""
    try:
        value = json.loads(body)
    except ValueError:
        return body
    return value if isinstance(value, str) else body
