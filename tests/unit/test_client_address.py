"""The real client address behind trusted proxies, and ``TRUSTED_PROXIES``."""

from __future__ import annotations

import pytest

from entrypoints.api.client_address import client_address, networks_of
from entrypoints.settings import Settings, SettingsError

PROXIES = networks_of(("10.0.0.0/8", "2001:db8::/32"))


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items()]


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() -> None:
    forged = headers(x_forwarded_for="203.0.113.9", forwarded="for=203.0.113.9")
    assert client_address("198.51.100.1", forged, ()) == "198.51.100.1"


def test_an_untrusted_peer_cannot_forge_an_address() -> None:
    forged = headers(x_forwarded_for="203.0.113.9, 10.0.0.5")
    assert client_address("198.51.100.1", forged, PROXIES) == "198.51.100.1"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client() -> None:
    assert client_address("10.0.0.2", headers(x_forwarded_for="203.0.113.9"), PROXIES) == (
        "203.0.113.9"
    )


def test_the_right_most_untrusted_hop_wins_over_what_the_client_wrote() -> None:
    # The client wrote 6.6.6.6; our edge proxy (10.0.0.3) appended the address it saw.
    chain = headers(x_forwarded_for="6.6.6.6, 203.0.113.9, 10.0.0.3")
    assert client_address("10.0.0.2", chain, PROXIES) == "203.0.113.9"


def test_several_header_lines_are_one_list() -> None:
    chain = [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"203.0.113.9")]
    assert client_address("10.0.0.2", chain, PROXIES) == "203.0.113.9"


def test_forwarded_is_read_with_its_quotes_brackets_and_ports() -> None:
    value = 'for=6.6.6.6, for="[2001:db9::7]:4711";proto=https, for=10.0.0.3:80'
    assert client_address("10.0.0.2", headers(forwarded=value), PROXIES) == "2001:db9::7"


def test_every_hop_trusted_gives_the_left_most() -> None:
    chain = headers(x_forwarded_for="10.1.1.1, 10.0.0.3")
    assert client_address("10.0.0.2", chain, PROXIES) == "10.1.1.1"


def test_a_trusted_peer_without_forwarding_headers_is_the_client() -> None:
    assert client_address("10.0.0.2", [], PROXIES) == "10.0.0.2"


def test_an_entry_that_is_not_an_address_stops_the_walk() -> None:
    chain = headers(x_forwarded_for="203.0.113.9, unknown")
    assert client_address("10.0.0.2", chain, PROXIES) == "unknown"


def test_trusted_proxies_are_parsed_and_normalised() -> None:
    settings = Settings.from_env({"TRUSTED_PROXIES": " 10.0.0.0/8 ,192.168.1.7, 2001:DB8::/32"})
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32")
    assert Settings.from_env({}).trusted_proxies == ()


@pytest.mark.parametrize("raw", ["10.0.0.0/33", "10.0.0.1/8", "proxy.internal", "10.0.0.0/8,x"])
def test_a_trusted_proxies_value_that_is_not_cidrs_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TRUSTED_PROXIES": raw})
    assert caught.value.names == ("TRUSTED_PROXIES",)
    assert "CIDR" in str(caught.value)
