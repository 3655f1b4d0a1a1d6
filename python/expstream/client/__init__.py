"""Python clients of the HTTP API: Client (blocking) and AsyncClient (asyncio), with batched ingest.

Ingest retries are safe: every event carries an event_id (a uuid4 unless given) and a user's first
assignment wins, so a batch sent twice counts once. A batch that still fails after its retries is
raised, never dropped: the server refused it (4xx): it is in the error's `unsent`; it did not get
through (5xx, connection): it stays queued and the next flush sends it again.
"""

from expstream.client._async import AsyncClient
from expstream.client._base import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    Batch,
    ConflictError,
    Experiment,
    ExpstreamError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ValidationError,
)
from expstream.client._sync import Client

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "AsyncClient",
    "AuthenticationError",
    "Batch",
    "Client",
    "ConflictError",
    "Experiment",
    "ExpstreamError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServerError",
    "ValidationError",
]
