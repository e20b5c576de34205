"""Settings, read once from the environment. A bad value stops startup with a message naming it.

Nothing here does I/O; ``Settings.from_env()`` is called by the entrypoints, never at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting is missing or malformed."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"setting {name}: {message}")
        self.name = name


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise SettingsError(name, f"must be a URL with scheme {' or '.join(schemes)}: {value!r}")
    return value.rstrip("/") if parts.scheme in ("http", "https") else value


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a number, got {raw!r}") from None
    if not value >= minimum:  # also rejects NaN
        raise SettingsError(name, f"must be at least {minimum}, got {raw!r}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(name, f"must be at least {minimum}, got {raw!r}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise SettingsError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _address(env: Mapping[str, str], name: str) -> str | None:
    """``host:port`` to listen on, or None when unset."""
    value = env.get(name, "").strip()
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(name, f"must be host:port, e.g. 127.0.0.1:9101, got {value!r}")
    return value


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, as a browser writes ``Origin`` (host
    in lower case, no default port), or None when ``url`` is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    default = 80 if parts.scheme == "http" else 443
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated exact origins, each ``scheme://host[:port]`` as a browser sends it in
    ``Origin`` (no path or trailing slash, lower-case host, no default port)."""
    found: list[str] = []
    for raw in env.get(name, "").split(","):
        value = raw.strip()
        if value and origin_of(value) != value:
            raise SettingsError(
                name,
                "each origin must be scheme://host[:port] as a browser sends it, e.g. "
                f"http://127.0.0.1:8010, got {value!r}",
            )
        if value:
            found.append(value)
    return tuple(dict.fromkeys(found))


