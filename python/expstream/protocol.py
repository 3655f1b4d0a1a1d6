"""The stream protocol's own vocabulary, one home for each: close codes and seq parsing."""

from __future__ import annotations

import enum


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server sends (README, "Protocol")."""

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down
    POLICY_VIOLATION = 1008  # bad origin, rate limit, malformed experiment id
    TOO_BIG = 1009  # a client message over EXPSTREAM_WS_MAX_MESSAGE_BYTES
    TRY_AGAIN_LATER = 1013  # connection caps, a client too slow to read, database away
    UNAUTHORIZED = 4401  # no, bad or expired token
    FORBIDDEN = 4403  # a valid token without access
    NOT_FOUND = 4404  # no such experiment


def parse_seq(text: str | None) -> int | None:
    """A resume point from a query string or Last-Event-ID: an integer, else none at all (the
    client then gets the current snapshot, which is always safe)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None
