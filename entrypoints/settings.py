"""Settings, declared once and read once from the environment.

Each field of :class:`Settings` carries its environment variable, default, accepted values and
one line of help (:func:`setting`). Everything else is derived from those declarations:
:meth:`Settings.from_env` (which collects every problem before it gives up), :data:`NAMES`, the
environment section of the commands' ``--help``, the settings table of README.md and
docs/settings.md and ``.env.example`` (``orders-service settings``). Adding a setting is one
field here.

``ORDERS_MODE`` (docs/adr/0008-orders-mode.md): ``production`` (the default) refuses to run the
pipeline unless every real adapter is configured; ``dev`` allows in-memory storage, fakes and the
in-process scheduler for whatever is left unset. Nothing here does I/O; ``from_env`` is called by
the entrypoints, never at import.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlsplit


class Mode(StrEnum):
    """``ORDERS_MODE``."""

    PRODUCTION = "production"
    DEV = "dev"


#: ``PAYMENT_PROVIDER`` values: the generic gateway contract, or NOWPayments (docs/nowpayments.md).
GATEWAY = "gateway"
NOWPAYMENTS = "nowpayments"
PROVIDERS = (GATEWAY, NOWPAYMENTS)
#: NOWPayments currency tickers ("sol", "usdttrc20", "btc").
_TICKER = re.compile(r"[a-z0-9]{2,20}")

#: The shortest webhook signing secret production accepts, in bytes.
MIN_WEBHOOK_SECRET_BYTES = 16
#: The shortest HS256 token secret and order-id key production accepts, in bytes (RFC 7518
#: §3.2: an HMAC key at least as long as the hash).
MIN_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class Problem:
    """One missing, malformed or inconsistent setting. ``message`` never holds a secret."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class SettingsError(ValueError):
    """Settings are missing or malformed: every problem found, in one message."""

    def __init__(self, problems: list[Problem] | str, message: str | None = None) -> None:
        if isinstance(problems, str):  # SettingsError(name, message): one problem
            problems = [Problem(problems, message or "is invalid")]
        self.problems = list(problems)
        self.name = self.problems[0].name
        self.names = tuple(p.name for p in self.problems)
        if len(self.problems) == 1:
            text = f"setting {self.problems[0]}"
        else:
            lines = "".join(f"\n  {p}" for p in self.problems)
            text = f"{len(self.problems)} settings are missing or invalid:{lines}"
        super().__init__(text)


# --- how a value is read: each raises ValueError with a message that never holds the value ---


@dataclass(frozen=True, slots=True)
class Text:
    """Any text."""

    def __call__(self, raw: str) -> str:
        return raw

    def accepts(self) -> str:
        return "text"


