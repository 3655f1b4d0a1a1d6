"""Background tasks are never silent: a failure is logged when it happens, not at shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from expstream import background
from expstream.service import CoreService

SERVICE = cast(CoreService, object())  # the tasks below never touch it


async def _fails(_service: CoreService) -> None:
    raise ValueError("simulated bug")


async def _runs(_service: CoreService) -> None:
    await asyncio.Event().wait()


def _run(tasks: list[background.BackgroundTask], caplog: pytest.LogCaptureFixture) -> list[int]:
    exits: list[int] = []

    async def scenario() -> None:
        running = background.start(tasks, SERVICE, exits.append)
        await asyncio.wait([running[0]])  # its done-callback (the report) ran before this returns
        # Reported while the others still run, before anyone stops them.
        assert any("failed" in r.getMessage() for r in caplog.records)
        assert not running[-1].done()
        await background.stop(running)

    with caplog.at_level(logging.INFO, logger="expstream.background"):
        asyncio.run(asyncio.wait_for(scenario(), 10))
    return exits


def test_a_failing_task_is_logged_at_once_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    exits = _run(
        [background.BackgroundTask("flaky", _fails), background.BackgroundTask("steady", _runs)], caplog
    )
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "background task flaky failed: ValueError: simulated bug"
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
    assert exits == []  # not essential: the server goes on


def test_an_essential_task_that_fails_stops_the_server_with_status_1(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exits = _run(
        [
            background.BackgroundTask("simulator", _fails, fatal=True),
            background.BackgroundTask("steady", _runs),
        ],
        caplog,
    )
    assert exits == [background.EXIT_BACKGROUND_FAILED]
    messages: list[Any] = [r.getMessage() for r in caplog.records]
    assert "stopping the server: background task simulator failed" in messages
