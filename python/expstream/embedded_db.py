"""An embedded PostgreSQL: the system's postgresql binaries run by the app in its own data directory.

PostgreSQL refuses to run as root, so when we are root the server runs as an unprivileged user
(`postgres` if it exists, else `nobody`) that owns the data directory.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

log = logging.getLogger("expstream.embedded_db")

SUPERUSER = "postgres"
DATABASE = "expstream"


class EmbeddedPostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl: $EXPSTREAM_PG_BINDIR, Debian's layout, or PATH."""
    override = os.environ.get("EXPSTREAM_PG_BINDIR")
    if override:
        return Path(override)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True
    )
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found: install them (Debian/Ubuntu: apt-get install postgresql) "
        "or set DATABASE_URL to a running server"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run_as_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise EmbeddedPostgresError("running as root and no unprivileged user (postgres or nobody) exists")


class EmbeddedPostgres:
    """Starts (initialising on first use) and stops a PostgreSQL server in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.pgdata = self.data_dir / "pgdata"
        self.logfile = self.data_dir / "postgresql.log"
        self.port = port
        self.bindir = find_bindir()
        self.user = _run_as_user()
        self._owned = False

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}?connect_timeout=5"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        proc: subprocess.CompletedProcess[str] = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C.UTF-8", "PGTZ": "UTC"},
            **kwargs,  # type: ignore[call-overload]
        )
        if check and proc.returncode != 0:
            raise EmbeddedPostgresError(
                f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}{self._log_tail()}"
            )
        return proc

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.logfile.read_text(errors="replace").splitlines()[-15:]
            return "\npostgresql.log:\n" + "\n".join(lines)
        return ""

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            os.chown(self.data_dir, self.user.pw_uid, self.user.pw_gid)
            # The server's user must be able to reach the directory through its parents.
            for parent in self.data_dir.resolve().parents:
                if not os.stat(parent).st_mode & 0o001:
                    raise EmbeddedPostgresError(
                        f"{parent} is closed to user {self.user.pw_name}; choose EXPSTREAM_DATA_DIR elsewhere"
                    )

    def _running_port(self) -> int | None:
        """The port of a server already running on this data directory, if any."""
        if self._run("pg_ctl", "-D", str(self.pgdata), "status", check=False).returncode != 0:
            return None
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def start(self) -> str:
        self._prepare_dir()
        fresh = not (self.pgdata / "PG_VERSION").exists()
        if fresh:
            log.info("initialising embedded PostgreSQL in %s", self.pgdata)
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            )
        running = self._running_port()
        if running is not None:
            self.port = running  # another process of ours started it; share, don't own
        else:
            if self.port is None:
                self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c TimeZone=UTC"
            )
            self._run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.logfile),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
            self._owned = True
        exists = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",
        )
        if exists.stdout.strip() != "1":
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, DATABASE)
        log.info("embedded PostgreSQL ready on 127.0.0.1:%d", self.port)
        return self.url

    def stop(self) -> None:
        if self._owned:
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop", check=False)
            self._owned = False

    def kill(self) -> None:
        """Stops immediately (tests of outages); start() brings it back on the same port."""
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "stop", check=False)
        self._owned = False


def main(argv: list[str] | None = None) -> int:
    """`python -m expstream.embedded_db start|stop --data-dir D [--port P]`: a server for tests and CI."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m expstream.embedded_db")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    pg = EmbeddedPostgres(args.data_dir, port=args.port)
    if args.action == "start":
        print(pg.start())
    else:
        pg._owned = True  # stop what an earlier `start` left running
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
