"""The one place boto3 clients are built: region, endpoint, profile, role, retries, user agent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from ipsync_migrator.config import USER_AGENT, AwsTarget
from ipsync_migrator.errors import ConfigurationError

_BOTOCORE_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    user_agent_extra=USER_AGENT,
    connect_timeout=5,
    read_timeout=30,
)

CallObserver = Callable[[str, str], None]
#: Credentials used against a loopback endpoint when none are configured (emulators take any).
LOCAL_CREDENTIALS = "local-emulator"


class ClientFactory:
    """Cached boto3 clients for one AWS target; clients are built at first use, never at import."""

    def __init__(self, target: AwsTarget | None = None, observer: CallObserver | None = None):
        self.target = target or AwsTarget.from_env()
        self._observer = observer
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """Return the cached client for `service` (e.g. "elbv2")."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._build(service)
            return self._clients[service]

    @property
    def region(self) -> str:
        return str(self.client("sts").meta.region_name)

    def _build(self, service: str) -> Any:
        session = self._get_session()
        try:
            client = session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.target.endpoint_url, config=_BOTOCORE_CONFIG
            )
        except NoRegionError as exc:
            raise ConfigurationError(
                "No AWS region is set.",
                "Pass --region, or set AWS_REGION / AWS_DEFAULT_REGION.",
            ) from exc
        if self._observer is not None:
            observer = self._observer
            client.meta.events.register(
                "before-call.*.*",
                lambda model, **_: observer(service, model.name),
            )
        return client

    def _get_session(self) -> boto3.Session:
        if self._session is None:
            try:
                base = boto3.Session(
                    profile_name=self.target.profile, region_name=self.target.region
                )
            except ProfileNotFound as exc:
                raise ConfigurationError(
                    f"AWS profile '{self.target.profile}' is not configured.",
                    "Run `aws configure --profile NAME` or pass an existing --profile.",
                ) from exc
            # A custom endpoint may serve any region name; AWS itself serves only its own.
            if (
                not self.target.endpoint_url
                and base.region_name
                and base.region_name not in _known_regions(base)
            ):
                raise ConfigurationError(
                    f"Unknown AWS region '{base.region_name}'.",
                    "Pass a region such as us-east-1 with --region.",
                )
            if _is_loopback(self.target.endpoint_url) and base.get_credentials() is None:
                # A local emulator (`ipsync-migrator local`) accepts any credentials; a fresh
                # machine has none. Never for AWS itself: only 127.0.0.1 / localhost.
                base = boto3.Session(
                    aws_access_key_id=LOCAL_CREDENTIALS,
                    aws_secret_access_key=LOCAL_CREDENTIALS,
                    region_name=base.region_name,
                )
            self._session = _assume_role(base, self.target) if self.target.role_arn else base
        return self._session


def _is_loopback(endpoint_url: str | None) -> bool:
    if not endpoint_url:
        return False
    host = urlsplit(endpoint_url).hostname or ""
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _known_regions(session: boto3.Session) -> set[str]:
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sts", partition_name=partition))
    return regions


def _assume_role(base: boto3.Session, target: AwsTarget) -> boto3.Session:
    # Imported here: the STS adapter's error translation imports this module.
    from ipsync_migrator.aws.identity import assume_role

    assert target.role_arn is not None
    sts = base.client("sts", endpoint_url=target.endpoint_url, config=_BOTOCORE_CONFIG)
    creds = assume_role(sts, target.role_arn, target.external_id)
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=base.region_name,
    )


def _no_credentials() -> ConfigurationError:
    return ConfigurationError(
        "No AWS credentials were found.",
        "Run `aws configure` or `aws sso login`, pass --profile, or set AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY.",
    )


def translate_connection_errors(exc: Exception) -> Exception:
    """Map botocore's setup-level exceptions to our errors (others pass through)."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return _no_credentials()
    if isinstance(exc, EndpointConnectionError):
        return ConfigurationError(
            f"Cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url', '')}.",
            "Check --endpoint-url / AWS_ENDPOINT_URL, or start the emulator with "
            "`ipsync-migrator local`.",
        )
    return exc
