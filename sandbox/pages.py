"""The sandbox's two HTML pages: the checkout a buyer opens from ``checkout_url``, and an index.

Plain HTML with forms: no script, no build step.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sandbox.ledger import PENDING, Payment
from sandbox.webhooks import Delivery

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; color: #222; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 1.5rem; }
.amount { font-size: 2rem; font-weight: 600; margin: .5rem 0 1rem; }
.status { display: inline-block; padding: .1rem .5rem; border-radius: 4px; background: #eee; }
form { display: inline; }
button { font-size: 1rem; padding: .5rem 1.5rem; margin-right: .5rem; border-radius: 6px;
         border: 1px solid #888; cursor: pointer; }
button.pay { background: #1f7a3f; color: white; border-color: #1f7a3f; }
button.fail { background: #fff; color: #a11; border-color: #a11; }
table { border-collapse: collapse; width: 100%; }
td, th { padding: .25rem .5rem; text-align: left; }
small { color: #666; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def after_checkout(payment: Payment) -> str:
    """Where the checkout sends the buyer after Pay or Fail: the payment's ``return_url`` with
    ``payment_id`` and ``status`` in its query (the gateway contract's redirect), else back to
    this checkout page."""
    return_url = payment.order.return_url
    if not return_url:
        return f"/checkout/{payment.id}"
    parts = urlsplit(return_url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("payment_id", "status")
    ]
    query += [("payment_id", payment.id), ("status", payment.status)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def checkout_page(payment: Payment, deliveries: list[Delivery]) -> str:
    pid = escape(payment.id)
    status = payment.status
    amount = f"{payment.order.amount:f} {escape(payment.order.currency)}"
    if status == PENDING:
        actions = (
            f'<form method=post action="/sandbox/payments/{pid}/complete">'
            "<button class=pay type=submit>Pay</button></form>"
            f'<form method=post action="/sandbox/payments/{pid}/fail">'
            "<button class=fail type=submit>Fail</button></form>"
        )
    elif payment.order.return_url:
        back = escape(after_checkout(payment))
        actions = f'<p>This payment is settled. <a href="{back}">Back to the shop</a></p>'
    else:
        actions = "<p>This payment is settled; nothing left to do here.</p>"
    hooks = "".join(
        f"<li><code>{escape(d.event_id)}</code>: {escape(d.status)} after {d.attempts} "
        f"attempt(s) {escape(' '.join(d.history))}</li>"
        for d in deliveries
    )
    webhooks = f"<h3>Webhooks</h3><ul>{hooks}</ul>" if hooks else ""
    body = (
        "<div class=card>"
        f"<small>sandbox checkout · payment <code>{pid}</code></small>"
        f"<p>{escape(payment.order.description)}</p>"
        f"<div class=amount>{amount}</div>"
        f"<p>Status: <span class=status>{escape(status)}</span></p>"
        f"{actions}</div>{webhooks}"
        "<p><small>Pay or Fail marks the payment and sends the signed webhook to the service."
        "</small></p>"
    )
    return _page(f"Checkout {payment.id}", body)


def index_page(payments: list[Payment]) -> str:
    rows = "".join(
        f'<tr><td><a href="/checkout/{escape(p.id)}">{escape(p.id)}</a></td>'
        f"<td>{escape(p.order.order_id)}</td>"
        f"<td>{p.order.amount:f} {escape(p.order.currency)}</td>"
        f"<td>{escape(p.status)}</td></tr>"
        for p in reversed(payments)
    )
    body = (
        "<h1>orders-service sandbox</h1>"
        "<p>Payment gateway, wallet service and transfer service, in memory. "
        'JSON: <a href="/sandbox/stats">stats</a> · <a href="/sandbox/config">config</a> · '
        '<a href="/sandbox/transfers">transfers</a></p>'
        "<table><tr><th>payment</th><th>order</th><th>amount</th><th>status</th></tr>"
        f"{rows}</table>"
    )
    return _page("orders-service sandbox", body)
