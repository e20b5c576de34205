"""Chaos: two API processes, two workers and the sandbox on a Redis and a Mongo-wire server of
their own, while orders are created and paid: Redis is killed and restarted (empty), the
Mongo-wire server is SIGKILLed and restarted on its files, and each worker is SIGKILLed and
restarted.

Afterwards: every acknowledged create (201) is still there, every order is terminal with exactly
one transfer under its key, no API answer was a 5xx other than 503, and the workers wrote a
bounded number of log lines while Redis was down (docs/adr/0010-saq-operations.md).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import LOOPBACK, Child, free_port
from tests.e2e.stack import (
    FAST,
    log_of,
    orders_service,
    process,
    stack_environment,
    wait_until,
)
from tests.killable import RedisServer, SecantusServer
from tests.support.orders import e2e_order

Json = dict[str, Any]

#: The e2e stack's short timings, in dev mode.
ENV = {**FAST, "ORDERS_MODE": "dev"}
#: A little latency downstream, so that kills land on jobs in the middle of their calls.
SANDBOX = {"latency_ms": 10, "latency_jitter_ms": 20, "webhook_backoff_seconds": 0.2, "faults": {}}
#: Orders created under chaos (at most), and how many at once.
ORDERS = 60
CREATORS = 3
#: How long Redis stays down, and the bound on each worker's log records meanwhile: a line when
#: Redis goes, and the ends of the jobs that were in flight (SAQ 0.26's pub/sub listener alone
#: wrote thousands of tracebacks in that time).
REDIS_OUTAGE_SECONDS = 4.0
MAX_LOG_RECORDS_DURING_REDIS_OUTAGE = 30
MONGO_OUTAGE_SECONDS = 3.0

#: A line of the APIs' request counter with a 5xx status: its route, status and count.
COUNTED_5XX = r'orders_http_requests_total\{[^}]*route="([^"]*)"[^}]*status="(5\d\d)"[^}]*\} (\S+)'
WHERE_TO_LOOK = (
    "(a lost acknowledged write: the Mongo client's write concern, w majority and j true; a 5xx "
    "or a hang while Mongo is down: the client's fail-fast timeouts; docs/mongo.md)"
)


@dataclass
class Chaos:
    """The processes and servers of the test, and what it saw."""

    redis: RedisServer
    mongo: SecantusServer
    sandbox: Child
    apis: list[Child]
    workers: list[Child]
    api_urls: list[str]
    sandbox_url: str
    answers: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)

    @property
    def processes(self) -> list[Child]:
        return [self.sandbox, *self.apis, *self.workers]

    def logs(self, lines: int = 25) -> str:
        tails = [p.tail(lines) for p in self.processes]
        return "\n".join([*tails, self.redis.tail(5), self.mongo.tail(lines)])


#: The first line of a log record in the console format (a traceback's other lines do not).
RECORD = re.compile(rb"^\d{4}-\d\d-\d\dT", re.MULTILINE)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _records_since(path: Path, offset: int) -> int:
    """The log records written to ``path`` past ``offset``."""
    with path.open("rb") as log:
        log.seek(offset)
        return len(RECORD.findall(log.read()))


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[Chaos]:
    redis = RedisServer(tmp_path / "redis.log")
    (tmp_path / "mongo-data").mkdir()
    mongo = SecantusServer(tmp_path / "mongo.log", tmp_path / "mongo-data")
    api_ports = [free_port(), free_port()]
    sandbox_port = free_port()
    env = stack_environment(
        redis_url=redis.url,
        mongodb_uri=mongo.uri(),
        api_port=api_ports[0],  # the sandbox's webhooks go to the first API
        sandbox_port=sandbox_port,
        webhook_secret="whsec_" + secrets.token_hex(16),
        extra=ENV,
    )
    script = orders_service()
    on = ["--host", LOOPBACK, "--port"]
    state = Chaos(
        redis=redis,
        mongo=mongo,
        sandbox=process(
            "sandbox",
            [script, "sandbox", *on, str(sandbox_port), "--seed", "11"],
            env,
            tmp_path / "sandbox.log",
        ),
        apis=[
            process(f"api{i}", [script, "api", *on, str(port)], env, tmp_path / f"api{i}.log")
            for i, port in enumerate(api_ports, start=1)
        ],
        workers=[
            process(
                f"worker{i}",
                [script, "worker", "--grace-seconds", "5"],
                env,
                tmp_path / f"worker{i}.log",
            )
            for i in (1, 2)
        ],
        api_urls=[f"http://{LOOPBACK}:{port}" for port in api_ports],
        sandbox_url=f"http://{LOOPBACK}:{sandbox_port}",
    )
    try:
        redis.start()
        mongo.start()
        for child in state.processes:
            child.start()
        for url in (f"{state.sandbox_url}/sandbox/stats", *(f"{u}/ready" for u in state.api_urls)):
            _wait_for(url, state)
        yield state
    finally:
        for child in state.processes:
            child.stop(seconds=5)
        redis.kill()
        mongo.kill()


def _wait_for(url: str, chaos: Chaos) -> None:
    def answers() -> bool:
        for child in chaos.processes:
            if not child.alive():
                raise AssertionError(f"{child.name} exited while starting:\n{chaos.logs()}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answers, seconds=60, what=f"{url} answers 200")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{chaos.logs()}") from None


class Load:
    """Creates orders on both APIs in turn and pays each one as soon as it is acknowledged; a
    create answered 503 (or not answered) is kept to be sent again, as a client would."""

    def __init__(self, chaos: Chaos, client: httpx.AsyncClient) -> None:
        self.chaos = chaos
        self.client = client
        self.run = uuid.uuid4().hex[:8]
        self.acknowledged: dict[str, Json] = {}  # reference id -> the 201's order
        self.pending: list[Json] = []  # bodies not acknowledged yet
        self.stop = asyncio.Event()
        self._next = 0

    @property
    def attempted(self) -> int:
        return self._next

    async def creator(self, which: int) -> None:
        while not self.stop.is_set() and self._next < ORDERS:
            number = self._next
            self._next += 1
            body = e2e_order(f"chaos-{self.run}-{number:03d}", amount=f"{10 + number}.25")
            if not await self.create(body, api=number % 2):
                self.pending.append(body)
            await asyncio.sleep(1.0)

    async def create(self, body: Json, api: int) -> bool:
        url = f"{self.chaos.api_urls[api]}/api/orders"
        try:
            answer = await self.client.post(url, json=body)
        except httpx.TransportError as exc:
            self.chaos.answers[f"create {type(exc).__name__}"] += 1
            return False
        self.chaos.answers[f"create {answer.status_code}"] += 1
        if answer.status_code == 201:
            order: Json = answer.json()
            self.acknowledged[body["reference_id"]] = order
            await self.pay(order)
            return True
        if answer.status_code != 503:
            self.chaos.unexpected.append(f"create {answer.status_code}: {answer.text[:300]}")
        return False

    async def pay(self, order: Json) -> None:
        payment = order["payment"]["id"]
        answer = await self.client.post(
            f"{self.chaos.sandbox_url}/sandbox/payments/{payment}/complete"
        )
        assert answer.status_code == 200, answer.text

    async def send_the_rest(self, seconds: float) -> None:
        """Every create not acknowledged yet, again (same reference id) until it is."""
        deadline = time.monotonic() + seconds
        while self.pending:
            body = self.pending.pop(0)
            if not await self.create(body, api=0):
                self.pending.append(body)
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{len(self.pending)} creates still refused after the chaos "
                        f"{WHERE_TO_LOOK}\n{self.chaos.logs()}"
                    )
                await asyncio.sleep(0.5)


async def test_orders_survive_redis_mongo_and_worker_kills(chaos: Chaos) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        answer = await client.put(f"{chaos.sandbox_url}/sandbox/config", json=SANDBOX)
        assert answer.status_code == 200, answer.text
        load = Load(chaos, client)
        creators = [asyncio.create_task(load.creator(i)) for i in range(CREATORS)]

        async def pause(seconds: float) -> None:
            await asyncio.sleep(seconds)
            for task in creators:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

        # 1. Redis killed (SIGKILL: the queue is lost with it) and restarted empty.
        await pause(3)
        logs = [log_of(w) for w in chaos.workers]
        before = [_size(p) for p in logs]
        await asyncio.to_thread(chaos.redis.kill)
        await pause(REDIS_OUTAGE_SECONDS)
        during_redis_outage = [_records_since(p, b) for p, b in zip(logs, before, strict=True)]
        await asyncio.to_thread(chaos.redis.start)
        for log in logs:  # each worker says once that Redis is back, and works on

            def back(log: Path = log, offset: int = before[logs.index(log)]) -> bool:
                with log.open("rb") as text:
                    text.seek(offset)
                    return b"redis reachable again" in text.read()

            await asyncio.to_thread(wait_until, back, seconds=15, what=f"{log.name}: Redis back")
        await pause(2)

        # 2. A worker SIGKILLed mid-run, restarted.
        await asyncio.to_thread(chaos.workers[0].kill)
        await pause(1)
        await asyncio.to_thread(chaos.workers[0].start)

        # 3. The Mongo-wire server SIGKILLed, restarted on its files.
        await pause(3)
        await asyncio.to_thread(chaos.mongo.kill)
        await pause(MONGO_OUTAGE_SECONDS)
        await asyncio.to_thread(chaos.mongo.start)

        # 4. The other worker SIGKILLed, restarted.
        await pause(3)
        await asyncio.to_thread(chaos.workers[1].kill)
        await pause(1)
        await asyncio.to_thread(chaos.workers[1].start)

        await pause(2)
        load.stop.set()
        await asyncio.gather(*creators)
        await load.send_the_rest(seconds=30)

        # The workers' logs while Redis was down: bounded, not a traceback per retry.
        assert all(n < MAX_LOG_RECORDS_DURING_REDIS_OUTAGE for n in during_redis_outage), (
            f"worker log records during {REDIS_OUTAGE_SECONDS:.0f} s of Redis outage: "
            f"{during_redis_outage}\n{chaos.logs(60)}"
        )

        # No acknowledged create lost.
        lost = []
        for reference, order in load.acknowledged.items():
            read = await client.get(f"{chaos.api_urls[1]}/api/orders/{order['id']}")
            if read.status_code != 200:
                lost.append((reference, read.status_code))
        assert not lost, f"acknowledged creates gone after the chaos: {lost} {WHERE_TO_LOOK}"
        ids = {order["id"] for order in load.acknowledged.values()}
        assert len(ids) == len(load.acknowledged) == load.attempted

        # Every order terminal (all were paid: completed), within a bound.
        final = await _wait_terminal(client, chaos, sorted(ids), seconds=60)
        statuses = Counter(order["status"] for order in final.values())
        assert statuses == {"completed": len(ids)}, f"{statuses}\n{chaos.logs()}"

        # Exactly one transfer per order, under its key, of its amount, to its wallet.
        answer = await client.get(f"{chaos.sandbox_url}/sandbox/transfers")
        transfers = [t for t in answer.json() if t["key"].split(":", 1)[0] in ids]
        per_order = Counter(t["key"] for t in transfers)
        assert set(per_order) == {f"{i}:send_token" for i in ids}
        assert set(per_order.values()) == {1}, per_order
        for transfer in transfers:
            order = final[transfer["key"].split(":", 1)[0]]
            assert Decimal(transfer["amount"]) == Decimal(order["amount_token"])
            assert transfer["destination"] == order["smart_wallet_address"]

        # API 5xx: only 503, to the test's requests, to the webhooks and in the APIs' own counts.
        assert not chaos.unexpected, chaos.unexpected
        webhook_answers: Counter[str] = Counter()
        for order in final.values():
            view = await client.get(
                f"{chaos.sandbox_url}/sandbox/payments/{order['payment']['id']}"
            )
            for delivery in view.json()["webhooks"]:
                webhook_answers.update(delivery["answers"])
        api_5xx: Counter[str] = Counter()
        for url in chaos.api_urls:
            metrics = (await client.get(f"{url}/metrics")).text
            for route, status, count in re.findall(COUNTED_5XX, metrics):
                api_5xx[f"{route} {status}"] += int(float(count))
        bad_webhooks = {
            a: n for a, n in webhook_answers.items() if a.startswith("5") and a != "503"
        }
        assert not bad_webhooks, f"webhooks answered {webhook_answers} {WHERE_TO_LOOK}"
        bad_api = {k: n for k, n in api_5xx.items() if not k.endswith(" 503")}
        assert not bad_api, f"the APIs answered {api_5xx} {WHERE_TO_LOOK}"

        print(  # the numbers, for the report (pytest -s)
            f"\nchaos: answers {dict(chaos.answers)}; webhooks {dict(webhook_answers)}; "
            f"API 5xx {dict(api_5xx)}; worker log records during the Redis outage "
            f"{during_redis_outage}"
        )


async def _wait_terminal(
    client: httpx.AsyncClient, chaos: Chaos, ids: list[str], seconds: float
) -> dict[str, Json]:
    final: dict[str, Json] = {}
    deadline = time.monotonic() + seconds
    while len(final) < len(ids):
        for order_id in ids:
            if order_id in final:
                continue
            read = await client.get(f"{chaos.api_urls[0]}/api/orders/{order_id}")
            assert read.status_code == 200, read.text
            order: Json = read.json()
            if order["status"] in ("completed", "failed_pay"):
                final[order_id] = order
        if time.monotonic() > deadline:
            left = Counter(
                [
                    (await client.get(f"{chaos.api_urls[0]}/api/orders/{i}")).json()["status"]
                    for i in ids
                    if i not in final
                ]
            )
            raise AssertionError(f"not terminal within {seconds:.0f} s: {left}\n{chaos.logs()}")
        await asyncio.sleep(0.5)
    return final