def _secret(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting the API, the worker, the sandbox and the CLI read."""

    # Storage: MONGODB_URI unset means the in-memory repository.
    mongodb_uri: str | None = None
    mongodb_db_name: str = "orders"
    mongodb_driver: str = "pymongo"
    # Queue: REDIS_URL unset means jobs run in-process (the dev command starts a Redis itself).
    redis_url: str | None = None
    # Downstreams: a URL unset means that port's in-process fake.
    payment_gateway_url: str | None = None
    payment_gateway_api_key: str = ""
    payment_webhook_secrets: tuple[str, ...] = ()
    webhook_tolerance_seconds: int = 300
    wallet_api_url: str | None = None
    wallet_api_key: str = ""
    transfer_api_url: str | None = None
    transfer_api_key: str = ""
    http_connect_timeout_seconds: float = 3.0
    http_read_timeout_seconds: float = 10.0
    http_max_connections: int = 256
    http_max_attempts: int = 3
    http_breaker_threshold: int = 5
    http_breaker_reset_seconds: float = 30.0
    # Pipeline timing.
    retry_backoff_base_seconds: float = 5.0
    retry_backoff_max_seconds: float = 600.0
    retry_max_attempts: int = 8
    pending_recheck_seconds: float = 30.0
    payment_expiry_grace_seconds: float = 60.0
    stuck_step_lease_seconds: float = 120.0
    worker_concurrency: int = 20
    # Operations.
    admin_token: str = ""
    rate_limit_per_minute: int = 600
    # Browser origins allowed to call the API (CORS) and to be a create's return_url; empty: none.
    cors_allowed_origins: tuple[str, ...] = ()
    log_format: str = "console"
    log_level: str = "info"
    # host:port where the worker serves /metrics (its own process's counters); unset: none.
    worker_metrics_address: str | None = None
    # The sandbox posts its webhooks here.
    sandbox_webhook_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        http = ("http", "https")
        secrets = tuple(s.strip() for s in env.get("PAYMENT_WEBHOOK_SECRETS", "").split(","))
        base = _number(env, "RETRY_BACKOFF_BASE_SECONDS", 5.0, minimum=0.001)
        settings = cls(
            mongodb_uri=_url(env, "MONGODB_URI", ("mongodb", "mongodb+srv")),
            mongodb_db_name=env.get("MONGODB_DB_NAME", "").strip() or "orders",
            mongodb_driver=_choice(env, "MONGODB_DRIVER", ("pymongo", "motor")),
            redis_url=_url(env, "REDIS_URL", ("redis", "rediss", "unix")),
            payment_gateway_url=_url(env, "PAYMENT_GATEWAY_URL", http),
            payment_gateway_api_key=_secret(env, "PAYMENT_GATEWAY_API_KEY"),
            payment_webhook_secrets=tuple(s for s in secrets if s),
            webhook_tolerance_seconds=_integer(env, "WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1),
            wallet_api_url=_url(env, "WALLET_API_URL", http),
            wallet_api_key=_secret(env, "WALLET_API_KEY"),
            transfer_api_url=_url(env, "TRANSFER_API_URL", http),
            transfer_api_key=_secret(env, "TRANSFER_API_KEY"),
            http_connect_timeout_seconds=_number(
                env, "HTTP_CONNECT_TIMEOUT_SECONDS", 3.0, minimum=0.001
            ),
            http_read_timeout_seconds=_number(
                env, "HTTP_READ_TIMEOUT_SECONDS", 10.0, minimum=0.001
            ),
            http_max_connections=_integer(env, "HTTP_MAX_CONNECTIONS", 256, minimum=1),
            http_max_attempts=_integer(env, "HTTP_MAX_ATTEMPTS", 3, minimum=1),
            http_breaker_threshold=_integer(env, "HTTP_BREAKER_THRESHOLD", 5, minimum=1),
            http_breaker_reset_seconds=_number(
                env, "HTTP_BREAKER_RESET_SECONDS", 30.0, minimum=0.001
            ),
            retry_backoff_base_seconds=base,
            retry_backoff_max_seconds=_number(
                env, "RETRY_BACKOFF_MAX_SECONDS", 600.0, minimum=base
            ),
            retry_max_attempts=_integer(env, "RETRY_MAX_ATTEMPTS", 8, minimum=1),
            pending_recheck_seconds=_number(env, "PENDING_RECHECK_SECONDS", 30.0, minimum=0.1),
            payment_expiry_grace_seconds=_number(
                env, "PAYMENT_EXPIRY_GRACE_SECONDS", 60.0, minimum=0
            ),
            stuck_step_lease_seconds=_number(env, "STUCK_STEP_LEASE_SECONDS", 120.0, minimum=1),
            worker_concurrency=_integer(env, "WORKER_CONCURRENCY", 20, minimum=1),
            admin_token=_secret(env, "ADMIN_TOKEN"),
            rate_limit_per_minute=_integer(env, "RATE_LIMIT_PER_MINUTE", 600, minimum=1),
            cors_allowed_origins=_origins(env, "CORS_ALLOWED_ORIGINS"),
            log_format=_choice(env, "LOG_FORMAT", ("console", "json")),
            log_level=_choice(env, "LOG_LEVEL", ("info", "debug", "warning", "error")),
            worker_metrics_address=_address(env, "WORKER_METRICS_ADDRESS"),
            sandbox_webhook_url=_url(env, "SANDBOX_WEBHOOK_URL", http),
        )
        settings.check_consistency()
        return settings

    def check_consistency(self) -> None:
        """Rules across settings: a real gateway needs its key and a webhook secret."""
        if self.payment_gateway_url and not self.payment_gateway_api_key:
            raise SettingsError("PAYMENT_GATEWAY_API_KEY", "is required with PAYMENT_GATEWAY_URL")
        if self.payment_gateway_url and not self.payment_webhook_secrets:
            raise SettingsError("PAYMENT_WEBHOOK_SECRETS", "is required with PAYMENT_GATEWAY_URL")
        if self.wallet_api_url and not self.wallet_api_key:
            raise SettingsError("WALLET_API_KEY", "is required with WALLET_API_URL")
        if self.transfer_api_url and not self.transfer_api_key:
            raise SettingsError("TRANSFER_API_KEY", "is required with TRANSFER_API_URL")

    #: Every environment variable ``from_env`` reads (docker-compose and .env.example list them).
    NAMES = (
        "MONGODB_URI",
        "MONGODB_DB_NAME",
        "MONGODB_DRIVER",
        "REDIS_URL",
        "PAYMENT_GATEWAY_URL",
        "PAYMENT_GATEWAY_API_KEY",
        "PAYMENT_WEBHOOK_SECRETS",
        "WEBHOOK_TOLERANCE_SECONDS",
        "WALLET_API_URL",
        "WALLET_API_KEY",
        "TRANSFER_API_URL",
        "TRANSFER_API_KEY",
        "HTTP_CONNECT_TIMEOUT_SECONDS",
        "HTTP_READ_TIMEOUT_SECONDS",
        "HTTP_MAX_CONNECTIONS",
        "HTTP_MAX_ATTEMPTS",
        "HTTP_BREAKER_THRESHOLD",
        "HTTP_BREAKER_RESET_SECONDS",
        "RETRY_BACKOFF_BASE_SECONDS",
        "RETRY_BACKOFF_MAX_SECONDS",
        "RETRY_MAX_ATTEMPTS",
        "PENDING_RECHECK_SECONDS",
        "PAYMENT_EXPIRY_GRACE_SECONDS",
        "STUCK_STEP_LEASE_SECONDS",
        "WORKER_CONCURRENCY",
        "ADMIN_TOKEN",
        "RATE_LIMIT_PER_MINUTE",
        "CORS_ALLOWED_ORIGINS",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "WORKER_METRICS_ADDRESS",
        "SANDBOX_WEBHOOK_URL",
    )
