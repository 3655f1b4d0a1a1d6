"""The demo: one experiment with a real effect on revenue, and a traffic simulator writing into it."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from expstream.service import AssignmentRow, CoreService, EventRow, MetricRow, StoreError

log = logging.getLogger("expstream.demo")

DEMO_NAME = "Demo: one-click checkout"
DEMO_VARIANTS = [("control", "Current checkout", True, 1.0), ("one_click", "One-click checkout", False, 1.0)]
# (key, name, kind, event_type, role, direction, cap, numerator, denominator)
DEMO_METRICS: list[MetricRow] = [
    ("revenue", "Revenue per user", "mean", "purchase", "primary", "increase", 400.0, "", ""),
    ("orders", "Orders per user", "mean", "order", "secondary", "increase", None, "", ""),
    ("aov", "Average order value", "ratio", "", "secondary", "increase", None, "revenue", "orders"),
    ("conversion", "Purchase conversion", "proportion", "purchase", "secondary", "increase", None, "", ""),
    ("refunds", "Refund rate", "proportion", "refund", "guardrail", "decrease", None, "", ""),
]


@dataclass(frozen=True)
class Behaviour:
    """How simulated users of one variant buy: the treatment converts and spends a little more."""

    buy: float  # chance a user buys at all
    more: float  # chance of each further order
    basket: float  # mean order value
    refund: float  # chance an order is refunded


# Who the users are: the dimensions the dashboard breaks results down by.
DEMO_DIMENSIONS = ["country", "device"]
COUNTRIES = {"US": 0.34, "DE": 0.14, "GB": 0.12, "FR": 0.1, "IN": 0.1, "BR": 0.08, "JP": 0.07, "CA": 0.05}
DEVICES = {"mobile": 0.58, "desktop": 0.36, "tablet": 0.06}

BEHAVIOUR = {
    "control": Behaviour(buy=0.10, more=0.25, basket=55.0, refund=0.05),
    "one_click": Behaviour(buy=0.12, more=0.30, basket=58.0, refund=0.05),
}
TICK_SECONDS = 0.25
# While the database is away, batches are retried this much later, doubling up to the maximum.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


async def ensure_demo_experiment(service: CoreService) -> str:
    """The demo experiment (created on first start, with today's metrics), active."""
    keys = [m[0] for m in DEMO_METRICS]
    for experiment in await service.list_experiments():
        if (
            experiment["name"] == DEMO_NAME
            and [m["key"] for m in experiment["metrics"]] == keys
            and experiment["dimensions"] == DEMO_DIMENSIONS
        ):
            experiment_id = str(experiment["id"])
            break
    else:
        created = await service.create_experiment(
            DEMO_NAME, DEMO_VARIANTS, metrics=DEMO_METRICS, dimensions=DEMO_DIMENSIONS
        )
        experiment_id = str(created["id"])
    await service.set_status(experiment_id, "active", f"demo-{uuid.uuid4().hex}")
    return experiment_id


Batch = tuple[list[AssignmentRow], list[EventRow]]


def _batch(rng: random.Random, size: int, first_user: int) -> Batch:
    assignments: list[AssignmentRow] = []
    events: list[EventRow] = []
    for user in range(first_user, first_user + size):
        user_id = f"demo-{rng.getrandbits(48):012x}-{user}"
        key = rng.choice(list(BEHAVIOUR))
        # Loyal users spent more before the experiment and buy more during it: their past spend is
        # the covariate CUPED adjusts revenue with.
        loyalty = rng.lognormvariate(0, 0.7)
        past_spend = round(loyalty * 25 * rng.uniform(0.6, 1.4), 2)
        attributes = [
            ("country", rng.choices(list(COUNTRIES), weights=list(COUNTRIES.values()))[0]),
            ("device", rng.choices(list(DEVICES), weights=list(DEVICES.values()))[0]),
        ]
        assignments.append((user_id, key, [("revenue", past_spend)], attributes))
        behaviour = BEHAVIOUR[key]
        if rng.random() >= min(0.9, behaviour.buy * loyalty):
            continue
        order = 0
        while order == 0 or rng.random() < behaviour.more:
            order += 1
            amount = round(rng.lognormvariate(0, 0.6) * behaviour.basket / 1.2, 2)
            events.append((user_id, "purchase", amount, f"{user_id}:purchase:{order}"))
            events.append((user_id, "order", 1.0, f"{user_id}:order:{order}"))
            if rng.random() < behaviour.refund:
                events.append((user_id, "refund", 1.0, f"{user_id}:refund:{order}"))
    return assignments, events


def simulator(
    users_per_second: float, on_ready: Callable[[str], None], seed: int | None = None
) -> Callable[[CoreService], Awaitable[None]]:
    """A background task that assigns users and has some of them buy, in small batches. A store
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
            assignments, events = _batch(rng, size, users + 1)
            try:
                await service.add_assignments(experiment_id, assignments)
                if events:
                    await service.add_events(experiment_id, events)
            except StoreError as exc:
                log.warning(
                    "demo traffic batch failed (%s: %s); retrying in %.1f s", type(exc).__name__, exc, retry
                )
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX_SECONDS)
                continue
            users += size
            retry = RETRY_FIRST_SECONDS
            await asyncio.sleep(TICK_SECONDS)

    return run
