"""An echo endpoint on exactly the WebSocket stack `expstream serve` runs: uvicorn with the options
expstream.cli.uvicorn_options() sets (no per-message deflate, a 64 KiB frame/message cap, the same
keepalive), and Starlette's WebSocket as the app sees it. Autobahn's fuzzingclient expects an echo
server; the results against this endpoint are the protocol layer's (uvicorn + websockets' sans-I/O
implementation), separated from what expstream's own handler does with messages.

    .venv/bin/python conformance/echo_app.py --port 9001
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from expstream.cli import uvicorn_options
from expstream.settings import Settings


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            elif message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        return


app = Starlette(routes=[WebSocketRoute("/", echo)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()
    options = uvicorn_options(Settings(insecure_no_auth=True))
    options["log_config"] = None
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", **options)


if __name__ == "__main__":
    main()
