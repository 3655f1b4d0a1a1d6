"""py-websockets peer: the `websockets` library's own server and its broadcast().

Every subscriber gets the snapshot bytes on connect; `GET /trigger` (answered from
process_request, before any handshake) broadcasts the same text to every open connection.
Same WebSocket settings as `expstream serve`: no compression, 64 KiB max message, ping 20 s/20 s.
Runs on uvloop, like expstream's default.

usage: python server.py --port P --payload FILE
"""

from __future__ import annotations

import argparse
import sys

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--payload", required=True)
    args = parser.parse_args()
    with open(args.payload, encoding="utf-8") as f:  # noqa: ASYNC230 -- once, before serving
        payload = f.read()

    async def handler(ws: ServerConnection) -> None:
        await ws.send(payload)
        async for _ in ws:  # keep reading: that is how a gone client is noticed
            pass

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/trigger"):
            broadcast(server.connections, payload)
            return connection.respond(200, "ok\n")
        return None

    server = await serve(
        handler,
        args.host,
        args.port,
        process_request=process_request,
        compression=None,
        max_size=64 * 1024,
        ping_interval=20,
        ping_timeout=20,
        backlog=4096,
    )
    print(f"py-websockets ready on {args.host}:{args.port}", file=sys.stderr, flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())
