"""`expstream serve | demo | token | verify`."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import re
import secrets
import sys
import uuid
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from uvicorn.config import STARTUP_FAILURE

from expstream import logs, webhook_cli
from expstream.auth import SCOPE_RANK, issue_token
from expstream.background import EXIT_BACKGROUND_FAILED, BackgroundTask
from expstream.http_protocol import HeaderDeadlineProtocol
from expstream.protocol import CloseCode
from expstream.settings import WORKERS_ENV, Settings

log = logging.getLogger("expstream")

UVICORN_MAX_MESSAGE_BYTES = 64 * 1024


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Set deliberately rather than inherited: no per-message deflate (memory per connection), a
    message cap of 64 KiB (or the message limit, when larger) ahead of our own limit, which closes
    with 1009 and says why, and our keepalive."""
    return {
        "ws_per_message_deflate": False,
        "ws_max_size": max(UVICORN_MAX_MESSAGE_BYTES, settings.ws_max_message_bytes),
        "ws_ping_interval": settings.ws_ping_interval_seconds,
        "ws_ping_timeout": settings.ws_ping_timeout_seconds,
        "log_config": logs.LOGGING_CONFIG,  # JSON lines, tokens redacted, in every worker too
        # A deadline for request heads (slowloris).
        "http": functools.partial(HeaderDeadlineProtocol, head_timeout=settings.http_header_timeout_seconds),
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }


class GracefulServer(uvicorn.Server):
    """On SIGTERM/SIGINT: stop accepting, close every stream with 1001 (uvicorn's own shutdown would
    say 1012), then let uvicorn finish in-flight requests, so acknowledged ingest is complete."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app
        self._closing = False
        self._closer: asyncio.Future[None] | None = None  # referenced, so it cannot be collected mid-run
        self.exit_code = 0
        app.state.request_exit = self.request_exit

    def request_exit(self, code: int) -> None:
        """From the event loop: stop as on SIGTERM (streams closed with 1001) and exit with code.
        Not through handle_exit: uvicorn re-raises a captured signal after shutdown, and the
        process would end by that signal instead of with code."""
        self.exit_code = code
        if self._closing:
            return
        self._closing = True
        self._start_closing(self._stop_serving)

    def handle_exit(self, sig: int, frame: Any) -> None:
        hub = getattr(self._app.state, "hub", None)
        if self._closing or hub is None or not self.started:
            super().handle_exit(sig, frame)
            return
        self._closing = True
        then = functools.partial(uvicorn.Server.handle_exit, self, sig, frame)
        # Signal handlers may interrupt the loop anywhere: hand the work over thread-safely.
        asyncio.get_event_loop().call_soon_threadsafe(self._start_closing, then)

    def _start_closing(self, then: Callable[[], None]) -> None:
        self._closer = asyncio.ensure_future(self._close_streams(then))

    def _stop_serving(self) -> None:
        self.should_exit = True

    async def _close_streams(self, then: Callable[[], None]) -> None:
        try:
            hub = getattr(self._app.state, "hub", None)
            if self.started and hub is not None:
                for server in self.servers:
                    server.close()  # stop accepting
                settings: Settings = self._app.state.settings
                await hub.close_all(
                    CloseCode.GOING_AWAY, "server shutting down", settings.shutdown_timeout_seconds
                )
        finally:
            then()


def run(app: FastAPI, settings: Settings, host: str, port: int) -> int:
    """Serves until stopped; returns the process's exit status."""
    config = uvicorn.Config(app, host=host, port=port, **uvicorn_options(settings))
    server = GracefulServer(config, app)
    server.run()
    if server.exit_code == 0 and not server.started:
        return STARTUP_FAILURE  # port taken, lifespan failed: uvicorn logged why
    return server.exit_code


def _serve(args: argparse.Namespace) -> int:
    from expstream.app import create_app

    settings = Settings(insecure_no_auth=True) if args.insecure_no_auth else Settings()
    if settings.insecure_no_auth:
        log.warning(
            "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this port can read and write "
            "every experiment. Never run like this outside your own machine."
        )
    elif settings.jwt_secret is None:
        print(
            "expstream serve: EXPSTREAM_JWT_SECRET is not set. Set it (e.g. `export EXPSTREAM_JWT_SECRET="
            "$(openssl rand -hex 32)`) and mint tokens with `expstream token`, or pass --insecure-no-auth "
            "for local development.",
            file=sys.stderr,
        )
        return 2
    if args.workers > 1:
        # uvicorn imports the app once per worker; it reads the same environment.
        os.environ[WORKERS_ENV] = str(args.workers)
        opts = uvicorn_options(settings)
        uvicorn.run("expstream.app:app", host=args.host, port=args.port, workers=args.workers, **opts)
        return 0
    return run(create_app(settings), settings, args.host, args.port)


