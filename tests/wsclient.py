"""A small synchronous WebSocket test client on top of websockets.sync."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

TIMEOUT = 15.0


def open_stream(
    base: str, experiment_id: str, token: str | None = "", query: str = "", **kwargs: Any
) -> ClientConnection:
    """token "" (default): an admin token for all experiments; None: no token at all."""
    from helpers import token as make_token

    params = [p for p in (query,) if p]
    if token is not None:
        params.append(f"token={token or make_token('admin')}")
    suffix = ("?" + "&".join(params)) if params else ""
    return connect(
        f"{base}/api/v1/ws/experiments/{experiment_id}/results{suffix}", open_timeout=TIMEOUT, **kwargs
    )


def recv_json(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def recv_until(
    ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Reads until a message matches; returns it and everything read before it."""
    seen: list[dict[str, Any]] = []
    while True:
        message = recv_json(ws, timeout)
        if predicate(message):
            return message, seen
        seen.append(message)


def participants(snapshot: dict[str, Any]) -> int:
    return int(snapshot["total_participants"])
