"""The C++ load generator (bench/tools/loadgen.cpp) as a child process: JSON lines out, commands in."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

from lib.settings import LOADGEN, LOADGEN_CPU, WORK, WorkloadBroken, pin

SNAPSHOT_PREFIX = '{"event":"results_update"'


class Loadgen:
    def __init__(self, args: Sequence[object], label: str) -> None:
        self.label = label
        self.stderr_path = WORK / f"loadgen-{label}.log"
        self.cmd = pin(LOADGEN_CPU) + [str(LOADGEN)] + [str(a) for a in args]
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.stderr_path, "wb"),
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkloadBroken(
                    f"{self.label}: no '{event}' from the load generator within {timeout:.0f} s"
                )
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(5)
                raise WorkloadBroken(
                    f"{self.label}: load generator exited ({self.proc.returncode}) before '{event}'; "
                    f"see {self.stderr_path}"
                )
            msg = json.loads(line)
            if msg.get("event") == event:
                return msg

    def send(self, command: str) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()

    def close(self, timeout: float = 120) -> int:
        self.send("close")
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)


def ms(v: Any) -> float | None:
    return None if v is None else float(v) * 1000
