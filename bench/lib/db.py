"""The bench's PostgreSQL database: psql calls, creation and migration, experiments made with SQL."""

from __future__ import annotations

import subprocess
import urllib.parse

VARIANTS = [("control", "Control", True), ("green", "Green button", False), ("blue", "Blue button", False)]


class Db:
    def __init__(self, url: str) -> None:
        self.url = url
        u = urllib.parse.urlparse(url)
        self.name = u.path.lstrip("/") or "expstream_bench"
        self.admin = u._replace(path="/postgres").geturl()

    def psql(self, sql: str, url: str | None = None, timeout: float = 1800) -> list[list[str]]:
        out = subprocess.run(
            ["psql", url or self.url, "-X", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-c", sql],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}\n{sql[:300]}")
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def ensure(self, fresh: bool = False) -> None:
        if fresh:
            self.psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', url=self.admin)
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.name}'", url=self.admin)
        if not exists:
            self.psql(f'CREATE DATABASE "{self.name}"', url=self.admin)
        from expstream import _core

        core = _core.Service(self.url, threads=1, tick_seconds=3600.0)
        try:
            core.migrate()
        finally:
            core.stop()

    def create_experiment(self, name: str, status: str = "active") -> str:
        """An experiment as POST /experiments makes one without `metrics`: three variants and the
        default metric, conversion (without a metric, conversions would move no total and push nothing)."""
        rows = self.psql(
            "WITH e AS (INSERT INTO experiments (name, status, activated_at) "
            f"VALUES ('{name}', '{status}', now()) RETURNING id), "
            "v AS (INSERT INTO variants (experiment_id, position, key, name, is_control) "
            "SELECT e.id, x.p, x.k, x.n, x.c FROM e, (VALUES "
            + ", ".join(f"({i}, '{k}', '{n}', {str(c).lower()})" for i, (k, n, c) in enumerate(VARIANTS))
            + ") AS x(p, k, n, c)), "
            "m AS (INSERT INTO metrics (experiment_id, position, key, name, kind, event_type, role, direction) "
            "SELECT e.id, 0, 'conversion', 'Conversion', 'proportion', 'conversion', 'primary', 'increase' FROM e) "
            "SELECT id FROM e"
        )
        return rows[0][0]

    def backend_pids(self) -> list[int]:
        rows = self.psql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(r[0]) for r in rows]
