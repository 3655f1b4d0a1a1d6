"""All configuration, from environment variables (the README's table lists them)."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_data_dir() -> Path:
    # Root's home is closed to the unprivileged user the embedded server runs as.
    if os.geteuid() == 0:
        return Path("/var/lib/expstream")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "expstream"


# Set by `expstream serve --workers N` for its worker processes.
WORKERS_ENV = "EXPSTREAM_SERVE_WORKERS"


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
    stats_method: Literal["sequential", "fixed"] = Field(
        default="sequential",
        validation_alias="RESULTS_STATS_METHOD",
        description="sequential: safe to watch continuously (confidence sequences); fixed: the classic "
        "z-test, valid only when read once.",
    )
    sequential_tuning: float = Field(
        default=5000.0,
        gt=0,
        validation_alias="RESULTS_SEQUENTIAL_TUNING",
        description="N*: the total sample size at which the confidence sequence is tightest.",
    )
    correction: Literal["holm", "bh", "none"] = Field(
        default="holm",
        validation_alias="RESULTS_CORRECTION",
        description="Multiple-comparison correction over the family of primary and secondary metrics x "
        "treatments: holm (Holm-Bonferroni), bh (Benjamini-Hochberg) or none. Guardrails stay outside it.",
    )
    push_min_interval_seconds: float = Field(
        default=0.2,
        ge=0,
        validation_alias=AliasChoices("RESULTS_PUSH_MIN_INTERVAL_SECONDS"),
        description="Pushes for one experiment are at least this far apart (coalescing).",
    )
    node_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}",
        min_length=1,
        max_length=200,
        validation_alias="EXPSTREAM_NODE_ID",
        description="Names this server process among the others on the same database (default: host, "
        "pid and a random suffix; each uvicorn worker gets its own).",
    )
    node_heartbeat_seconds: float = Field(
        default=2.0,
        gt=0,
        validation_alias="EXPSTREAM_NODE_HEARTBEAT_SECONDS",
        description="How often each node publishes its subscriber counts; a node silent for 3 heartbeats "
        "stops being counted.",
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
    jwt_secret: SecretStr | None = Field(
        default=None,
        validation_alias="EXPSTREAM_JWT_SECRET",
        description="HS256 secret that signs and checks access tokens.",
    )
    insecure_no_auth: bool = Field(
        default=False,
        validation_alias="EXPSTREAM_INSECURE_NO_AUTH",
        description="Serve without authentication (development only; `serve --insecure-no-auth`).",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="EXPSTREAM_ALLOWED_ORIGINS",
        description="Extra browser Origins allowed to open WebSockets (comma-separated; * for any). "
        "Same-origin pages and clients that send no Origin are always allowed.",
    )
    ws_max_message_bytes: int = Field(
        default=4096,
        ge=64,
        validation_alias="EXPSTREAM_WS_MAX_MESSAGE_BYTES",
        description="A larger client message closes the connection with 1009.",
    )
    ws_rate_limit_messages: int = Field(
        default=10,
        ge=1,
        validation_alias="EXPSTREAM_WS_RATE_LIMIT_MESSAGES",
        description="More client messages than this within the window close the connection with 1008.",
    )
    ws_rate_limit_window_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="EXPSTREAM_WS_RATE_LIMIT_WINDOW_SECONDS",
        description="The rate-limit window.",
    )
    ws_max_connections_per_token: int = Field(
        default=50,
        ge=1,
        validation_alias="EXPSTREAM_WS_MAX_CONNECTIONS_PER_TOKEN",
        description="Open streams one token (its subject) may hold; past it, close 1013.",
    )
    ws_max_connections_per_address: int = Field(
        default=1000,
        ge=1,
        validation_alias="EXPSTREAM_WS_MAX_CONNECTIONS_PER_ADDRESS",
        description="Open streams one client address may hold; past it, close 1013.",
    )
    ws_auth_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias="EXPSTREAM_WS_AUTH_TIMEOUT_SECONDS",
        description="Without a token in the URL or cookie, the first message must authenticate within this.",
    )
    ws_send_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="EXPSTREAM_WS_SEND_TIMEOUT_SECONDS",
        description="A client that takes longer than this to accept one message is closed with 1013.",
    )
    ws_send_buffer_bytes: int = Field(
        default=128 * 1024,
        ge=4096,
        validation_alias="EXPSTREAM_WS_SEND_BUFFER_BYTES",
        description="Kernel send buffer per WebSocket (the kernel doubles it): bounds what a client "
        "that stops reading can pin before the send timeout closes it.",
    )
    http_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="EXPSTREAM_HTTP_HEADER_TIMEOUT_SECONDS",
        description="A request head (or WebSocket upgrade request) not complete in this time drops the "
        "connection (slowloris).",
    )
    ws_ping_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="EXPSTREAM_WS_PING_INTERVAL_SECONDS",
        description="Server protocol pings; a peer that does not answer within the timeout is dropped.",
    )
    ws_ping_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        validation_alias="EXPSTREAM_WS_PING_TIMEOUT_SECONDS",
        description="How long a ping may go unanswered.",
    )
    shutdown_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="EXPSTREAM_SHUTDOWN_TIMEOUT_SECONDS",
        description="On SIGTERM, how long closing streams (1001) and finishing requests may take.",
    )
    web_dir: Path | None = Field(
        default=None,
        validation_alias="EXPSTREAM_WEB_DIR",
        description="Built dashboard to serve; defaults to the one bundled in the package.",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="EXPSTREAM_PUBLIC_URL",
        description="Where people reach this server's dashboard (e.g. https://ab.example.com): links in "
        "Slack-formatted webhook messages. Unset: no link.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        validation_alias="EXPSTREAM_WEBHOOK_ALLOW_PRIVATE",
        description="Allow webhook URLs that resolve to loopback, private, link-local (cloud metadata) or "
        "other non-public addresses (development and tests only: it opens the server to SSRF).",
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias="EXPSTREAM_WEBHOOK_RETRY_BASE_SECONDS",
        description="A failed delivery is retried after a random delay up to base x 2^(attempts-1) "
        "(exponential backoff, full jitter).",
    )
    webhook_retry_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="EXPSTREAM_WEBHOOK_RETRY_MAX_SECONDS",
        description="The ceiling of that delay. Deliveries are retried for 24 h, then recorded as failed.",
    )
    webhook_lease_seconds: float = Field(
        default=30.0,
        ge=11,
        validation_alias="EXPSTREAM_WEBHOOK_LEASE_SECONDS",
        description="A sender holds a delivery this long (more than the 10 s request timeout); a sender "
        "that dies leaves it to another after this.",
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        validation_alias="EXPSTREAM_WEBHOOK_POLL_SECONDS",
        description="How often the sender looks for deliveries queued by other processes (its own "
        "process wakes it at once).",
    )

    @property
    def process_node_id(self) -> str:
        """node_id, made unique per process when `serve --workers N` runs several with one setting."""
        if os.environ.get(WORKERS_ENV) and "EXPSTREAM_NODE_ID" in os.environ:
            return f"{self.node_id}-{os.getpid()}"
        return self.node_id

    @property
    def node_ttl_seconds(self) -> float:
        """A node whose last heartbeat is older than this no longer counts."""
        return 3 * self.node_heartbeat_seconds

    @field_validator("jwt_secret")
    @classmethod
    def long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("EXPSTREAM_JWT_SECRET must be at least 32 bytes (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value
