"""``orders-service sandbox``: the payment gateway, wallet service and transfer service of
docs/contracts.md, in memory, on one port, with fault knobs (see docs/sandbox.md).

API keys come from PAYMENT_GATEWAY_API_KEY, WALLET_API_KEY and TRANSFER_API_KEY (empty: any
bearer token); webhooks are signed with the first of PAYMENT_WEBHOOK_SECRETS and posted to
SANDBOX_WEBHOOK_URL. Each knob flag defaults to its SANDBOX_* environment variable."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping

import msgspec
import uvicorn

from entrypoints.settings import Settings, SettingsError
from sandbox import SandboxConfig, SandboxKnobs, create_sandbox_app, uniform_faults

#: flag → (environment variable, type, default, help)
_KNOBS: dict[str, tuple[str, Callable[[str], float], float, str]] = {
    "latency_ms": ("SANDBOX_LATENCY_MS", float, 0.0, "fixed latency of every call, ms"),
    "latency_jitter_ms": ("SANDBOX_LATENCY_JITTER_MS", float, 0.0, "plus uniform [0, this] ms"),
    "error_rate": ("SANDBOX_ERROR_RATE", float, 0.0, "share of calls answered 503"),
    "timeout_rate": ("SANDBOX_TIMEOUT_RATE", float, 0.0, "share of calls that hang"),
    "rate_limit_rate": (
        "SANDBOX_RATE_LIMIT_RATE",
        float,
        0.0,
        "share of calls answered 429 with Retry-After",
    ),
    "effect_then_fail_rate": (
        "SANDBOX_EFFECT_THEN_FAIL_RATE",
        float,
        0.0,
        "share of calls whose effect is applied, then answered 500",
    ),
    "timeout_seconds": (
        "SANDBOX_TIMEOUT_SECONDS",
        float,
        30.0,
        "how long a hanging call hangs before it answers 504",
    ),
    "merchant_fail_rate": (
        "SANDBOX_MERCHANT_FAIL_RATE",
        float,
        0.0,
        "share of order-event deliveries the merchant receiver answers 500",
    ),
    "merchant_delay_ms": (
        "SANDBOX_MERCHANT_DELAY_MS",
        float,
        0.0,
        "delay of every merchant receiver answer, ms",
    ),
    "retry_after_seconds": (
        "SANDBOX_RETRY_AFTER_SECONDS",
        int,
        1,
        "the Retry-After of a 429, whole seconds",
    ),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve the three downstream contracts in memory, with fault knobs",
        description=__doc__,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8010, help="port (default 8010)")
    parser.add_argument(
        "--public-url",
        default=None,
        help="base of checkout_url when the sandbox is reached at another address "
        "(default: the address each request came to)",
    )
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="where payment webhooks go (default SANDBOX_WEBHOOK_URL)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault draws")
    parser.add_argument(
        "--submitted-transfers",
        action="store_true",
        help="transfers answer 'submitted' until POST /sandbox/transfers/confirm",
    )
    for name, (env, kind, default, text) in _KNOBS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=None,
            help=f"{text} (env {env}, default {default})",
        )
    parser.set_defaults(handler=_run)


def build_config(
    args: argparse.Namespace, settings: Settings, env: Mapping[str, str]
) -> SandboxConfig:
    """The sandbox's config from flags, then SANDBOX_* variables, then defaults."""
    values: dict[str, float] = {}
    for name, (variable, kind, default, _) in _KNOBS.items():
        flag = getattr(args, name)
        if flag is not None:
            values[name] = flag
        elif env.get(variable, "").strip():
            try:
                values[name] = kind(env[variable].strip())
            except ValueError:
                raise SettingsError(variable, f"must be a number, got {env[variable]!r}") from None
        else:
            values[name] = default
    knobs = SandboxKnobs(
        latency_ms=values["latency_ms"],
        latency_jitter_ms=values["latency_jitter_ms"],
        timeout_seconds=values["timeout_seconds"],
        retry_after_seconds=int(values["retry_after_seconds"]),
        confirm_transfers=not args.submitted_transfers,
        merchant_fail_rate=values["merchant_fail_rate"],
        merchant_delay_ms=values["merchant_delay_ms"],
        faults=uniform_faults(
            error_rate=values["error_rate"],
            timeout_rate=values["timeout_rate"],
            rate_limit_rate=values["rate_limit_rate"],
            effect_then_fail_rate=values["effect_then_fail_rate"],
        ),
    )
    secrets = settings.payment_webhook_secrets
    return SandboxConfig(
        payment_api_key=settings.payment_gateway_api_key,
        wallet_api_key=settings.wallet_api_key,
        transfer_api_key=settings.transfer_api_key,
        webhook_url=args.webhook_url or settings.sandbox_webhook_url,
        webhook_secret=secrets[0] if secrets else None,
        nowpayments_api_key=settings.nowpayments_api_key,
        nowpayments_ipn_secret=settings.nowpayments_ipn_secret or None,
        merchant_events_secret=settings.order_events_webhook_secret or None,
        public_url=args.public_url,
        seed=args.seed,
        knobs=knobs,
    )


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        config = build_config(args, settings, os.environ)
    except (SettingsError, ValueError, msgspec.ValidationError) as exc:
        print(f"orders-service sandbox: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger(__name__).warning(
        "sandbox: an in-memory simulator of the payment gateway, wallet and transfer services, "
        "for development and tests only (ORDERS_MODE=dev stacks); never a production downstream"
    )
    if not config.webhook_url or not config.webhook_secret:
        logging.getLogger(__name__).warning(
            "webhooks off: set SANDBOX_WEBHOOK_URL and PAYMENT_WEBHOOK_SECRETS to send them"
        )
    uvicorn.run(
        create_sandbox_app(config),
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
        server_header=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m entrypoints.commands.sandbox [flags]``: the sandbox alone, without loading the
    other commands (benchmarks start it so)."""
    parser = argparse.ArgumentParser(prog="orders-service")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.handler(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
