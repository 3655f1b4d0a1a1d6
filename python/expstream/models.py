"""Request and response bodies of the HTTP API, with the validation rules users see as 422s."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

Status = Literal["draft", "active", "paused", "completed"]


def _storable(text: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates: refuse them here (422), not there (500).
    if "\x00" in text:
        raise ValueError("must not contain the NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return text


Text = Annotated[str, AfterValidator(_storable)]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Text = Field(min_length=1, max_length=100)
    name: Text = Field(min_length=1, max_length=200)
    is_control: bool = False
    weight: float = Field(default=1.0, gt=0, le=1e6, description="Relative share of traffic (for SRM checks)")


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=200)
    variants: list[VariantIn]

    @field_validator("variants")
    @classmethod
    def check_variants(cls, variants: list[VariantIn]) -> list[VariantIn]:
        if len(variants) < 2:
            raise ValueError("an experiment needs at least two variants")
        controls = sum(v.is_control for v in variants)
        if controls != 1:
            raise ValueError(f"exactly one variant must be the control (is_control true); found {controls}")
        seen: set[str] = set()
        for v in variants:
            if v.key in seen:
                raise ValueError(f"variant keys must be unique; '{v.key}' repeats")
            seen.add(v.key)
        return variants


class VariantOut(BaseModel):
    key: str
    name: str
    is_control: bool
    weight: float = 1.0


class ExperimentOut(BaseModel):
    id: str
    name: str
    status: Status
    created_at: str
    activated_at: str | None
    seq: int
    tenant: str | None = None
    variants: list[VariantOut]


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Text = Field(min_length=1, max_length=256)
    variant_key: Text = Field(min_length=1, max_length=100)


class AssignmentBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignments: list[AssignmentIn] = Field(min_length=1)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Text = Field(min_length=1, max_length=256)
    type: Literal["conversion"]
    event_id: Text | None = Field(default=None, min_length=1, max_length=256)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1)


class IngestOut(BaseModel):
    accepted: int
    duplicates: int


class SubscribersOut(BaseModel):
    experiment_id: str
    subscribers: int


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    wsConnections: int
