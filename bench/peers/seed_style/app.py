"""seed-style peer: the pure-Python design expstream replaced, as a baseline.

A FastAPI ConnectionManager keeps an asyncio.Lock-protected dict of experiment -> set of
WebSockets. Every change runs the aggregate SQL for the snapshot (asyncpg), builds the dict in
Python, and loops over the subscribers awaiting ``send_json`` one by one (so the JSON is encoded
again for every subscriber). Same tables and same wire JSON as expstream; the experiment rows are
created by the bench runner.

Run: DATABASE_URL=postgresql://... uvicorn app:app --app-dir bench/peers/seed_style
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import uuid
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

ALPHA = 0.05

SNAPSHOT_HEAD = """
SELECT status, seq, coalesce(floor(extract(epoch FROM now() - activated_at) / 86400), 0)::bigint
FROM experiments WHERE id = $1::uuid
"""
SNAPSHOT_ROWS = """
SELECT v.key, v.name, v.is_control, count(a.user_id), count(a.user_id) FILTER (WHERE c.user_id IS NOT NULL)
FROM variants v
LEFT JOIN assignments a ON a.experiment_id = v.experiment_id AND a.variant_id = v.id
LEFT JOIN (SELECT DISTINCT user_id FROM events WHERE experiment_id = $1::uuid AND type = 'conversion') c
  ON c.user_id = a.user_id
WHERE v.experiment_id = $1::uuid
GROUP BY v.id ORDER BY v.position
"""


def p_value(n1: int, c1: int, n2: int, c2: int) -> float | None:
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (c1 + c2) / (n1 + n2)
    if not 0.0 < pooled < 1.0:
        return None
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se <= 0:
        return None
    z = (c2 / n2 - c1 / n1) / se
    return min(1.0, max(0.0, math.erfc(abs(z) / math.sqrt(2.0))))


class ConnectionManager:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.active: dict[str, set[WebSocket]] = {}

    async def connect(self, experiment_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        async with self._lock:
            self.active.setdefault(experiment_id, set()).add(websocket)

    async def disconnect(self, experiment_id: str, websocket: WebSocket) -> None:
        async with self._lock:
            conns = self.active.get(experiment_id)
            if conns is not None:
                conns.discard(websocket)
                if not conns:
                    del self.active[experiment_id]

    async def broadcast(self, experiment_id: str, message: dict[str, Any]) -> None:
        async with self._lock:
            targets = list(self.active.get(experiment_id, ()))
        dead = []
        for websocket in targets:
            try:
                await websocket.send_json(message)
            except Exception:  # noqa: BLE001 -- the seed design this peer reproduces
                dead.append(websocket)
        for websocket in dead:
            await self.disconnect(experiment_id, websocket)


manager = ConnectionManager()
pool: asyncpg.Pool | None = None


async def compute_snapshot(experiment_id: str) -> dict[str, Any] | None:
    assert pool is not None
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow(SNAPSHOT_HEAD, experiment_id)
        if head is None:
            return None
        rows = await conn.fetch(SNAPSHOT_ROWS, experiment_id)
    control = next((r for r in rows if r[2]), None)
    control_rate = control[4] / control[3] if control is not None and control[3] > 0 else 0.0
    variants = []
    significant = False
    for key, name, is_control, n, c in rows:
        rate = c / n if n > 0 else 0.0
        lift: float | None = None
        p: float | None = None
        if control is not None and key == control[0]:
            lift = 0.0
        elif control is not None:
            lift = (rate - control_rate) / control_rate if control_rate > 0 else None
            p = p_value(control[3], control[4], n, c)
            significant = significant or (p is not None and p < ALPHA)
        variants.append(
            {
                "key": key,
                "name": name,
                "participant_count": n,
                "conversion_count": c,
                "conversion_rate": rate,
                "relative_lift": lift,
                "p_value": p,
                "is_control": is_control,
            }
        )
    return {
        "event": "results_update",
        "experiment_id": experiment_id,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "status": head[0],
        "variants": variants,
        "total_participants": sum(v["participant_count"] for v in variants),
        "days_running": head[2],
        "is_significant": significant,
        "seq": head[1],
    }


@asynccontextmanager
async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
    global pool
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=4)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


class Assignment(BaseModel):
    user_id: str
    variant_key: str


class AssignmentBatch(BaseModel):
    assignments: list[Assignment]


@app.post("/api/v1/experiments/{experiment_id}/assignments")
async def add_assignments(experiment_id: uuid.UUID, body: AssignmentBatch) -> dict[str, int]:
    eid = str(experiment_id)
    assert pool is not None
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT status FROM experiments WHERE id = $1::uuid FOR UPDATE", eid) is None:
            raise HTTPException(404, "experiment not found")
        result = await conn.execute(
            "INSERT INTO assignments (experiment_id, user_id, variant_id) "
            "SELECT $1::uuid, x.u, v.id FROM unnest($2::text[], $3::text[]) AS x(u, k) "
            "JOIN variants v ON v.experiment_id = $1::uuid AND v.key = x.k "
            "ON CONFLICT (experiment_id, user_id) DO NOTHING",
            eid,
            [a.user_id for a in body.assignments],
            [a.variant_key for a in body.assignments],
        )
        accepted = int(result.split()[-1])
        if accepted:
            await conn.execute("UPDATE experiments SET seq = seq + 1 WHERE id = $1::uuid", eid)
    if accepted:
        snapshot = await compute_snapshot(eid)
        if snapshot is not None:
            await manager.broadcast(eid, snapshot)
    return {"accepted": accepted, "duplicates": len(body.assignments) - accepted}


@app.websocket("/api/v1/ws/experiments/{experiment_id}/results")
async def results_stream(websocket: WebSocket, experiment_id: str) -> None:
    await manager.connect(experiment_id, websocket)
    try:
        snapshot = await compute_snapshot(experiment_id)
        if snapshot is not None:
            await websocket.send_json(snapshot)
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        await manager.disconnect(experiment_id, websocket)
