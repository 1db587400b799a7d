"""Run against the embedded AWS emulator (moto) in this process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from moto import mock_aws

from ipsync_migrator.clients import CallObserver, ClientFactory
from ipsync_migrator.config import AwsTarget

DEFAULT_REGION = "us-east-1"


@contextmanager
def embedded_aws(
    region: str = DEFAULT_REGION, observer: CallObserver | None = None
) -> Iterator[ClientFactory]:
    """An in-process emulated AWS account; yields a client factory pointed at it."""
    # moto intercepts every call in the block; fake credentials keep botocore from looking
    # for real ones (and from ever signing with them).
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    try:
        with mock_aws():
            yield ClientFactory(AwsTarget(region=region), observer=observer)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
