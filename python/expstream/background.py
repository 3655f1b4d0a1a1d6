"""Background tasks of a running server (e.g. the demo's traffic simulator), never silent.

A task that raises is logged at once, at error level with its traceback, not at shutdown; one
marked fatal also stops the server with a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from expstream.service import CoreService

log = logging.getLogger("expstream.background")

EXIT_BACKGROUND_FAILED = 1


@dataclass(frozen=True, slots=True)
class BackgroundTask:
    name: str
    run: Callable[[CoreService], Awaitable[None]]
    fatal: bool = False  # its failure ends the process


def start(
    tasks: list[BackgroundTask], service: CoreService, request_exit: Callable[[int], None] | None
) -> list[asyncio.Task[None]]:
    """Starts each task; request_exit(code) stops the server (None: nothing can, e.g. bare uvicorn)."""
    started = []
    for spec in tasks:
        task = asyncio.create_task(_as_coroutine(spec.run(service)), name=spec.name)
        task.add_done_callback(functools.partial(_ended, spec=spec, request_exit=request_exit))
        started.append(task)
    return started


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancels and awaits them; their failures were logged when they happened."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable


def _ended(
    task: asyncio.Task[None], spec: BackgroundTask, request_exit: Callable[[int], None] | None
) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        log.info("background task %s ended", spec.name)
        return
    log.error("background task %s failed: %s: %s", spec.name, type(error).__name__, error, exc_info=error)
    if spec.fatal:
        if request_exit is None:
            log.error("background task %s was essential, but nothing can stop this server", spec.name)
            return
        log.error("stopping the server: background task %s failed", spec.name)
        request_exit(EXIT_BACKGROUND_FAILED)
