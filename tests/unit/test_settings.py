"""Settings: defaults, parsing, a bad value named in the error, every problem in one error, and
what production mode requires (docs/adr/0008-orders-mode.md)."""

from __future__ import annotations

import dataclasses

import pytest

from entrypoints.settings import Settings, SettingsError, declared

#: A complete production configuration (as docker-compose.yml gives, with the sandbox).
PRODUCTION = {
    "MONGODB_URI": "mongodb://mongo:27017",
    "REDIS_URL": "redis://redis:6379/0",
    "PAYMENT_GATEWAY_URL": "http://sandbox:8010",
    "PAYMENT_GATEWAY_API_KEY": "pk_live_key_0001",
    "PAYMENT_WEBHOOK_SECRETS": "whsec_0123456789abcdef",
    "WALLET_API_URL": "http://sandbox:8010",
    "WALLET_API_KEY": "wk_live_key_0001",
    "TRANSFER_API_URL": "http://sandbox:8010",
    "TRANSFER_API_KEY": "tk_live_key_0001",
}
REQUIRED = sorted(PRODUCTION)


def test_an_empty_environment_is_production_with_nothing_configured() -> None:
    settings = Settings.from_env({})
    assert settings.mode == "production"
    assert not settings.is_dev
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


def test_every_field_is_declared_once_with_a_unique_variable() -> None:
    names = [var.env for _, var, _ in declared()]
    assert len(names) == len(set(names)) == len(dataclasses.fields(Settings))
    assert tuple(names) == Settings.NAMES
    for name, var, _ in declared():
        assert var.help, name


def test_a_complete_production_configuration_is_accepted() -> None:
    settings = Settings.from_env(PRODUCTION, runs_pipeline=True)
    assert settings.mode == "production"
    assert settings.problems() == []


def test_production_lists_every_missing_variable_in_one_error() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({}, runs_pipeline=True)
    assert sorted(caught.value.names) == REQUIRED
    for name in REQUIRED:
        assert name in str(caught.value)


def test_dev_mode_lets_the_pipeline_run_on_stand_ins() -> None:
    assert Settings.from_env({"ORDERS_MODE": "DEV"}, runs_pipeline=True).is_dev


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"ORDERS_MODE": "prod"}, "ORDERS_MODE"),
        ({"PAYMENT_GATEWAY_API_KEY": ""}, "PAYMENT_GATEWAY_API_KEY"),
        ({"WALLET_API_URL": ""}, "WALLET_API_URL"),
        ({"TRANSFER_API_URL": "", "TRANSFER_API_KEY": "tk_only"}, "TRANSFER_API_URL"),
        ({"PAYMENT_WEBHOOK_SECRETS": "whsec_0123456789abcdef, short"}, "PAYMENT_WEBHOOK_SECRETS"),
    ],
)
def test_production_refuses_inconsistent_values(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(PRODUCTION | change, runs_pipeline=True)
    assert caught.value.names == (named,)


def test_several_problems_are_reported_together_and_no_secret_is_shown() -> None:
    env = PRODUCTION | {
        "ORDERS_MODE": "prod",
        "MONGODB_URI": "postgres://admin:hunter2-pass@db",
        "PAYMENT_WEBHOOK_SECRETS": "tiny-secret-9",
        "WALLET_API_KEY": "",
        "RETRY_MAX_ATTEMPTS": "many",
    }
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env, runs_pipeline=True)
    message = str(caught.value)
    assert set(caught.value.names) == {
        "ORDERS_MODE",
        "MONGODB_URI",
        "PAYMENT_WEBHOOK_SECRETS",
        "WALLET_API_KEY",
        "RETRY_MAX_ATTEMPTS",
    }
    # Plain values are shown.
    assert "'prod'" in message
    assert "'many'" in message
    for secret in ("hunter2", "tiny-secret-9", "pk_live_key_0001", "tk_live_key_0001"):
        assert secret not in message
    assert "hunter2" not in repr(Settings(mongodb_uri="mongodb://a:hunter2@x", admin_token="t0k"))


def test_a_process_that_does_not_run_the_pipeline_is_not_held_to_production() -> None:
    # The sandbox reads the keys it expects without any downstream URL.
    settings = Settings.from_env({"PAYMENT_GATEWAY_API_KEY": "pk", "PAYMENT_WEBHOOK_SECRETS": "s"})
    assert settings.payment_gateway_api_key == "pk"


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


# --- PAYMENT_PROVIDER=nowpayments (docs/nowpayments.md) ---

NOWPAYMENTS_SETTINGS = {
    "PAYMENT_PROVIDER": "nowpayments",
    "NOWPAYMENTS_API_URL": "https://api.nowpayments.io/",
    "NOWPAYMENTS_API_KEY": "np_live_key_0001",
    "NOWPAYMENTS_IPN_SECRET": "ipn_secret_0001",
    "NOWPAYMENTS_PAY_CURRENCY": "sol",
    "PUBLIC_BASE_URL": "https://orders.example.com",
}
GATEWAY_ONLY = ("PAYMENT_GATEWAY_URL", "PAYMENT_GATEWAY_API_KEY", "PAYMENT_WEBHOOK_SECRETS")


def test_nowpayments_in_production_needs_its_settings_and_not_the_generic_gateways() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k not in GATEWAY_ONLY} | NOWPAYMENTS_SETTINGS
    settings = Settings.from_env(env, runs_pipeline=True)
    assert settings.payment_provider == "nowpayments"
    assert settings.nowpayments_api_url == "https://api.nowpayments.io"
    assert settings.payment_gateway_url is None


def test_nowpayments_in_production_names_every_one_of_its_missing_settings() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k not in GATEWAY_ONLY}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env | {"PAYMENT_PROVIDER": "nowpayments"}, runs_pipeline=True)
    assert sorted(caught.value.names) == sorted(set(NOWPAYMENTS_SETTINGS) - {"PAYMENT_PROVIDER"})


def test_the_generic_gateway_in_production_needs_none_of_the_nowpayments_settings() -> None:
    settings = Settings.from_env(PRODUCTION, runs_pipeline=True)
    assert settings.payment_provider == "gateway"
    env = {k: v for k, v in PRODUCTION.items() if k not in GATEWAY_ONLY}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            env | NOWPAYMENTS_SETTINGS | {"PAYMENT_PROVIDER": "gateway"}, runs_pipeline=True
        )
    assert sorted(caught.value.names) == sorted(GATEWAY_ONLY)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAYMENT_PROVIDER", "stripe"),
        ("NOWPAYMENTS_API_URL", "ftp://x"),
        ("PUBLIC_BASE_URL", "orders.example.com"),
        ("NOWPAYMENTS_PAY_CURRENCY", "SOL"),
        ("NOWPAYMENTS_PAY_CURRENCY", "s"),
    ],
)
def test_a_bad_nowpayments_setting_is_named(name: str, value: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k not in GATEWAY_ONLY} | NOWPAYMENTS_SETTINGS
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env | {name: value}, runs_pipeline=True)
    assert name in caught.value.names


def test_a_nowpayments_url_without_its_key_secret_currency_and_base_url_is_refused_in_dev() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "ORDERS_MODE": "dev",
                "PAYMENT_PROVIDER": "nowpayments",
                "NOWPAYMENTS_API_URL": "http://127.0.0.1:8010",
            }
        )
    assert sorted(caught.value.names) == [
        "NOWPAYMENTS_API_KEY",
        "NOWPAYMENTS_IPN_SECRET",
        "NOWPAYMENTS_PAY_CURRENCY",
        "PUBLIC_BASE_URL",
    ]
