"""Request and response bodies of the HTTP API, with the validation rules users see as 422s."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Status = Literal["draft", "active", "paused", "completed"]
Exposures = Literal["first", "exclude"]


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


# Metric keys and event types: what a URL, a Prometheus label or a SQL identifier takes unquoted.
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
MAX_METRICS = 20
# Beyond this, a value is a bug in the caller (or an attack on the sums' precision), not revenue.
MAX_ABS_VALUE = 1e12


class MetricIn(BaseModel):
    """One metric (README, "Metrics"): a proportion or mean over events of one type, or a ratio of
    two mean metrics."""

    model_config = ConfigDict(extra="forbid")
    key: Key
    name: Text | None = Field(default=None, min_length=1, max_length=200, description="default: the key")
    kind: Literal["proportion", "mean", "ratio"]
    event_type: Key | None = Field(default=None, description="proportion, mean: the events it counts")
    role: Literal["primary", "secondary", "guardrail"] = "secondary"
    direction: Literal["increase", "decrease"] = "increase"
    cap: float | None = Field(
        default=None, gt=0, le=MAX_ABS_VALUE, allow_inf_nan=False, description="mean: per-user cap"
    )
    numerator: Key | None = Field(default=None, description="ratio: a mean metric's key")
    denominator: Key | None = Field(default=None, description="ratio: a mean metric's key")

    @model_validator(mode="after")
    def fields_of_its_kind(self) -> MetricIn:
        if self.kind == "ratio":
            if self.numerator is None or self.denominator is None:
                raise ValueError("a ratio metric needs numerator and denominator (keys of mean metrics)")
            if self.event_type is not None or self.cap is not None:
                raise ValueError("a ratio metric takes no event_type or cap (its parts have them)")
        else:
            if self.event_type is None:
                raise ValueError(f"a {self.kind} metric needs event_type")
            if self.numerator is not None or self.denominator is not None:
                raise ValueError("numerator and denominator belong to ratio metrics")
            if self.kind == "proportion" and self.cap is not None:
                raise ValueError("cap applies to mean metrics")
        return self

    def as_row(self) -> tuple[str, str, str, str, str, str, float | None, str, str]:
        """The core's metric tuple."""
        return (
            self.key,
            self.name or self.key,
            self.kind,
            self.event_type or "",
            self.role,
            self.direction,
            self.cap,
            self.numerator or "",
            self.denominator or "",
        )


def check_metrics(metrics: list[MetricIn]) -> list[MetricIn]:
    """The rules across one experiment's metrics; each message names the field."""
    if not 1 <= len(metrics) <= MAX_METRICS:
        raise ValueError(f"metrics: between 1 and {MAX_METRICS} metrics; got {len(metrics)}")
    kinds: dict[str, str] = {}
    for i, m in enumerate(metrics):
        if m.key in kinds:
            raise ValueError(f"metrics[{i}].key: metric keys must be unique; '{m.key}' repeats")
        kinds[m.key] = m.kind
    primaries = [m.key for m in metrics if m.role == "primary"]
    if len(primaries) != 1:
        raise ValueError(f"metrics: exactly one metric must have role 'primary'; found {len(primaries)}")
    for i, m in enumerate(metrics):
        for part in ("numerator", "denominator"):
            ref = getattr(m, part)
            if ref is not None and kinds.get(ref) != "mean":
                raise ValueError(f"metrics[{i}].{part}: '{ref}' is not a mean metric of this experiment")
    return metrics


class MetricsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metrics: list[MetricIn]

    @field_validator("metrics")
    @classmethod
    def check_all(cls, metrics: list[MetricIn]) -> list[MetricIn]:
        return check_metrics(metrics)


class AnalysisIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cuped: bool = Field(default=True, description="regression-adjust metrics whose users carry covariates")


MAX_DIMENSIONS = 5
MAX_ATTRIBUTE_BYTES = 64
# The buckets a breakdown adds to the values: a user's value may not take their names.
RESERVED_ATTRIBUTE_VALUES = frozenset({"(other)", "(none)"})


def attribute_value(value: object) -> str | None:
    """A dimension value as stored: a string of at most 64 UTF-8 bytes that is not a bucket's name;
    None for anything else (ignored, and counted by the caller)."""
    if not isinstance(value, str) or value in RESERVED_ATTRIBUTE_VALUES:
        return None
    try:
        encoded = _storable(value).encode()
    except ValueError:
        return None
    return value if len(encoded) <= MAX_ATTRIBUTE_BYTES else None


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=200)
    variants: list[VariantIn]
    metrics: list[MetricIn] | None = Field(
        default=None, description="default: one proportion metric, 'conversion', over conversion events"
    )
    exposures: Exposures = Field(
        default="first",
        description="a user assigned to a second variant: 'first' (the first assignment counts) or "
        "'exclude' (the user leaves every metric)",
    )
    analysis: AnalysisIn = Field(default_factory=AnalysisIn)
    dimensions: list[Key] = Field(
        default_factory=list,
        max_length=MAX_DIMENSIONS,
        description="attributes results can be broken down by (assignments carry their values)",
    )

    @field_validator("dimensions")
    @classmethod
    def check_dimensions(cls, dimensions: list[str]) -> list[str]:
        repeated = sorted({d for d in dimensions if dimensions.count(d) > 1})
        if repeated:
            raise ValueError(f"dimensions must be unique; '{repeated[0]}' repeats")
        return dimensions

    @field_validator("metrics")
    @classmethod
    def check_experiment_metrics(cls, metrics: list[MetricIn] | None) -> list[MetricIn] | None:
        return None if metrics is None else check_metrics(metrics)

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


class MetricOut(BaseModel):
    key: str
    name: str
    kind: Literal["proportion", "mean", "ratio"]
    role: Literal["primary", "secondary", "guardrail"]
    direction: Literal["increase", "decrease"]
    event_type: str | None = None
    cap: float | None = None
    numerator: str | None = None
    denominator: str | None = None


class ExperimentOut(BaseModel):
    id: str
    name: str
    status: Status
    created_at: str
    activated_at: str | None
    seq: int
    tenant: str | None = None
    variants: list[VariantOut]
    metrics: list[MetricOut]
    exposures: Exposures
    analysis: AnalysisIn
    dimensions: list[str] = Field(default_factory=list)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status


Covariate = Annotated[float, Field(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE, allow_inf_nan=False, strict=True)]


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Text = Field(min_length=1, max_length=256)
    variant_key: Text = Field(min_length=1, max_length=100)
    covariates: dict[Key, Covariate] = Field(
        default_factory=dict,
        max_length=MAX_METRICS,
        description="CUPED: the user's pre-exposure value per metric key (proportion or mean metrics)",
    )
    attributes: dict[Key, object] = Field(
        default_factory=dict,
        description="the user's value per dimension: strings of at most 64 bytes (others are ignored "
        "and counted in ignored_attributes); the first assignment fixes them",
    )


class AssignmentBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignments: list[AssignmentIn] = Field(min_length=1)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Text = Field(min_length=1, max_length=256)
    type: Key = Field(description="e.g. conversion, purchase, refund")
    value: float = Field(default=1.0, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE, allow_inf_nan=False, strict=True)
    event_id: Text | None = Field(default=None, min_length=1, max_length=256)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1)


class IngestOut(BaseModel):
    accepted: int
    duplicates: int


class AssignmentsOut(IngestOut):
    ignored_attributes: int = Field(
        default=0, description="attribute values dropped: not strings, over 64 bytes, or a bucket's name"
    )


class SubscribersOut(BaseModel):
    experiment_id: str
    subscribers: int


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    wsConnections: int
