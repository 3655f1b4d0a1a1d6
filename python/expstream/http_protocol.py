"""uvicorn's HTTP protocol with a deadline for the request head.

uvicorn arms its keep-alive timer only after a response, so a client that sends half a request
line and then nothing (slowloris) holds a connection and a file descriptor for ever; a thousand
of them exhaust the open-files limit. Here every request head must be complete within
EXPSTREAM_HTTP_HEADER_TIMEOUT_SECONDS of the connection opening (or of the previous request's
first byte on a kept-alive connection), or the connection is dropped. uvicorn builds protocols
itself: `expstream serve` hands it functools.partial(HeaderDeadlineProtocol, head_timeout=…), which
also pickles into `--workers` processes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeaderDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._cancel_head_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self._head_timeout, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        self.transport.abort()
