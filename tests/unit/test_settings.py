"""Settings: defaults, parsing, and a bad value named in the error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from entrypoints import settings as settings_module
from entrypoints.settings import Settings, SettingsError


def test_an_empty_environment_gives_the_embedded_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.mongodb_uri is None
    assert settings.redis_url is None
    assert settings.payment_gateway_url is None
    assert settings.mongodb_driver == "pymongo"
    assert settings.pending_recheck_seconds == 30


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "MONGODB_URI": "mongodb://127.0.0.1:27017/?retryWrites=false",
            "MONGODB_DRIVER": "Motor",
            "PAYMENT_GATEWAY_URL": "http://127.0.0.1:8010/",
            "PAYMENT_GATEWAY_API_KEY": "k",
            "PAYMENT_WEBHOOK_SECRETS": "new, old ,",
            "RETRY_MAX_ATTEMPTS": "5",
        }
    )
    assert settings.mongodb_driver == "motor"
    assert settings.payment_gateway_url == "http://127.0.0.1:8010"
    assert settings.payment_webhook_secrets == ("new", "old")
    assert settings.retry_max_attempts == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGODB_URI", "postgres://x"),
        ("MONGODB_DRIVER", "odbc"),
        ("REDIS_URL", "http://x"),
        ("PAYMENT_GATEWAY_URL", "not a url"),
        ("RETRY_MAX_ATTEMPTS", "many"),
        ("RETRY_MAX_ATTEMPTS", "0"),
        ("PENDING_RECHECK_SECONDS", "nan"),
        ("RETRY_BACKOFF_BASE_SECONDS", "-1"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_a_bad_value_stops_startup_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert caught.value.name == name
    assert name in str(caught.value)


def test_backoff_max_below_base_is_refused() -> None:
    with pytest.raises(SettingsError, match="RETRY_BACKOFF_MAX_SECONDS"):
        Settings.from_env({"RETRY_BACKOFF_BASE_SECONDS": "10", "RETRY_BACKOFF_MAX_SECONDS": "5"})


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        (
            {"PAYMENT_GATEWAY_URL": "http://g", "PAYMENT_WEBHOOK_SECRETS": "s"},
            "PAYMENT_GATEWAY_API_KEY",
        ),
        (
            {"PAYMENT_GATEWAY_URL": "http://g", "PAYMENT_GATEWAY_API_KEY": "k"},
            "PAYMENT_WEBHOOK_SECRETS",
        ),
        ({"WALLET_API_URL": "http://w"}, "WALLET_API_KEY"),
        ({"TRANSFER_API_URL": "http://t"}, "TRANSFER_API_KEY"),
    ],
)
def test_a_real_downstream_needs_its_credentials(env: dict[str, str], missing: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert caught.value.name == missing


def test_names_lists_every_setting_read() -> None:
    text = Path(settings_module.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r'env, "([A-Z_]+)"', text)) | set(
        re.findall(r'env.get\("([A-Z_]+)"', text)
    )
    assert read == set(Settings.NAMES)


def test_cors_allowed_origins_are_exact_origins() -> None:
    settings = Settings.from_env(
        {"CORS_ALLOWED_ORIGINS": " http://127.0.0.1:8010, https://shop.example ,,"}
    )
    assert settings.cors_allowed_origins == ("http://127.0.0.1:8010", "https://shop.example")
    assert Settings.from_env({}).cors_allowed_origins == ()


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:8010/",  # a trailing slash is a path: a browser's Origin has none
        "http://127.0.0.1:8010/shop",
        "127.0.0.1:8010",
        "ftp://shop.example",
        "http://Shop.example",  # a browser sends the host in lower case
        "https://shop.example:443",  # ... and no default port
        "http://user@shop.example",
        "http://shop.example:99999",
        "*",
    ],
)
def test_a_malformed_origin_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(SettingsError, match="CORS_ALLOWED_ORIGINS"):
        Settings.from_env({"CORS_ALLOWED_ORIGINS": f"http://ok.example,{value}"})
