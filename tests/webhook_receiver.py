"""A real HTTP endpoint for webhook tests: records every request; can answer any status, hold a
request until the test releases it, or be down (nothing listening on its port)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from expstream.embedded_db import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: bool = False  # the response went out

    @property
    def delivery(self) -> str:
        return self.headers["x-expstream-delivery"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    status: Callable[[Received], int] = lambda _r: 200
    hold: threading.Event | None = None  # set: answer; unset: keep the request waiting
    hold_limit: float = 9.0  # under the sender's 10 s timeout
    seen: list[Received] = field(default_factory=list)


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.requests: list[Received] = []
        self.behaviour = Behaviour()
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                receiver._record(received)
                behaviour = receiver.behaviour
                if behaviour.hold is not None:
                    behaviour.hold.wait(behaviour.hold_limit)
                self.send_response(behaviour.status(received))
                self.send_header("Content-Length", "0")
                self.end_headers()
                received.answered = True
                receiver._record(None)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: connections to the port are refused until start() again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _record(self, received: Received | None) -> None:
        with self._changed:
            if received is not None:
                self.requests.append(received)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 60) -> list[Received]:
        """Blocks until predicate(requests so far) holds (an event, not a sleep)."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.requests), timeout):
                summary = [(r.headers.get("x-expstream-event"), r.body[:120]) for r in self.requests]
                raise AssertionError(f"receiver: condition not met within {timeout} s; got {summary}")
            return list(self.requests)

    def events(self, event: str) -> list[Received]:
        with self._changed:
            return [r for r in self.requests if r.headers.get("x-expstream-event") == event]
