"""`expstream serve | demo`."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import uvicorn

from expstream.settings import Settings

# Set deliberately rather than inherited: no per-message deflate (memory per connection),
# a 64 KiB frame cap, and a 20 s keepalive ping.
UVICORN_WS_OPTIONS: dict[str, Any] = {
    "ws_per_message_deflate": False,
    "ws_max_size": 64 * 1024,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
}


def _serve(args: argparse.Namespace) -> int:
    if args.workers > 1:
        uvicorn.run("expstream.app:app", host=args.host, port=args.port, workers=args.workers, **UVICORN_WS_OPTIONS)
    else:
        from expstream.app import create_app

        uvicorn.run(create_app(), host=args.host, port=args.port, **UVICORN_WS_OPTIONS)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from expstream.app import create_app
    from expstream.demo import simulator

    settings = Settings(stream_interval_seconds=args.interval)
    app = create_app(settings)
    shown_host = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host

    def announce(experiment_id: str) -> None:
        base = f"http://{shown_host}:{args.port}"
        print(
            f"\nexpstream demo is running (database: {'DATABASE_URL' if settings.database_url else 'embedded'})\n"
            f"  dashboard:  {base}/results/{experiment_id}/\n"
            f"  all:        {base}/\n"
            f"  websocket:  ws://{shown_host}:{args.port}/api/v1/ws/experiments/{experiment_id}/results\n"
            f"  API docs:   {base}/docs\n",
            flush=True,
        )

    app.state.background_tasks.append(simulator(args.rate, announce))
    uvicorn.run(app, host=args.host, port=args.port, **UVICORN_WS_OPTIONS)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="expstream", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API and WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=_serve)
    demo = sub.add_parser("demo", help="serve on the embedded database with simulated traffic")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--rate", type=float, default=40.0, help="simulated users per second")
    demo.add_argument("--interval", type=float, default=5.0, help="periodic snapshot interval, seconds")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