@dataclass(frozen=True, slots=True)
class TextList:
    """Comma-separated values, blanks dropped."""

    def __call__(self, raw: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def accepts(self) -> str:
        return "comma-separated list"


@dataclass(frozen=True, slots=True)
class Url:
    """Parses a URL whose scheme is one of ``schemes``; ``ValueError`` saying so otherwise."""

    schemes: tuple[str, ...]

    def __call__(self, raw: str) -> str:
        parts = urlsplit(raw)
        if parts.scheme not in self.schemes or not (parts.netloc or parts.path):
            raise ValueError(f"must be a URL with scheme {' or '.join(self.schemes)}")
        return raw.rstrip("/") if parts.scheme in ("http", "https") else raw

    def accepts(self) -> str:
        return " or ".join(f"`{s}://`" for s in self.schemes) + " URL"


@dataclass(frozen=True, slots=True)
class Number:
    """Parses a number at least ``minimum``; ``ValueError`` saying so otherwise."""

    minimum: float

    def __call__(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if not (math.isfinite(value) and value >= self.minimum):  # also rejects NaN
            raise ValueError(f"must be a number of at least {self.minimum:g}")
        return value

    def accepts(self) -> str:
        return f"number ≥ {self.minimum:g}"


@dataclass(frozen=True, slots=True)
class Integer:
    """Parses a whole number at least ``minimum``; ``ValueError`` saying so otherwise."""

    minimum: int

    def __call__(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        return value

    def accepts(self) -> str:
        return f"whole number ≥ {self.minimum}"


@dataclass(frozen=True, slots=True)
class Choice:
    """One of ``values`` (case-insensitive)."""

    values: tuple[str, ...]

    def __call__(self, raw: str) -> str:
        value = raw.lower()
        if value not in self.values:
            raise ValueError(f"must be one of {', '.join(self.values)}")
        return value

    def accepts(self) -> str:
        return ", ".join(f"`{v}`" for v in self.values)


@dataclass(frozen=True, slots=True)
class Address:
    """``host:port`` to listen on."""

    def __call__(self, raw: str) -> str:
        host, sep, port = raw.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 127.0.0.1:9101")
        return raw

    def accepts(self) -> str:
        return "`host:port`"


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


@dataclass(frozen=True, slots=True)
class Origins:
    """Comma-separated exact origins, each ``scheme://host[:port]`` as a browser sends it in
    ``Origin`` (no path or trailing slash, lower-case host, no default port)."""

    def __call__(self, raw: str) -> tuple[str, ...]:
        found: list[str] = []
        for part in raw.split(","):
            value = part.strip()
            if value and origin_of(value) != value:
                raise ValueError(
                    "each origin must be scheme://host[:port] as a browser sends it, e.g. "
                    "http://127.0.0.1:8010"
                )
            if value:
                found.append(value)
        return tuple(dict.fromkeys(found))

    def accepts(self) -> str:
        return "comma-separated origins (`scheme://host[:port]`)"


@dataclass(frozen=True, slots=True)
class Networks:
    """Comma-separated CIDRs (a bare address is one host), normalised (``10.0.0.0/8``)."""

    def __call__(self, raw: str) -> tuple[str, ...]:
        found: list[str] = []
        for part in raw.split(","):
            value = part.strip()
            if not value:
                continue
            try:
                found.append(str(ipaddress.ip_network(value, strict=True)))
            except ValueError:
                raise ValueError(
                    f"{value[:64]!r} is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32 "
                    "(host bits zero)"
                ) from None
        return tuple(dict.fromkeys(found))

    def accepts(self) -> str:
        return "comma-separated CIDRs"


@dataclass(frozen=True, slots=True)
class Flag:
    """``true`` or ``false`` (also 1/0, yes/no, on/off)."""

    def __call__(self, raw: str) -> bool:
        value = raw.lower()
        if value in ("true", "1", "yes", "on"):
            return True
        if value in ("false", "0", "no", "off"):
            return False
        raise ValueError("must be true or false")

    def accepts(self) -> str:
        return "`true` or `false`"


Parser = Text | TextList | Url | Number | Integer | Choice | Address | Origins | Networks | Flag
HTTP = Url(("http", "https"))


@dataclass(frozen=True, slots=True)
class Var:
    """The declaration of one setting (kept in its field's metadata)."""

    env: str
    help: str
    group: str
    parse: Parser
    #: Never printed: neither in an error nor in the docs (credentials may hide in URLs too).
    secret: bool = False
    #: ``api``, ``worker`` and ``retry`` refuse to start in production while it is unset.
    required: bool = False
    #: What an unset value means, when the default alone does not say it.
    unset: str = ""
    #: The value ``.env.example`` shows (a production configuration); "" leaves it empty.
    example: str = ""
    #: ``required`` only while ``PAYMENT_PROVIDER`` is this provider ("": whatever the provider).
    provider: str = ""


def setting(
    default: Any,
    env: str,
    help: str,
    *,
    group: str,
    parse: Parser = Text(),
    secret: bool = False,
    required: bool = False,
    unset: str = "",
    example: str = "",
    provider: str = "",
) -> Any:
    """A field of :class:`Settings`, declared with everything derived from it."""
    var = Var(env, help, group, parse, secret, required, unset, example, provider)
    # A secret stays out of the repr too (a settings object in a log line or a traceback).
    return field(default=default, repr=not secret, metadata={"setting": var})


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting the API, the worker, the sandbox and the CLI read."""

    mode: str = setting(
        Mode.PRODUCTION.value,
        "ORDERS_MODE",
        "`production` needs every real adapter; `dev` allows in-memory storage, fakes and "
        "in-process jobs for what is unset",
        group="mode",
        parse=Choice(tuple(m.value for m in Mode)),
        example="production",
    )
    # --- storage ---
    mongodb_uri: str | None = setting(
        None,
        "MONGODB_URI",
        "Mongo connection string (repository and webhook log)",
        group="storage",
        parse=Url(("mongodb", "mongodb+srv")),
        secret=True,
        required=True,
        unset="dev: in-memory, lost on restart",
        example="mongodb://mongo.internal:27017",
    )
    mongodb_db_name: str = setting(
        "orders", "MONGODB_DB_NAME", "Mongo database", group="storage", example="orders"
    )
    mongodb_driver: str = setting(
        "pymongo",
        "MONGODB_DRIVER",
        "`pymongo` (AsyncMongoClient) or `motor` (end-of-life, kept as a fallback)",
        group="storage",
        parse=Choice(("pymongo", "motor")),
        example="pymongo",
    )
    # --- queue ---
    redis_url: str | None = setting(
        None,
        "REDIS_URL",
        "Redis of the SAQ job queue",
        group="queue",
        parse=Url(("redis", "rediss", "unix")),
        secret=True,
        required=True,
        unset="dev: jobs run in the API process",
        example="redis://redis.internal:6379/0",
    )
    # --- downstreams ---
    payment_provider: str = setting(
        GATEWAY,
        "PAYMENT_PROVIDER",
        "which payment gateway takes the payments: `gateway` (the generic contract) or "
        "`nowpayments` (docs/nowpayments.md); production then requires that one's settings only",
        group="downstreams",
        parse=Choice(PROVIDERS),
        example=GATEWAY,
    )
    payment_gateway_url: str | None = setting(
        None,
        "PAYMENT_GATEWAY_URL",
        "payment gateway base URL",
        group="downstreams",
        parse=HTTP,
        required=True,
        provider=GATEWAY,
        unset="dev: in-process fake",
        example="https://gateway.example.com",
    )
    payment_gateway_api_key: str = setting(
        "",
        "PAYMENT_GATEWAY_API_KEY",
        "bearer key of the payment gateway; goes with its URL",
        group="downstreams",
        secret=True,
        required=True,
        provider=GATEWAY,
        example="change-me-gateway-key",
    )
    payment_webhook_secrets: tuple[str, ...] = setting(
        (),
        "PAYMENT_WEBHOOK_SECRETS",
        "webhook signing secrets, comma-separated, any one verifies (rotation); "
        f"production: each at least {MIN_WEBHOOK_SECRET_BYTES} bytes",
        group="downstreams",
        parse=TextList(),
        secret=True,
        required=True,
        provider=GATEWAY,
        unset="dev: every webhook refused",
        example="change-me-webhook-secret-of-32-bytes",
    )
    webhook_tolerance_seconds: int = setting(
        300,
        "WEBHOOK_TOLERANCE_SECONDS",
        "maximum age (and future skew) of a webhook signature's timestamp, seconds",
        group="downstreams",
        parse=Integer(1),
        example="300",
    )
    nowpayments_api_url: str | None = setting(
        None,
        "NOWPAYMENTS_API_URL",
        "NOWPayments API base URL (production: https://api.nowpayments.io)",
        group="downstreams",
        parse=HTTP,
        required=True,
        provider=NOWPAYMENTS,
        unset="dev: in-process fake",
        example="https://api.nowpayments.io",
    )
    nowpayments_api_key: str = setting(
        "",
        "NOWPAYMENTS_API_KEY",
        "NOWPayments API key (sent as `x-api-key`); goes with its URL",
        group="downstreams",
        secret=True,
        required=True,
        provider=NOWPAYMENTS,
        example="change-me-nowpayments-key",
    )
    nowpayments_ipn_secret: str = setting(
        "",
        "NOWPAYMENTS_IPN_SECRET",
        "NOWPayments IPN secret: verifies `x-nowpayments-sig` (HMAC-SHA512)",
        group="downstreams",
        secret=True,
        required=True,
        provider=NOWPAYMENTS,
        unset="dev: every IPN refused",
        example="change-me-nowpayments-ipn-secret",
    )
    nowpayments_pay_currency: str = setting(
        "",
        "NOWPAYMENTS_PAY_CURRENCY",
        "the crypto currency buyers pay in, a NOWPayments ticker in lower case",
        group="downstreams",
        required=True,
        provider=NOWPAYMENTS,
        example="sol",
    )
    public_base_url: str | None = setting(
        None,
        "PUBLIC_BASE_URL",
        "this service's public base URL; NOWPayments posts IPNs to "
        "`<PUBLIC_BASE_URL>/api/webhooks/nowpayments`",
        group="downstreams",
        parse=HTTP,
        required=True,
        provider=NOWPAYMENTS,
        example="https://orders.example.com",
    )
    wallet_api_url: str | None = setting(
        None,
        "WALLET_API_URL",
        "passkey smart-wallet service base URL",
        group="downstreams",
        parse=HTTP,
        required=True,
        unset="dev: in-process fake",
        example="https://wallets.example.com",
    )
    wallet_api_key: str = setting(
        "",
        "WALLET_API_KEY",
        "bearer key of the wallet service; goes with its URL",
        group="downstreams",
        secret=True,
        required=True,
        example="change-me-wallet-key",
    )
    transfer_api_url: str | None = setting(
        None,
        "TRANSFER_API_URL",
        "token transfer service base URL",
        group="downstreams",
        parse=HTTP,
        required=True,
        unset="dev: in-process fake",
        example="https://transfers.example.com",
    )
    transfer_api_key: str = setting(
        "",
        "TRANSFER_API_KEY",
        "bearer key of the transfer service; goes with its URL",
        group="downstreams",
        secret=True,
        required=True,
        example="change-me-transfer-key",
    )
    # --- outbound HTTP ---
    http_connect_timeout_seconds: float = setting(
        3.0,
        "HTTP_CONNECT_TIMEOUT_SECONDS",
        "connect timeout of downstream calls, seconds",
        group="outbound HTTP",
        parse=Number(0.001),
        example="3",
    )
    http_read_timeout_seconds: float = setting(
        10.0,
        "HTTP_READ_TIMEOUT_SECONDS",
        "read timeout of downstream calls, seconds",
        group="outbound HTTP",
        parse=Number(0.001),
        example="10",
    )
    http_max_connections: int = setting(
        256,
        "HTTP_MAX_CONNECTIONS",
        "connection pool size per downstream client",
        group="outbound HTTP",
        parse=Integer(1),
        example="256",
    )
    http_max_attempts: int = setting(
        3,
        "HTTP_MAX_ATTEMPTS",
        "attempts per downstream call inside one request or job, same idempotency key",
        group="outbound HTTP",
        parse=Integer(1),
        example="3",
    )
    http_breaker_threshold: int = setting(
        5,
        "HTTP_BREAKER_THRESHOLD",
        "failed attempts in a row (per downstream) that open its circuit breaker",
        group="outbound HTTP",
        parse=Integer(1),
        example="5",
    )
    http_breaker_reset_seconds: float = setting(
        30.0,
        "HTTP_BREAKER_RESET_SECONDS",
        "seconds an open circuit fails fast before one trial call",
        group="outbound HTTP",
        parse=Number(0.001),
        example="30",
    )
    http_breaker_scope: str = setting(
        "shared",
        "HTTP_BREAKER_SCOPE",
        "`shared`: one circuit per downstream for every process, in Redis (`REDIS_URL`; each "
        "process falls back to its own while Redis does not answer, and says so once); "
        "`local`: each process its own (docs/adr/0017)",
        group="outbound HTTP",
        parse=Choice(("shared", "local")),
        example="shared",
    )
    # --- order events (docs/events.md) ---
    order_events_webhook_url: str | None = setting(
        None,
        "ORDER_EVENTS_WEBHOOK_URL",
        "where the worker posts every order event, signed (the merchant's endpoint)",
        group="order events",
        parse=HTTP,
        unset="no merchant webhook: events are stored and streamed only",
        example="https://merchant.example.com/hooks/orders",
    )
    order_events_webhook_secret: str = setting(
        "",
        "ORDER_EVENTS_WEBHOOK_SECRET",
        "HMAC-SHA256 secret the order-event webhooks are signed with; required with "
        f"ORDER_EVENTS_WEBHOOK_URL; production: at least {MIN_WEBHOOK_SECRET_BYTES} bytes",
        group="order events",
        secret=True,
        example="change-me-order-events-secret-32b",
    )
    order_events_retry_base_seconds: float = setting(
        1.0,
        "ORDER_EVENTS_RETRY_BASE_SECONDS",
        "first backoff of a failed event delivery, seconds (doubles per attempt, with jitter)",
        group="order events",
        parse=Number(0.001),
        example="1",
    )
    order_events_retry_max_seconds: float = setting(
        3600.0,
        "ORDER_EVENTS_RETRY_MAX_SECONDS",
        "longest backoff of an event delivery, seconds; at least ORDER_EVENTS_RETRY_BASE_SECONDS",
        group="order events",
        parse=Number(0.001),
        example="3600",
    )
    order_events_give_up_seconds: float = setting(
        259_200.0,
        "ORDER_EVENTS_GIVE_UP_SECONDS",
        "how long a failing event delivery is retried before the event is dead, seconds "
        "(the contract's 3 days)",
        group="order events",
        parse=Number(1),
        example="259200",
    )
    order_events_stream_heartbeat_seconds: float = setting(
        15.0,
        "ORDER_EVENTS_STREAM_HEARTBEAT_SECONDS",
        "how often an idle live event stream (text/event-stream) sends a comment, seconds",
        group="order events",
        parse=Number(0.05),
        example="15",
    )
    order_events_stream_poll_seconds: float = setting(
        0.5,
        "ORDER_EVENTS_STREAM_POLL_SECONDS",
        "how often an API process reads a watched order for new events (its live streams), seconds",
        group="order events",
        parse=Number(0.05),
        example="0.5",
    )
    # --- pipeline timing ---
    retry_backoff_base_seconds: float = setting(
        5.0,
        "RETRY_BACKOFF_BASE_SECONDS",
        "first backoff of a failed step, seconds (doubles per attempt, with jitter)",
        group="pipeline timing",
        parse=Number(0.001),
        example="5",
    )
    retry_backoff_max_seconds: float = setting(
        600.0,
        "RETRY_BACKOFF_MAX_SECONDS",
        "longest backoff, seconds; at least RETRY_BACKOFF_BASE_SECONDS",
        group="pipeline timing",
        parse=Number(0.001),
        example="600",
    )
    retry_max_attempts: int = setting(
        8,
        "RETRY_MAX_ATTEMPTS",
        "attempts of a step before the order is parked for a person",
        group="pipeline timing",
        parse=Integer(1),
        example="8",
    )
    pending_recheck_seconds: float = setting(
        30.0,
        "PENDING_RECHECK_SECONDS",
        "how often a pending payment is re-checked at the gateway, seconds",
        group="pipeline timing",
        parse=Number(0.1),
        example="30",
    )
    payment_expiry_grace_seconds: float = setting(
        60.0,
        "PAYMENT_EXPIRY_GRACE_SECONDS",
        "grace after a payment's expiry before the order is failed, seconds",
        group="pipeline timing",
        parse=Number(0),
        example="60",
    )
    stuck_step_lease_seconds: float = setting(
        120.0,
        "STUCK_STEP_LEASE_SECONDS",
        "age after which an order left mid-step is taken for crashed and resumed, seconds",
        group="pipeline timing",
        parse=Number(1),
        example="120",
    )
    worker_concurrency: int = setting(
        20,
        "WORKER_CONCURRENCY",
        "jobs a worker runs at once; also the event relay's deliveries in flight (one "
        "subscriber, one order each)",
        group="pipeline timing",
        parse=Integer(1),
        example="20",
    )
    # --- buyers ---
    jwt_issuer: str = setting(
        "",
        "JWT_ISSUER",
        "the `iss` every buyer token must carry (the shop's identity provider)",
        group="buyers",
        example="https://id.shop.example.com/",
    )
    jwt_audience: str = setting(
        "",
        "JWT_AUDIENCE",
        "the `aud` every buyer token must carry (this API)",
        group="buyers",
        example="orders-api",
    )
    jwt_jwks_url: str | None = setting(
        None,
        "JWT_JWKS_URL",
        "the identity provider's JSON Web Key Set: buyer tokens signed RS256 or ES256 with a key "
        "named by `kid` (cached; fetched again for an unknown `kid`)",
        group="buyers",
        parse=HTTP,
        unset="no asymmetric tokens",
        example="https://id.shop.example.com/.well-known/jwks.json",
    )
    jwt_secret: str = setting(
        "",
        "JWT_SECRET",
        "HS256 secret of buyer tokens, instead of `JWT_JWKS_URL` (dev and tests; production: "
        f"at least {MIN_KEY_BYTES} bytes)",
        group="buyers",
        secret=True,
        unset="no HS256 tokens",
    )
    guest_checkout: bool = setting(
        False,
        "GUEST_CHECKOUT",
        "`true`: a create without a token makes a guest's order, read back with the one-time "
        "`client_secret` of its answer; production then needs no identity provider",
        group="buyers",
        parse=Flag(),
        example="false",
    )
    order_id_secret: str = setting(
        "",
        "ORDER_ID_SECRET",
        "key of order ids (HMAC of the reference id; ADR 0014): nobody without it computes an "
        f"order's id; never change it once orders exist; production: at least {MIN_KEY_BYTES} "
        "bytes",
        group="buyers",
        secret=True,
        unset="dev: an unkeyed id, computable by anyone",
        example="change-me-order-id-key-of-at-least-32-bytes",
    )
    # --- operations ---
    admin_token: str = setting(
        "",
        "ADMIN_TOKEN",
        "bearer token of the admin endpoints",
        group="operations",
        secret=True,
        unset="admin endpoints refuse everyone",
    )
    rate_limit_per_minute: int = setting(
        600,
        "RATE_LIMIT_PER_MINUTE",
        "requests per client and minute on the public and admin endpoints (not the webhook, "
        "probes, `/metrics`): per buyer for a valid buyer token on `/api/orders`, else per IP; "
        "counted in Redis for all API processes together (per process "
        "without Redis)",
        group="operations",
        parse=Integer(1),
        example="600",
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "TRUSTED_PROXIES",
        "proxies (CIDRs) whose `Forwarded` / `X-Forwarded-For` is believed: the rate limit keys on "
        "the right-most address that is not one of them",
        group="operations",
        parse=Networks(),
        unset="the peer address is the client; forwarding headers are ignored",
        example="10.0.0.0/8",
    )
    admin_stats_refresh_seconds: float = setting(
        30.0,
        "ADMIN_STATS_REFRESH_SECONDS",
        "`/api/admin/stats` answers from figures at most this old (refreshed in the background, "
        "one aggregation per interval and API process; the answer's `as_of` says when)",
        group="operations",
        parse=Number(1),
        example="30",
    )
    webhook_event_retention_days: int = setting(
        90,
        "WEBHOOK_EVENT_RETENTION_DAYS",
        "days a received webhook event is kept (a TTL index on `webhook_events`, ensured by "
        "`db-init` and at startup)",
        group="operations",
        parse=Integer(1),
        example="90",
    )
    cors_allowed_origins: tuple[str, ...] = setting(
        (),
        "CORS_ALLOWED_ORIGINS",
        "browser origins allowed to call the public API (CORS) and to be a create's `return_url`",
        group="operations",
        parse=Origins(),
        unset="no CORS headers; a `return_url` is refused",
        example="https://shop.example.com",
    )
    log_format: str = setting(
        "console",
        "LOG_FORMAT",
        "log format",
        group="operations",
        parse=Choice(("console", "json")),
        example="json",
    )
    log_level: str = setting(
        "info",
        "LOG_LEVEL",
        "log level",
        group="operations",
        parse=Choice(("info", "debug", "warning", "error")),
        example="info",
    )
    worker_metrics_address: str | None = setting(
        None,
        "WORKER_METRICS_ADDRESS",
        "where `orders-service worker` serves Prometheus `/metrics` (the API serves its own)",
        group="operations",
        parse=Address(),
        unset="no listener",
        example="0.0.0.0:9101",
    )
    # --- sandbox ---
    sandbox_webhook_url: str | None = setting(
        None,
        "SANDBOX_WEBHOOK_URL",
        "where the sandbox posts its payment webhooks",
        group="sandbox",
        parse=HTTP,
        unset="the sandbox sends none",
    )

    #: Every environment variable ``from_env`` reads, in declaration order.
    NAMES: ClassVar[tuple[str, ...]]

    @property
    def is_dev(self) -> bool:
        return self.mode == Mode.DEV

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        runs_pipeline: bool = False,
        serves_buyers: bool = False,
    ) -> Settings:
        """The settings of ``env`` (the process's environment by default), or a
        :class:`SettingsError` listing every problem. ``runs_pipeline`` (``api``, ``worker``,
        ``retry``): in production, also every real adapter must be configured.
        ``serves_buyers`` (``api``): in production, also the buyers' identity and the order-id
        key."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for item in fields(cls):
            var: Var = item.metadata["setting"]
            raw = env.get(var.env, "").strip()
            if not raw:
                continue
            try:
                values[item.name] = var.parse(raw)
            except ValueError as exc:
                shown = "" if var.secret else f", got {raw!r}"
                problems.append(Problem(var.env, f"{exc}{shown}"))
        settings = cls(**values)
        bad = {p.name for p in problems}
        problems += [p for p in settings.problems(runs_pipeline=runs_pipeline) if p.name not in bad]
        if serves_buyers:
            problems += [p for p in settings.buyer_problems() if p.name not in bad]
        if problems:
            raise SettingsError(problems)
        return settings

    def problems(self, *, runs_pipeline: bool = True) -> list[Problem]:
        """Rules across settings (and, for a process that runs the pipeline in production,
        what must be set). Empty when the settings can be used."""
        found: list[Problem] = []
        if self.retry_backoff_max_seconds < self.retry_backoff_base_seconds:
            found.append(
                Problem("RETRY_BACKOFF_MAX_SECONDS", "must be at least RETRY_BACKOFF_BASE_SECONDS")
            )
        downstreams = (
            ("PAYMENT_GATEWAY_URL", self.payment_gateway_url, "PAYMENT_GATEWAY_API_KEY"),
            ("WALLET_API_URL", self.wallet_api_url, "WALLET_API_KEY"),
            ("TRANSFER_API_URL", self.transfer_api_url, "TRANSFER_API_KEY"),
        )
        keys = {
            "PAYMENT_GATEWAY_API_KEY": self.payment_gateway_api_key,
            "WALLET_API_KEY": self.wallet_api_key,
            "TRANSFER_API_KEY": self.transfer_api_key,
        }
        for url_name, url, key_name in downstreams:
            if url and not keys[key_name]:
                found.append(Problem(key_name, f"is required with {url_name}"))
            elif keys[key_name] and not url and runs_pipeline:
                found.append(Problem(url_name, f"is required with {key_name} (it is unset)"))
        if self.payment_gateway_url and not self.payment_webhook_secrets:
            found.append(Problem("PAYMENT_WEBHOOK_SECRETS", "is required with PAYMENT_GATEWAY_URL"))
        found += self._nowpayments_problems()
        found += self._order_events_problems()
        if self.mode == Mode.PRODUCTION and runs_pipeline:
            found += self._production_problems({p.name for p in found})
        return found

    @property
    def has_identity_provider(self) -> bool:
        """Buyer tokens can be verified: a JWKS URL or an HS256 secret."""
        return bool(self.jwt_jwks_url or self.jwt_secret)

    def buyer_problems(self) -> list[Problem]:
        """The buyers' identity and the order-id key, for the API: one way to verify tokens (a
        JWKS URL or an HS256 secret, never both: no algorithm switching), with an issuer and an
        audience; in production that, unless ``GUEST_CHECKOUT`` makes every buyer a guest, and
        ``ORDER_ID_SECRET``, both long enough."""
        found = []
        if self.jwt_jwks_url and self.jwt_secret:
            found.append(
                Problem("JWT_SECRET", "must not be set with JWT_JWKS_URL (one kind of token)")
            )
        if self.has_identity_provider:
            for name, value in (
                ("JWT_ISSUER", self.jwt_issuer),
                ("JWT_AUDIENCE", self.jwt_audience),
            ):
                if not value:
                    found.append(Problem(name, "is required with JWT_JWKS_URL or JWT_SECRET"))
        if self.mode != Mode.PRODUCTION:
            return found
        if not self.has_identity_provider and not self.guest_checkout:
            found.append(
                Problem(
                    "JWT_JWKS_URL",
                    "is required in production (or JWT_SECRET; or GUEST_CHECKOUT=true for a shop "
                    "without buyer accounts)",
                )
            )
        for name, value in (
            ("JWT_SECRET", self.jwt_secret),
            ("ORDER_ID_SECRET", self.order_id_secret),
        ):
            if name == "ORDER_ID_SECRET" and not value:
                found.append(
                    Problem(name, "is required in production (ORDERS_MODE=dev allows it unset)")
                )
            elif value and len(value.encode()) < MIN_KEY_BYTES:
                found.append(Problem(name, f"must be at least {MIN_KEY_BYTES} bytes in production"))
        return found

    def _order_events_problems(self) -> list[Problem]:
        found = []
        if self.order_events_retry_max_seconds < self.order_events_retry_base_seconds:
            found.append(
                Problem(
                    "ORDER_EVENTS_RETRY_MAX_SECONDS",
                    "must be at least ORDER_EVENTS_RETRY_BASE_SECONDS",
                )
            )
        url, secret = self.order_events_webhook_url, self.order_events_webhook_secret
        if url and not secret:
            found.append(
                Problem("ORDER_EVENTS_WEBHOOK_SECRET", "is required with ORDER_EVENTS_WEBHOOK_URL")
            )
        elif (
            url and self.mode == Mode.PRODUCTION and len(secret.encode()) < MIN_WEBHOOK_SECRET_BYTES
        ):
            found.append(
                Problem(
                    "ORDER_EVENTS_WEBHOOK_SECRET",
                    f"must be at least {MIN_WEBHOOK_SECRET_BYTES} bytes in production",
                )
            )
        return found

    def _nowpayments_problems(self) -> list[Problem]:
        found = []
        if self.nowpayments_pay_currency and not _TICKER.fullmatch(self.nowpayments_pay_currency):
            found.append(
                Problem(
                    "NOWPAYMENTS_PAY_CURRENCY",
                    "must be a NOWPayments ticker: 2 to 20 lower-case letters or digits",
                )
            )
        if self.payment_provider != NOWPAYMENTS:
            return found
        if self.nowpayments_api_url and not self.nowpayments_api_key:
            found.append(Problem("NOWPAYMENTS_API_KEY", "is required with NOWPAYMENTS_API_URL"))
        if self.nowpayments_api_url:
            for name, value in (
                ("NOWPAYMENTS_IPN_SECRET", self.nowpayments_ipn_secret),
                ("NOWPAYMENTS_PAY_CURRENCY", self.nowpayments_pay_currency),
                ("PUBLIC_BASE_URL", self.public_base_url),
            ):
                if not value:
                    found.append(Problem(name, "is required with NOWPAYMENTS_API_URL"))
        return found

    def _production_problems(self, already: set[str]) -> list[Problem]:
        found = []
        for item in fields(self):
            var: Var = item.metadata["setting"]
            if var.provider and var.provider != self.payment_provider:
                continue
            if var.required and not getattr(self, item.name) and var.env not in already:
                found.append(
                    Problem(var.env, "is required in production (ORDERS_MODE=dev allows it unset)")
                )
        short = [
            i
            for i, s in enumerate(
                self.payment_webhook_secrets if self.payment_provider == GATEWAY else (), 1
            )
            if len(s.encode()) < MIN_WEBHOOK_SECRET_BYTES
        ]
        if short:
            which = ", ".join(f"#{i}" for i in short)
            found.append(
                Problem(
                    "PAYMENT_WEBHOOK_SECRETS",
                    f"each secret must be at least {MIN_WEBHOOK_SECRET_BYTES} bytes in "
                    f"production; secret {which} is shorter",
                )
            )
        return found


def declared() -> list[tuple[str, Var, Any]]:
    """``(field name, declaration, default)`` of every setting, in declaration order."""
    return [(f.name, f.metadata["setting"], f.default) for f in fields(Settings)]


Settings.NAMES = tuple(var.env for _, var, _ in declared())
#: Every environment variable ``from_env`` reads, in declaration order.
NAMES = Settings.NAMES
