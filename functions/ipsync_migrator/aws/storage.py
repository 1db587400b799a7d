"""Amazon S3 adapter: the legacy function's state objects."""

from __future__ import annotations

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory


def delete_prefix(clients: ClientFactory, bucket: str, prefix: str) -> list[str]:
    """Delete every object under `prefix`; returns the keys deleted."""
    s3 = clients.client("s3")
    with aws_call("s3:ListObjectsV2"):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    for start in range(0, len(keys), 1000):
        with aws_call("s3:DeleteObjects"):
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]},
            )
    return keys
