"""The demo: one experiment with a real effect and a traffic simulator writing into it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from expstream.service import CoreService

log = logging.getLogger("expstream.demo")

DEMO_NAME = "Demo: one-click checkout"
DEMO_VARIANTS = [("control", "Current checkout", True, 1.0), ("one_click", "One-click checkout", False, 1.0)]
# The treatment truly converts better, so the p-value falls as data arrives.
CONVERSION_RATES = {"control": 0.10, "one_click": 0.13}


async def ensure_demo_experiment(service: CoreService) -> str:
    for experiment in await service.list_experiments():
        if experiment["name"] == DEMO_NAME:
            experiment_id = str(experiment["id"])
            break
    else:
        experiment_id = str((await service.create_experiment(DEMO_NAME, DEMO_VARIANTS))["id"])
    await service.set_status(experiment_id, "active")
    return experiment_id


def simulator(
    users_per_second: float, on_ready: Callable[[str], None], seed: int | None = None
) -> Callable[[CoreService], Awaitable[None]]:
    """A background task that assigns users and converts some of them, in small batches."""

    async def run(service: CoreService) -> None:
        rng = random.Random(seed)
        experiment_id = await ensure_demo_experiment(service)
        on_ready(experiment_id)
        tick = 0.25
        user = 0
        while True:
            batch = max(1, round(users_per_second * tick * rng.uniform(0.5, 1.5)))
            assignments: list[tuple[str, str]] = []
            conversions: list[tuple[str, str | None]] = []
            for _ in range(batch):
                user += 1
                user_id = f"demo-{rng.getrandbits(48):012x}-{user}"
                key = rng.choice(list(CONVERSION_RATES))
                assignments.append((user_id, key))
                if rng.random() < CONVERSION_RATES[key]:
                    conversions.append((user_id, f"{user_id}:purchase"))
            try:
                changed = (await service.add_assignments(experiment_id, assignments))["changed"]
                if conversions:
                    changed |= (await service.add_conversions(experiment_id, conversions))["changed"]
                if changed:
                    service.core.mark_changed(experiment_id)
            except Exception as exc:  # the database may be briefly away; keep simulating
                log.warning("demo traffic batch failed: %s", exc)
            await asyncio.sleep(tick)

    return run
