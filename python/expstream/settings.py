"""All configuration, from environment variables (the README's table lists them)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    # Root's home is closed to the unprivileged user the embedded server runs as.
    if os.geteuid() == 0:
        return Path("/var/lib/expstream")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "expstream"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL to use; unset starts the embedded server.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        validation_alias="EXPSTREAM_DATA_DIR",
        description="Where the embedded PostgreSQL keeps its data.",
    )
    stream_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="RESULTS_STREAM_INTERVAL_SECONDS",
        description="Periodic snapshot interval for watched experiments.",
    )
    significance_level: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        validation_alias="RESULTS_SIGNIFICANCE_LEVEL",
        description="alpha: a variant is significant when its p-value is below it.",
    )
    push_min_interval_seconds: float = Field(
        default=0.2,
        ge=0,
        validation_alias=AliasChoices("RESULTS_PUSH_MIN_INTERVAL_SECONDS"),
        description="Pushes for one experiment are at least this far apart (coalescing).",
    )
    core_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        validation_alias="EXPSTREAM_CORE_THREADS",
        description="Worker threads (and database connections) of the C++ runtime.",
    )
    max_batch: int = Field(
        default=10_000,
        ge=1,
        validation_alias="EXPSTREAM_MAX_BATCH",
        description="Most records one ingest call may carry.",
    )
    web_dir: Path | None = Field(
        default=None,
        validation_alias="EXPSTREAM_WEB_DIR",
        description="Built dashboard to serve; defaults to the one bundled in the package.",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
