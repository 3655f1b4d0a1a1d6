"""Runs expstream exactly as `expstream serve` does (its uvicorn options, JSON logging, graceful
shutdown), with the levers given here changed. Used by bench/run.py for the lever configurations.

usage: python serve_lever.py --port P [--loop uvloop|asyncio] [--http httptools|h11]
       [--ws websockets-sansio|websockets|wsproto] [--deflate] [--no-access-log] [--levers a,b]
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--http", default="httptools")
    parser.add_argument("--ws", default="websockets-sansio")
    parser.add_argument("--deflate", action="store_true", help="permessage-deflate on")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--levers", default="", help="BENCH_LEVER: prebuilt,direct,gc,nogc")
    args = parser.parse_args()
    os.environ["BENCH_LEVER"] = args.levers
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

    import expstream_levers  # applies the class-level patches before anything is served
    import uvicorn

    from expstream import cli, logs
    from expstream.app import create_app
    from expstream.settings import Settings

    logs.configure()
    settings = Settings()
    if settings.jwt_secret is None and not settings.insecure_no_auth:
        print("serve_lever: set EXPSTREAM_JWT_SECRET (or EXPSTREAM_INSECURE_NO_AUTH=true)", file=sys.stderr)
        return 2
    app = expstream_levers.apply(create_app(settings))
    options = cli.uvicorn_options(settings)
    options.update(
        loop=args.loop,
        http=args.http,
        ws=args.ws,
        ws_per_message_deflate=args.deflate,
        access_log=not args.no_access_log,
    )
    config = uvicorn.Config(app, host=args.host, port=args.port, **options)
    cli.GracefulServer(config, app).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
