"""The one place boto3 clients are built: region, endpoint, profile, role, retries, user agent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import (
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.utils import validate_region_name

from ipsync_migrator.config import USER_AGENT, AwsTarget
from ipsync_migrator.errors import ConfigurationError, InvalidInputError

# How long one call may take at worst (worst_case_seconds), after botocore 1.44's
# retries/standard.py (boto3 guide "Retries": standard mode caps backoff at 20 s). Standard and
# adaptive modes make `total_max_attempts` attempts, the first included. The retry after attempt
# i waits rand(0, 1) * min(base * 2 ** (i - 1), 20) s, base 1 s for throttling (50 ms else),
# raised by up to 5 s more when the response carries x-amz-retry-after. Adaptive mode also rate
# limits sends (retries/bucket.py): at its lowest rate, 0.5 a second, a caller waits up to 2 s.
_MAX_BACKOFF_SECONDS = 20.0
_RETRY_AFTER_EXTRA_SECONDS = 5.0
_ADAPTIVE_MIN_SEND_RATE = 0.5

#: Inside Lambda (no function has less than 60 s, template.yaml): 3 attempts of at most 2 s to
#: connect + 5 s to read, retries waiting at most 6 s then 7 s: 34 s. Throttling that outlasts
#: this is a ThrottledError, which the state machine retries with its own backoff.
LAMBDA_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    user_agent_extra=USER_AGENT,
    connect_timeout=2,
    read_timeout=5,
)
#: The same retries against the local emulator (`ipsync-migrator local`), which answers the
#: handlers it runs from its own threads: on a busy machine it is slower than AWS, not faster.
EMULATOR_LAMBDA_CONFIG = LAMBDA_CONFIG.merge(Config(read_timeout=60))
#: On a person's machine, patient: 9 attempts of 5 s + 30 s, adaptive rate limiting: 464 s.
CLI_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": 9},
    user_agent_extra=USER_AGENT,
    connect_timeout=5,
    read_timeout=30,
)
#: The CLI's Lambda client waits for synchronous Invokes of the stack's 60 s functions (rollback,
#: finalize): a shorter read timeout would retry an Invoke while the first one still runs.
CLI_INVOKE_CONFIG = CLI_CONFIG.merge(Config(read_timeout=70))


def botocore_config(target: AwsTarget, service: str) -> Config:
    """The retries and timeouts of `service` clients: bounded in Lambda, patient elsewhere."""
    if target.in_lambda:
        if _is_loopback(target.endpoint_url):
            return EMULATOR_LAMBDA_CONFIG
        return LAMBDA_CONFIG  # no function invokes another synchronously
    return CLI_INVOKE_CONFIG if service == "lambda" else CLI_CONFIG


def worst_case_seconds(config: Config) -> float:
    """The longest one call can take under `config`: every attempt times out, every wait is longest.

    The connect timeout holds per address a name resolves to; resolving it is not bounded.
    """
    # The stubs leave out these attributes; botocore sets them on every Config (timeouts 60 s).
    retries: dict[str, Any] = config.retries or {}  # type: ignore[attr-defined]
    mode = retries.get("mode")
    if mode not in ("standard", "adaptive"):
        raise ValueError(f"Retry mode {mode!r} is not modelled; use standard or adaptive.")
    # A client config's `max_attempts` counts retries only (botocore args.py adds the first).
    attempts = int(retries.get("total_max_attempts") or retries.get("max_attempts", 2) + 1)
    per_attempt = float(config.connect_timeout + config.read_timeout)  # type: ignore[attr-defined]
    backoff = sum(
        min(2.0 ** (i - 1), _MAX_BACKOFF_SECONDS) + _RETRY_AFTER_EXTRA_SECONDS
        for i in range(1, attempts)
    )
    rate_limited = attempts / _ADAPTIVE_MIN_SEND_RATE if mode == "adaptive" else 0.0
    return attempts * per_attempt + backoff + rate_limited


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
                service,
                endpoint_url=self.target.endpoint_url,
                config=botocore_config(self.target, service),
            )
        except NoRegionError as exc:
            raise ConfigurationError(
                "No AWS region is set.",
                "Pass --region, or set AWS_REGION / AWS_DEFAULT_REGION.",
            ) from exc
        except InvalidRegionError as exc:
            raise _malformed_region(self.target.region) from exc
        except ValueError as exc:  # botocore: "Invalid endpoint: ..." (no scheme, no host)
            raise InvalidInputError(
                f"'{self.target.endpoint_url}' is not an endpoint URL.",
                "Pass --endpoint-url http(s)://HOST[:PORT], e.g. the one `ipsync-migrator "
                "local` prints.",
            ) from exc
        return self._observed(client, service)

    def _observed(self, client: Any, service: str) -> Any:
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
                # A malformed name is bad input; a well-formed unknown one, setup (below).
                if self.target.region is not None:
                    validate_region_name(self.target.region)
            except InvalidRegionError as exc:
                raise _malformed_region(self.target.region) from exc
            try:
                base = _session(profile_name=self.target.profile, region_name=self.target.region)
            except ProfileNotFound as exc:
                raise ConfigurationError(
                    f"AWS profile '{self.target.profile}' is not configured.",
                    "Run `aws configure --profile NAME` or pass an existing --profile.",
                ) from exc
            # A custom endpoint may serve any region name; AWS itself serves only its own, and
            # so does the local emulator (moto answers an unknown one with an HTML error page).
            if (
                (not self.target.endpoint_url or _is_loopback(self.target.endpoint_url))
                and base.region_name
                and base.region_name not in _known_regions()
            ):
                raise ConfigurationError(
                    f"Unknown AWS region '{base.region_name}'.",
                    "Pass a region such as us-east-1 with --region.",
                )
            if _is_loopback(self.target.endpoint_url) and base.get_credentials() is None:
                # A local emulator (`ipsync-migrator local`) accepts any credentials; a fresh
                # machine has none. Never for AWS itself: only 127.0.0.1 / localhost.
                base = _session(
                    aws_access_key_id=LOCAL_CREDENTIALS,
                    aws_secret_access_key=LOCAL_CREDENTIALS,
                    region_name=base.region_name,
                )
            self._session = self._assume_role(base) if self.target.role_arn else base
        return self._session

    def _assume_role(self, base: boto3.Session) -> boto3.Session:
        """A session of the target's role whose credentials renew themselves before they expire.

        A warm Lambda container keeps its clients for hours; credentials of one AssumeRole
        last an hour. botocore refreshes them (AssumeRole again) in the last 15 minutes,
        and blocks calls for it in the last 10.
        """
        # Imported here: the STS adapter's error translation imports this module.
        from ipsync_migrator.aws.identity import assume_role

        role_arn, external_id = self.target.role_arn, self.target.external_id
        assert role_arn is not None
        sts = self._observed(
            base.client(
                "sts",
                endpoint_url=self.target.endpoint_url,
                config=botocore_config(self.target, "sts"),
            ),
            "sts",
        )

        def fetch() -> dict[str, str]:
            creds = assume_role(sts, role_arn, external_id)
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        credentials = DeferredRefreshableCredentials(fetch, "assume-role")
        # Assume the role now: a role that cannot be assumed fails here, as it always did.
        credentials.get_frozen_credentials()
        session = _session(profile_name=self.target.profile, region_name=base.region_name)
        # What botocore's AssumeRoleProvider builds; a session has no public setter (boto3#443).
        session._session._credentials = credentials  # type: ignore[attr-defined]
        return session


def _is_loopback(endpoint_url: str | None) -> bool:
    if not endpoint_url:
        return False
    host = urlsplit(endpoint_url).hostname or ""
    return host == "localhost" or host == "::1" or host.startswith("127.")


_SESSION_LOCK = threading.Lock()


@cache
def _shared_loader(data_path: str | None) -> botocore.loaders.Loader:
    """The SDK's JSON models (endpoints, partitions, each service's API), parsed once per
    process: each new botocore session would parse them again, most of the CPU of building a
    factory's clients (every fleet target and, in the emulator, every invocation builds one)."""
    return botocore.loaders.create_loader(data_path)


def _session(profile_name: str | None = None, **kwargs: Any) -> boto3.Session:
    """A boto3 session (`kwargs` as boto3.Session's) that reads models through the shared loader."""
    core = botocore.session.Session(profile=profile_name)
    # As botocore builds a session's own loader (an unknown profile raises ProfileNotFound).
    loader = _shared_loader(core.get_config_variable("data_path"))
    core.register_component("data_loader", loader)
    with _SESSION_LOCK:
        session = boto3.Session(botocore_session=core, **kwargs)
        # Each boto3 session appends its resource models' folder to its loader's paths.
        paths = loader.search_paths
        paths[:] = list(dict.fromkeys(paths))
    return session


@cache
def _known_regions() -> frozenset[str]:
    """The regions the installed botocore knows (the same for every session of the process)."""
    session = _session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sts", partition_name=partition))
    return frozenset(regions)


def _malformed_region(region: str | None) -> InvalidInputError:
    return InvalidInputError(
        f"{region!r} is not an AWS region name.",
        "Pass a region such as us-east-1 with --region.",
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
