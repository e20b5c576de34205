"""The buyers' settings (ADR 0014): what the API needs in production to know its buyers and key
its order ids, and what no mode allows (two kinds of token at once, a key without its claims)."""

from __future__ import annotations

import pytest

from entrypoints.settings import Settings, SettingsError
from tests.unit.test_settings import PRODUCTION

KEY = "k" * 32
HS256 = {"JWT_ISSUER": "https://id", "JWT_AUDIENCE": "orders", "JWT_SECRET": KEY}
JWKS = {
    "JWT_ISSUER": "https://id",
    "JWT_AUDIENCE": "orders",
    "JWT_JWKS_URL": "https://id/.well-known/jwks.json",
}


def _names(env: dict[str, str]) -> list[str]:
    try:
        Settings.from_env(env, runs_pipeline=True, serves_buyers=True)
    except SettingsError as caught:
        return sorted(caught.names)
    return []


@pytest.mark.parametrize("identity", [HS256, JWKS, {"GUEST_CHECKOUT": "true"}])
def test_production_serves_buyers_with_an_identity_provider_or_guests_only(
    identity: dict[str, str],
) -> None:
    assert _names({**PRODUCTION, **identity, "ORDER_ID_SECRET": KEY}) == []


def test_production_names_the_identity_provider_and_the_order_id_key_when_missing() -> None:
    assert _names(PRODUCTION) == ["JWT_JWKS_URL", "ORDER_ID_SECRET"]


def test_the_worker_does_not_need_the_buyers_settings() -> None:
    assert Settings.from_env(PRODUCTION, runs_pipeline=True).problems() == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"ORDER_ID_SECRET": "short"}, "ORDER_ID_SECRET"),
        ({"JWT_JWKS_URL": "https://id/jwks.json"}, "JWT_SECRET"),  # both kinds: no switching
        ({"JWT_ISSUER": ""}, "JWT_ISSUER"),
        ({"JWT_AUDIENCE": ""}, "JWT_AUDIENCE"),
        ({"GUEST_CHECKOUT": "maybe"}, "GUEST_CHECKOUT"),
    ],
)
def test_production_refuses_weak_or_inconsistent_buyer_settings(
    change: dict[str, str], named: str
) -> None:
    names = _names({**PRODUCTION, **HS256, "ORDER_ID_SECRET": KEY, **change})
    assert names == [named]


def test_dev_mode_needs_no_identity_but_still_refuses_two_kinds_of_token() -> None:
    assert _names({"ORDERS_MODE": "dev"}) == []
    assert _names({"ORDERS_MODE": "dev", **HS256, "JWT_JWKS_URL": "https://id/j"}) == ["JWT_SECRET"]


def test_no_secret_shows_in_the_error() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {**PRODUCTION, **HS256, "JWT_SECRET": "tiny-secret", "ORDER_ID_SECRET": "tiny-key"},
            serves_buyers=True,
        )
    assert "tiny-secret" not in str(caught.value)
    assert "tiny-key" not in str(caught.value)
