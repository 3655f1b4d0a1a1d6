"""Request and response bodies of the webhooks API and the alerts list."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from expstream.webhook_guard import UnsafeUrlError, parse
from expstream.webhook_messages import EVENT_TYPES

MAX_URL_CHARS = 2000
MAX_EXPERIMENTS = 100


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=MAX_URL_CHARS, description="http or https; a public address")
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))
    experiments: list[str] = Field(default=["*"], min_length=1, max_length=MAX_EXPERIMENTS)
    format: Literal["json", "slack"] = "json"

    @field_validator("url")
    @classmethod
    def http_url(cls, value: str) -> str:
        try:
            parse(value)  # the scheme and shape here; the addresses when the route resolves them
        except UnsafeUrlError as e:
            raise ValueError(str(e)) from None
        return value

    @field_validator("events")
    @classmethod
    def known_events(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}; one of {', '.join(EVENT_TYPES)}")
        return list(dict.fromkeys(value))

    @field_validator("experiments")
    @classmethod
    def star_or_ids(cls, value: list[str]) -> list[str]:
        if value == ["*"]:
            return value
        try:
            return list(dict.fromkeys(str(uuid.UUID(e)) for e in value))
        except ValueError:
            raise ValueError('experiments must be ["*"] or a list of experiment ids') from None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    experiments: list[str]
    format: str
    created_at: str


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown only in this response.")


class DeliveryOut(BaseModel):
    id: str
    event: str
    created_at: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_attempt_at: str | None
    status_code: int | None
    latency_ms: float | None
    error: str | None
    next_attempt_at: str


class AlertOut(BaseModel):
    id: int
    created_at: str
    type: str
    state: str
    metric: str | None
    variant: str | None
    detail: dict[str, Any]
