"""Broadcast to many clients, and a client that never reads must not delay the rest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets

from helpers import RunningServer, bearer, new_experiment, raw_upgrade, run_server, token, wide_experiment


@pytest.fixture(scope="module")
def fast_server(server_env: dict[str, str]) -> Iterator[RunningServer]:
    """No push throttle: every ingest becomes its own snapshot, the harshest case for a slow reader."""
    with run_server({**server_env, "RESULTS_PUSH_MIN_INTERVAL_SECONDS": "0"}) as running:
        yield running


def test_200_concurrent_clients_all_receive_the_broadcast(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = new_experiment(client)["id"]
    url = f"{server.ws}/api/v1/ws/experiments/{eid}/results"

    async def watcher(connected: asyncio.Barrier) -> int:
        # One token each: a single token may hold only EXPSTREAM_WS_MAX_CONNECTIONS_PER_TOKEN streams.
        async with websockets.connect(f"{url}?token={token()}", open_timeout=30, ping_interval=None) as ws:
            json.loads(await ws.recv())  # initial snapshot
            await connected.wait()
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message.get("event") == "results_update" and message["total_participants"] == 1:
                    return int(message["seq"])

    async def main() -> list[int]:
        connected = asyncio.Barrier(201)
        tasks = [asyncio.create_task(watcher(connected)) for _ in range(200)]
        await connected.wait()  # all 200 hold their initial snapshot
        async with httpx.AsyncClient(base_url=server.http, headers=bearer()) as http:
            response = await http.post(
                f"/api/v1/experiments/{eid}/assignments",
                json={"assignments": [{"user_id": "u1", "variant_key": "control"}]},
            )
            assert response.status_code == 200
        return await asyncio.gather(*tasks)

    seqs = asyncio.run(main())
    assert len(seqs) == 200
    assert len(set(seqs)) == 1  # one snapshot, the same for everyone


def test_a_client_that_never_reads_does_not_delay_the_others(fast_server: RunningServer) -> None:
    server = fast_server
    with httpx.Client(base_url=server.http, timeout=30, headers=bearer()) as client:
        _never_reading_client_scenario(server, client)


def _never_reading_client_scenario(server: RunningServer, client: httpx.Client) -> None:
    eid = wide_experiment(client)
    path = f"/api/v1/ws/experiments/{eid}/results?token={token()}"
    stalled = raw_upgrade(server.port, path, rcvbuf=4096)
    rounds = 200

    async def main() -> list[int]:
        async with (
            websockets.connect(f"{server.ws}{path}", ping_interval=None, max_size=None) as a,
            websockets.connect(f"{server.ws}{path}", ping_interval=None, max_size=None) as b,
        ):
            await a.recv()
            await b.recv()
            seen = []
            async with httpx.AsyncClient(base_url=server.http, headers=bearer()) as http:
                for i in range(rounds):
                    response = await http.post(
                        f"/api/v1/experiments/{eid}/assignments",
                        json={"assignments": [{"user_id": f"u{i}", "variant_key": "control"}]},
                    )
                    assert response.status_code == 200
                    # Both watchers see this round's numbers, however stuck the stalled one is.
                    for ws in (a, b):
                        while True:
                            snap = json.loads(await asyncio.wait_for(ws.recv(), 30))
                            if snap.get("total_participants") == i + 1:
                                break
                    seen.append(i + 1)
            return seen

    try:
        assert asyncio.run(main()) == list(range(1, rounds + 1))
        # 200 snapshots of ~30 KB were due to the stalled client; its socket holds far less.
        assert len(json.dumps(client.get(f"/api/v1/experiments/{eid}/results").json())) > 20_000
    finally:
        stalled.close()
