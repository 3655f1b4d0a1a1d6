"""What a webhook delivery sends: the body (JSON or Slack text), its signature and its headers."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

EVENT_TYPES = ("significance", "guardrail", "srm", "multiple_exposures", "status_changed")
TEST_EVENT = "test"  # `expstream webhook test`: never recorded as a transition


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """X-Expstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def headers(event: str, delivery_id: str, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "expstream-webhooks",
        "X-Expstream-Event": event,
        "X-Expstream-Delivery": delivery_id,
        "X-Expstream-Signature": signature(secret, timestamp, body),
    }


def body(fmt: str, payload_json: str, public_url: str | None) -> bytes:
    """json: the stored payload as is; slack: {"text": ...} built from it."""
    if fmt != "slack":
        return payload_json.encode()
    return json.dumps({"text": slack_text(json.loads(payload_json), public_url)}).encode()


def _percent(value: object) -> str | None:
    return f"{value * 100:+.1f} %" if isinstance(value, int | float) else None


def slack_text(payload: dict[str, Any], public_url: str | None) -> str:
    """One line a person reads: experiment, event and state, metric, variant, lift, dashboard link."""
    event = str(payload.get("event", ""))
    if event == TEST_EVENT:
        return "expstream: a test delivery. This webhook works."
    experiment = payload.get("experiment") or {}
    name = experiment.get("name") or experiment.get("id") or "an experiment"
    parts = [f"*{name}*: {event.replace('_', ' ')} {str(payload.get('state', '')).replace('_', ' ')}"]
    if payload.get("metric"):
        parts.append(f"metric {payload['metric']}")
    if payload.get("variant"):
        parts.append(f"variant {payload['variant']}")
    detail = payload.get("detail") or {}
    lift = _percent(detail.get("relative_lift"))
    if lift:
        parts.append(f"lift {lift}")
    text = ", ".join(parts)
    if public_url and experiment.get("id"):
        text += f" <{public_url.rstrip('/')}/results/{experiment['id']}/|Open the dashboard>"
    return text
