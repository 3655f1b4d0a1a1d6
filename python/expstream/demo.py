"""The demo: one experiment with a real effect and a traffic simulator writing into it."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable

from expstream.service import CoreService, StoreError

log = logging.getLogger("expstream.demo")

DEMO_NAME = "Demo: one-click checkout"
DEMO_VARIANTS = [("control", "Current checkout", True, 1.0), ("one_click", "One-click checkout", False, 1.0)]
# The treatment truly converts better, so the p-value falls as data arrives.
CONVERSION_RATES = {"control": 0.10, "one_click": 0.13}
TICK_SECONDS = 0.25
# While the database is away, batches are retried this much later, doubling up to the maximum.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


async def ensure_demo_experiment(service: CoreService) -> str:
    for experiment in await service.list_experiments():
        if experiment["name"] == DEMO_NAME:
            experiment_id = str(experiment["id"])
            break
    else:
        experiment_id = str((await service.create_experiment(DEMO_NAME, DEMO_VARIANTS))["id"])
    await service.set_status(experiment_id, "active", f"demo-{uuid.uuid4().hex}")
    return experiment_id


def _batch(
    rng: random.Random, size: int, first_user: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str | None]]]:
    assignments: list[tuple[str, str]] = []
    conversions: list[tuple[str, str | None]] = []
    for user in range(first_user, first_user + size):
        user_id = f"demo-{rng.getrandbits(48):012x}-{user}"
        key = rng.choice(list(CONVERSION_RATES))
        assignments.append((user_id, key))
        if rng.random() < CONVERSION_RATES[key]:
            conversions.append((user_id, f"{user_id}:purchase"))
    return assignments, conversions


def simulator(
    users_per_second: float, on_ready: Callable[[str], None], seed: int | None = None
) -> Callable[[CoreService], Awaitable[None]]:
    """A background task that assigns users and converts some of them, in small batches. A store
    error (the database away) is logged and retried with backoff; anything else is a bug and ends
    the task (the demo marks it fatal)."""

    async def run(service: CoreService) -> None:
        rng = random.Random(seed)
        experiment_id = await ensure_demo_experiment(service)
        on_ready(experiment_id)
        users = 0
        retry = RETRY_FIRST_SECONDS
        while True:
            size = max(1, round(users_per_second * TICK_SECONDS * rng.uniform(0.5, 1.5)))
            assignments, conversions = _batch(rng, size, users + 1)
            try:
                changed = (await service.add_assignments(experiment_id, assignments))["changed"]
                if conversions:
                    changed |= (await service.add_conversions(experiment_id, conversions))["changed"]
            except StoreError as exc:
                log.warning(
                    "demo traffic batch failed (%s: %s); retrying in %.1f s", type(exc).__name__, exc, retry
                )
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX_SECONDS)
                continue
            users += size
            retry = RETRY_FIRST_SECONDS
            if changed:
                service.core.mark_changed(experiment_id)
            await asyncio.sleep(TICK_SECONDS)

    return run