def _demo(args: argparse.Namespace) -> int:
    from expstream.app import create_app
    from expstream.demo import simulator

    base = Settings()
    secret = base.jwt_secret.get_secret_value() if base.jwt_secret else secrets.token_hex(32)
    settings = Settings(stream_interval_seconds=args.interval, jwt_secret=SecretStr(secret))
    app = create_app(settings)
    shown_host = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host
    reader = issue_token(
        secret, subject="demo-viewer", scope="read", experiments=["*"], ttl_seconds=7 * 86400
    )
    writer = issue_token(secret, subject="demo-writer", scope="write", experiments=["*"], ttl_seconds=86400)

    def announce(experiment_id: str) -> None:
        url = f"http://{shown_host}:{args.port}"
        print(
            f"\nexpstream demo is running (database: {'DATABASE_URL' if settings.database_url else 'embedded'})\n"
            f"  dashboard:  {url}/results/{experiment_id}/?token={reader}\n"
            f"  all:        {url}/?token={reader}\n"
            f"  websocket:  ws://{shown_host}:{args.port}/api/v1/ws/experiments/{experiment_id}/results"
            f"?token={reader}\n"
            f"  API docs:   {url}/docs\n"
            f"  write token (for curl -H 'Authorization: Bearer …'): {writer}\n",
            flush=True,
        )

    app.state.background_tasks.append(
        BackgroundTask("demo simulator", simulator(args.rate, announce), fatal=True)
    )
    code = run(app, settings, args.host, args.port)
    if code == EXIT_BACKGROUND_FAILED:
        print(
            "expstream demo: stopped because the traffic simulator failed; the log above says why",
            file=sys.stderr,
        )
    return code


def _experiment_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"an experiment id is a UUID; got {text!r}") from None


_TTL = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> float:
    match = _TTL.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"TTL like 3600, 90s, 30m, 1h or 7d; got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _token(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.jwt_secret is None:
        print("expstream token: set EXPSTREAM_JWT_SECRET to the server's secret", file=sys.stderr)
        return 2
    experiments = ["*"] if "*" in args.experiment else args.experiment
    print(
        issue_token(
            settings.jwt_secret.get_secret_value(),
            subject=args.subject,
            scope=args.scope,
            experiments=experiments,
            ttl_seconds=args.ttl,
            tenant=args.tenant,
        )
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    """Recounts the running totals from the raw tables; exit 1 on any difference, 2 on an error."""
    from expstream import _core
    from expstream.embedded_db import EmbeddedPostgres

    settings = Settings()
    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)  # shares the server if `serve` runs it now
        url = embedded.start()
    try:
        checked, drift = _core.verify_totals(url, args.experiment_id)
    except _core.NotFound:
        print(f"expstream verify: experiment {args.experiment_id} not found", file=sys.stderr)
        return 2
    except (_core.DatabaseUnavailable, RuntimeError) as exc:
        print(f"expstream verify: {exc}", file=sys.stderr)
        return 2
    finally:
        if embedded is not None:
            embedded.stop()
    for experiment, variant, total, stored, recounted in drift:
        where = f" variant {variant}" if variant else ""
        print(f"DRIFT experiment {experiment}{where}: {total} stored {stored}, recounted {recounted}")
    scope = f"experiment {args.experiment_id}" if args.experiment_id else "all experiments"
    print(f"verified {checked} variants of {scope}: {len(drift)} with drift")
    return 1 if drift else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="expstream", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API and WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--insecure-no-auth", action="store_true", help="development only: no authentication")
    serve.set_defaults(func=_serve)
    demo = sub.add_parser("demo", help="serve on the embedded database with simulated traffic")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--rate", type=float, default=40.0, help="simulated users per second")
    demo.add_argument("--interval", type=float, default=5.0, help="periodic snapshot interval, seconds")
    demo.set_defaults(func=_demo)
    token = sub.add_parser("token", help="print an access token signed with EXPSTREAM_JWT_SECRET")
    token.add_argument(
        "--experiment", action="append", required=True, help="an experiment id, or '*' (repeatable)"
    )
    token.add_argument("--scope", choices=sorted(SCOPE_RANK, key=SCOPE_RANK.__getitem__), default="read")
    token.add_argument("--ttl", type=parse_ttl, default=3600.0, help="lifetime: 3600, 90s, 30m, 1h, 7d")
    token.add_argument("--tenant", default=None)
    token.add_argument("--subject", default="cli")
    token.set_defaults(func=_token)
    verify = sub.add_parser("verify", help="recount running totals from the raw tables; exit 1 on any drift")
    verify.add_argument(
        "experiment_id", nargs="?", default=None, type=_experiment_id, help="one experiment (default: all)"
    )
    verify.set_defaults(func=_verify)
    webhook_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logs.configure()
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
