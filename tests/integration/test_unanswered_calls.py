"""A call AWS never answers becomes AwsUnavailableError, which the state machine retries."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.errors import AwsUnavailableError, ConfigurationError


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (stops by itself)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()


def test_a_read_timeout_is_aws_unavailable(silent_endpoint: str) -> None:
    # Given a client whose endpoint never answers, with one attempt and a short read timeout
    elbv2 = boto3.client(
        "elbv2",
        endpoint_url=silent_endpoint,
        region_name="us-east-1",
        config=Config(read_timeout=0.3, connect_timeout=0.3, retries={"total_max_attempts": 1}),
    )
    # When a call goes through the adapter's translation
    with pytest.raises(AwsUnavailableError) as raised, aws_call("elasticloadbalancing:Describe"):
        elbv2.describe_load_balancers()
    # Then it names the operation and says that a retry is the fix
    assert "elasticloadbalancing:Describe" in raised.value.args[0]
    assert raised.value.code == "AwsUnavailable"


def test_an_endpoint_that_refuses_connections_stays_a_configuration_error() -> None:
    # Given a port nobody listens on
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    elbv2 = boto3.client(
        "elbv2",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        config=Config(connect_timeout=0.3, retries={"total_max_attempts": 1}),
    )
    # When a call goes through the translation / Then it is the endpoint's configuration
    with pytest.raises(ConfigurationError), aws_call("elasticloadbalancing:Describe"):
        elbv2.describe_load_balancers()
