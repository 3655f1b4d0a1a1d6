"""Webhook parts without a server: the SSRF guard's verdicts, the sender's status classes, backoff
and outage polling, the Slack text, the settings."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from expstream import _core
from expstream.settings import Settings
from expstream.webhook_guard import refusal
from expstream.webhook_messages import slack_text
from expstream.webhook_sender import WebhookSender, backoff_seconds, classify_status
from test_webhooks import FAST


def test_the_guard_names_each_kind_of_non_public_address() -> None:
    cases = {
        "169.254.169.254": "link-local", "127.0.0.1": "loopback", "10.0.0.1": "private", "0.0.0.0": "unspecified",
        "224.0.0.1": "multicast", "::1": "loopback", "fe80::1": "link-local", "fd12::1": "private",
        "::ffff:169.254.169.254": "link-local", "2002:7f00:1::": "loopback", "100.64.0.1": "not globally routable",
        "240.0.0.1": "reserved",
    }  # fmt: skip
    for address, why in cases.items():
        assert refusal(ipaddress.ip_address(address)) == why, address
    assert refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("2606:4700::1111")) is None


def test_the_sender_classifies_statuses_and_backs_off_with_full_jitter() -> None:
    assert [classify_status(s) for s in (200, 204, 301, 400, 404, 408, 410, 429, 500, 503)] == [
        "delivered", "delivered", "failed", "failed", "failed", "retry", "failed", "retry", "retry", "retry"
    ]  # fmt: skip
    assert backoff_seconds(1, 5, 3600, rng=lambda: 0.5) == 2.5
    assert backoff_seconds(4, 5, 3600, rng=lambda: 1.0) == 40
    assert backoff_seconds(40, 5, 3600, rng=lambda: 1.0) == 3600  # the ceiling
    assert backoff_seconds(3, 5, 3600, rng=lambda: 0.0) == 0


def test_slack_text_without_a_public_url_has_no_link() -> None:
    payload = {"event": "significance", "state": "significant", "experiment": {"id": "e1", "name": "Checkout"},
               "metric": "orders", "variant": "b", "detail": {"relative_lift": 0.123}}  # fmt: skip
    assert (
        slack_text(payload, None)
        == "*Checkout*: significance significant, metric orders, variant b, lift +12.3 %"
    )


def test_every_webhook_setting_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST.items() | {("EXPSTREAM_WEBHOOK_LEASE_SECONDS", "12")}:
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.webhook_allow_private is True
    assert (settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds) == (0.2, 1.0)
    assert (settings.webhook_poll_seconds, settings.webhook_lease_seconds) == (0.5, 12.0)
    assert settings.public_url == "https://ab.example.com"
    monkeypatch.setenv("EXPSTREAM_WEBHOOK_LEASE_SECONDS", "5")  # not above the 10 s request timeout
    with pytest.raises(ValueError, match="greater than or equal to 11"):
        Settings()


class _DownStore:
    """A WebhookStore whose database is away."""

    def claim(self, *_args: object) -> list[object]:
        raise _core.DatabaseUnavailable("connection refused")


def test_the_sender_polls_less_often_while_the_database_is_away() -> None:
    settings = Settings(EXPSTREAM_WEBHOOK_POLL_SECONDS=2)  # type: ignore[call-arg]
    sender = WebhookSender(_DownStore(), settings, "node")  # type: ignore[arg-type]

    async def fail(times: int) -> list[float]:
        async with httpx.AsyncClient() as client:
            waits = []
            for _ in range(times):
                await sender._claim_and_send(client)
                waits.append(sender._poll_seconds())
            return waits

    assert asyncio.run(fail(6)) == [4, 8, 16, 30, 30, 30]
