"""Dimension breakdowns streamed beside the snapshots (issue 15).

After each snapshot of an experiment, one breakdown per dimension its subscribers on this node
asked for: computed in the core (GIL released), put in each such subscriber's outbox, newest wins.
Snapshots that arrive while one is computed coalesce into one more round, so breakdowns follow the
snapshots' throttle and never queue up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from expstream import _core
from expstream.service import InvalidInputError, StoreError

if TYPE_CHECKING:
    from expstream.hub import Hub, Subscriber

log = logging.getLogger("expstream.breakdowns")


class BreakdownFeed:
    def __init__(self, compute: Callable[[str, str], Awaitable[str]], hub: Hub) -> None:
        self._compute = compute
        self._hub = hub
        self._again: dict[tuple[str, str], bool] = {}  # being computed -> another round wanted
        self._tasks: set[asyncio.Task[None]] = set()

    def on_snapshot(self, experiment_id: str, targets: list[Subscriber]) -> None:
        wanted = {s.dimensions[experiment_id] for s in targets if experiment_id in s.dimensions}
        for dimension in wanted:
            key = (experiment_id, dimension)
            if key in self._again:
                self._again[key] = True
                continue
            self._again[key] = False
            task = asyncio.create_task(self._feed(key), name=f"breakdown {experiment_id} by {dimension}")
            self._tasks.add(task)
            task.add_done_callback(self._ended)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _feed(self, key: tuple[str, str]) -> None:
        experiment_id, dimension = key
        try:
            while True:
                self._again[key] = False
                payload, refused = await self._breakdown(experiment_id, dimension)
                for sub in self._hub.watching(experiment_id):
                    if sub.dimensions.get(experiment_id) != dimension:
                        continue
                    if refused:  # no such dimension: say so once, and stop trying
                        self._hub.set_dimension(sub, experiment_id, None)
                        sub.outbox.put_control(payload)
                    else:
                        sub.outbox.put_breakdown(experiment_id, payload)
                if refused or not self._again.get(key):
                    return
        finally:
            self._again.pop(key, None)

    async def _breakdown(self, experiment_id: str, dimension: str) -> tuple[str, bool]:
        """(payload, refused): the breakdown, or the error its subscribers hear instead."""
        try:
            return await self._compute(experiment_id, dimension), False
        except InvalidInputError as exc:
            return _core.error_json("invalid_dimension", experiment_id, str(exc)), True
        except StoreError as exc:
            log.warning("breakdown of %s by %s failed: %s", experiment_id, dimension, exc)
            message = "the breakdown is temporarily unavailable; it follows the next update"
            return _core.error_json("results_unavailable", experiment_id, message), False

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("%s failed: %s: %s", task.get_name(), type(error).__name__, error, exc_info=error)
