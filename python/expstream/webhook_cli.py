"""`expstream webhook test <id>`: queue a test delivery, send it, print how it went."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

from expstream.settings import Settings

DEFAULT_TIMEOUT_SECONDS = 30.0


def _webhook_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a webhook id is a UUID; got {text!r}") from None


def describe(row: dict[str, Any] | None) -> str:
    if row is None:
        return "the delivery is gone (the webhook was deleted)"
    status = f"HTTP {row['status_code']}" if row["status_code"] is not None else "no response"
    latency = f", {row['latency_ms']:.0f} ms" if row["latency_ms"] is not None else ""
    error = f": {row['error']}" if row["error"] else ""
    if row["last_attempt_at"] is None:
        return f"delivery {row['id']}: still pending (queued behind earlier deliveries of this webhook?)"
    return (
        f"delivery {row['id']}: {row['state']} after {row['attempts']} attempt(s), {status}{latency}{error}"
    )


def _test(args: argparse.Namespace) -> int:
    from expstream import _core
    from expstream.embedded_db import EmbeddedPostgres
    from expstream.webhook_sender import WebhookSender

    settings = Settings()
    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)  # shares the server if `serve` runs it now
        url = embedded.start()
    try:
        store = _core.WebhookStore(url, pool_size=1)
        delivery_id = store.enqueue_test(args.webhook_id)
        sender = WebhookSender(store, settings, "cli")
        row = asyncio.run(sender.run_until_settled(delivery_id, args.timeout))
    except _core.NotFound:
        print(f"expstream webhook test: webhook {args.webhook_id} not found", file=sys.stderr)
        return 2
    except (_core.DatabaseUnavailable, RuntimeError) as exc:
        print(f"expstream webhook test: {exc}", file=sys.stderr)
        return 2
    finally:
        if embedded is not None:
            embedded.stop()
    print(describe(row))
    return 0 if row is not None and row["state"] == "delivered" else 1


def add_parser(sub: Any) -> None:
    webhook = sub.add_parser("webhook", help="webhook subscriptions")
    actions = webhook.add_subparsers(dest="action", required=True)
    test = actions.add_parser(
        "test", help="send a test delivery and print the outcome; exit 1 unless delivered"
    )
    test.add_argument("webhook_id", type=_webhook_id)
    test.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds to wait")
    test.set_defaults(func=_test)
