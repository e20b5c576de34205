"""``POST /api/webhooks/payments``: signature, the webhook log, and the answers the gateway acts
on (it redelivers every non-2xx)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers

from adapters.clock import SystemClock
from adapters.fakes import RecordingScheduler
from adapters.http.webhook_signature import sign
from entrypoints.container import Container
from tests.support.api import OLD_SECRET, PROBLEM, SECRET, Api, StartApi, event_body, signed_headers
from tests.support.orders import order_body


async def _paid_order(api: Api, reference_id: str = "ref-paid") -> tuple[str, str]:
    """An order whose buyer has paid at the gateway: (order id, payment id)."""
    order = (await api.create(order_body(reference_id))).json()
    api.gateway.complete(order["payment"]["id"])
    return order["id"], order["payment"]["id"]


async def _status_becomes(api: Api, order_id: str, status: str) -> dict[str, object]:
    for _ in range(200):
        order: dict[str, object] = (await api.client.get(f"/api/orders/{order_id}")).json()
        if order["status"] == status:
            return order
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never became {status}: {order}")


@pytest.fixture
def scheduler() -> RecordingScheduler:
    return RecordingScheduler(SystemClock())


@pytest.fixture
async def recorded(start_api: StartApi, scheduler: RecordingScheduler) -> AsyncIterator[Api]:
    """The API with a scheduler that records instead of running the order."""

    def configure(container: Container) -> None:
        container.scheduler.override(providers.Object(scheduler))

    async with start_api(configure) as running:
        yield running


# --- the happy path ---------------------------------------------------------------------------


async def test_a_signed_event_is_accepted_and_the_order_advances_to_completed(api: Api) -> None:
    order_id, payment_id = await _paid_order(api)
    body = event_body("evt-1", payment_id)

    response = await api.post_event(body, signed_headers(body))

    assert response.status_code == 202
    assert response.json() == {"event_id": "evt-1", "outcome": "accepted", "order_id": order_id}
    # No queue configured: the in-process scheduler runs AdvanceOrder in the background.
    order = await _status_becomes(api, order_id, "completed")
    assert order["smart_wallet_address"]
    assert order["transfer"]["status"] == "confirmed"  # type: ignore[index]
    event = await api.webhook_log.get("evt-1")
    assert event is not None
    assert event.outcome == "accepted"
    assert event.payment_id == payment_id
    assert event.raw_payload == body


async def test_a_duplicate_event_is_answered_200_and_processed_once(
    recorded: Api, scheduler: RecordingScheduler
) -> None:
    order_id, payment_id = await _paid_order(recorded)
    body = event_body("evt-dup", payment_id)

    first = await recorded.post_event(body, signed_headers(body))
    second = await recorded.post_event(body, signed_headers(body))
    third = await recorded.post_event(body, signed_headers(body))

    assert first.status_code == 202
    assert second.status_code == third.status_code == 200
    assert second.json() == {"event_id": "evt-dup", "outcome": "duplicate"}
    assert scheduler.calls == [(order_id, None)]


async def test_another_event_for_the_same_payment_is_processed(
    recorded: Api, scheduler: RecordingScheduler
) -> None:
    order_id, payment_id = await _paid_order(recorded)
    for event_id in ("evt-a", "evt-b"):
        body = event_body(event_id, payment_id)
        assert (await recorded.post_event(body, signed_headers(body))).status_code == 202

    assert scheduler.calls == [(order_id, None), (order_id, None)]


async def test_an_event_type_not_acted_on_is_answered_200_ignored(
    recorded: Api, scheduler: RecordingScheduler
) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-refund", payment_id, type_="payment.refunded")

    response = await recorded.post_event(body, signed_headers(body))

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert scheduler.calls == []


# --- unknown payment, queue down ------------------------------------------------------------------


async def test_an_unknown_payment_is_a_404_and_a_redelivery_once_it_exists_is_processed(
    recorded: Api, scheduler: RecordingScheduler
) -> None:
    early = event_body("evt-early", "pay_000001")

    response = await recorded.post_event(early, signed_headers(early))

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "pay_000001" in response.json()["detail"]
    event = await recorded.webhook_log.get("evt-early")
    assert event is not None
    assert event.outcome == "unknown_payment"

    # The gateway redelivers; by now the order is stored.
    order_id, payment_id = await _paid_order(recorded)
    assert payment_id == "pay_000001"
    again = await recorded.post_event(early, signed_headers(early))

    assert again.status_code == 202
    assert scheduler.calls == [(order_id, None)]


async def test_queue_unavailable_is_a_503_and_the_redelivery_is_processed(
    recorded: Api, scheduler: RecordingScheduler
) -> None:
    order_id, payment_id = await _paid_order(recorded)
    body = event_body("evt-queue", payment_id)
    scheduler.unavailable = True

    response = await recorded.post_event(body, signed_headers(body))

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) > 0
    event = await recorded.webhook_log.get("evt-queue")
    assert event is not None
    assert event.outcome == "queue_unavailable"

    scheduler.unavailable = False
    again = await recorded.post_event(body, signed_headers(body))

    assert again.status_code == 202
    assert scheduler.jobs == {order_id: scheduler.jobs[order_id]}
    event = await recorded.webhook_log.get("evt-queue")
    assert event is not None
    assert event.outcome == "accepted"


# --- the signature ---------------------------------------------------------------------------


async def _assert_rejected(api: Api, response_status: int, event_id: str) -> None:
    assert response_status == 401
    # Nothing was recorded or handled for an unauthenticated event.
    assert await api.webhook_log.get(event_id) is None


async def test_a_missing_signature_is_a_401(recorded: Api, scheduler: RecordingScheduler) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-nosig", payment_id)

    response = await recorded.post_event(body, {"content-type": "application/json"})

    assert response.headers["content-type"] == PROBLEM
    assert "missing" in response.json()["detail"]
    await _assert_rejected(recorded, response.status_code, "evt-nosig")
    assert scheduler.calls == []


async def test_a_signature_with_an_unknown_secret_is_a_401(
    recorded: Api, scheduler: RecordingScheduler
) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-forged", payment_id)

    response = await recorded.post_event(body, signed_headers(body, secrets=("guessed",)))

    await _assert_rejected(recorded, response.status_code, "evt-forged")
    assert scheduler.calls == []


async def test_a_signature_over_another_body_is_a_401(recorded: Api) -> None:
    _, payment_id = await _paid_order(recorded)
    signed = event_body("evt-tampered", "pay_other")
    sent = event_body("evt-tampered", payment_id)

    response = await recorded.post_event(sent, signed_headers(signed))

    await _assert_rejected(recorded, response.status_code, "evt-tampered")


async def test_a_signature_older_than_the_tolerance_is_a_401(recorded: Api) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-old", payment_id)

    response = await recorded.post_event(body, signed_headers(body, at=time.time() - 301))

    await _assert_rejected(recorded, response.status_code, "evt-old")
    assert "300" in response.json()["detail"]


async def test_a_signature_from_the_future_beyond_the_tolerance_is_a_401(recorded: Api) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-future", payment_id)

    response = await recorded.post_event(body, signed_headers(body, at=time.time() + 400))

    await _assert_rejected(recorded, response.status_code, "evt-future")


async def test_a_signature_just_inside_the_tolerance_is_accepted(recorded: Api) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-late", payment_id)

    response = await recorded.post_event(body, signed_headers(body, at=time.time() - 290))

    assert response.status_code == 202


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=00", "v1=" + "0" * 64, "t=1700000000", "t=1,t=2,v1=" + "0" * 64],
    ids=["garbage", "bad-timestamp", "no-timestamp", "no-v1", "two-timestamps"],
)
async def test_a_malformed_signature_header_is_a_401(recorded: Api, header: str) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-malformed", payment_id)

    response = await recorded.post_event(
        body, {"content-type": "application/json", "x-signature": header}
    )

    await _assert_rejected(recorded, response.status_code, "evt-malformed")


async def test_during_a_rotation_the_previous_secret_alone_verifies(recorded: Api) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-old-secret", payment_id)

    response = await recorded.post_event(body, signed_headers(body, secrets=(OLD_SECRET,)))

    assert response.status_code == 202


async def test_a_header_with_several_v1_verifies_when_any_one_matches(recorded: Api) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-rotating", payment_id)
    now = int(time.time())
    header = f"t={now},v1={sign('retired-secret', now, body)},v1={sign(SECRET, now, body)}"

    response = await recorded.post_event(
        body, {"content-type": "application/json", "x-signature": header}
    )

    assert response.status_code == 202


# --- the body --------------------------------------------------------------------------------


async def test_a_signed_body_that_is_not_json_typed_is_a_415(recorded: Api) -> None:
    _, payment_id = await _paid_order(recorded)
    body = event_body("evt-text", payment_id)
    headers = signed_headers(body) | {"content-type": "text/plain"}

    response = await recorded.post_event(body, headers)

    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


async def test_a_signed_malformed_body_is_a_400(recorded: Api) -> None:
    body = b'{"id": "evt-broken", "type": '

    response = await recorded.post_event(body, signed_headers(body))

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


async def test_a_signed_body_without_a_payment_id_is_a_400_naming_it(recorded: Api) -> None:
    body = b'{"id": "evt-empty", "type": "payment.updated", "created_at": "x", "data": {}}'

    response = await recorded.post_event(body, signed_headers(body))

    assert response.status_code == 400
    assert "data.payment_id" in [e["field"] for e in response.json()["errors"]]


async def test_a_webhook_body_over_64_kib_is_a_413(recorded: Api) -> None:
    body = b'{"pad": "' + b"x" * (65 * 1024) + b'"}'

    response = await recorded.post_event(body, signed_headers(body))

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


# --- hostile bodies, once the signature holds -------------------------------------------------


def _deep_event(depth: int) -> bytes:
    return b'{"id": "evt-deep", "data": ' + b"[" * depth + b"]" * depth + b"}"


async def test_a_signed_deeply_nested_event_is_a_400_not_a_500(api: Api) -> None:
    body = _deep_event(1000)

    response = await api.post_event(body, signed_headers(body))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "body_too_deep"
    assert await api.webhook_log.get("evt-deep") is None


async def test_the_signature_is_checked_before_the_depth(api: Api) -> None:
    body = _deep_event(1000)
    headers = signed_headers(body)
    headers["x-signature"] = headers["x-signature"].replace("v1=", "v1=0", 1)[:-1]

    response = await api.post_event(body, headers)

    assert response.status_code == 401


async def test_a_signed_event_with_a_repeated_key_is_a_400_naming_it(api: Api) -> None:
    body = event_body("evt-dup", "pay_x").replace(b'"id": "evt-dup"', b'"id": "a", "id": "b"')

    response = await api.post_event(body, signed_headers(body))

    assert response.status_code == 400
    assert response.json()["code"] == "duplicate_key"
    assert [e["field"] for e in response.json()["errors"]] == ["id"]


async def test_a_signed_event_missing_fields_names_each(api: Api) -> None:
    body = b'{"type": 3, "data": {}}'

    response = await api.post_event(body, signed_headers(body))

    assert response.status_code == 400
    assert {e["field"]: e["message"] for e in response.json()["errors"]} == {
        "id": "is required",
        "type": "must be a string",
        "created_at": "is required",
        "data.payment_id": "is required",
        "data.status": "is required",
    }


async def test_an_empty_signed_event_is_a_400(api: Api) -> None:
    response = await api.post_event(b"", signed_headers(b""))

    assert response.status_code == 400
    assert response.json()["code"] == "body_required"
