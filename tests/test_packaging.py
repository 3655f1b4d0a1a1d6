"""`pip install .` gives the whole product: the dashboard is built into the wheel (or the build
says npm is needed), the sdist carries it, and a package without it says how to get it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from expstream.app import create_app
from expstream.settings import Settings
from expstream.web import find_dashboard, mount_dashboard

REPO = Path(__file__).resolve().parent.parent
BUILT_DASHBOARD = REPO / "frontend" / "out" / "index.html"


def get(app: FastAPI, path: str) -> httpx.Response:
    """One request to the app in-process (its lifespan does not run: no database needed)."""

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path)

    return asyncio.run(request())


def test_without_a_dashboard_each_page_says_how_to_get_it() -> None:
    app = FastAPI()
    mount_dashboard(app, None)
    for path in ("/", "/results/4a1c9c53-3c6e-4d0b-9d7b-0a2b7f3c1e11/"):
        page = get(app, path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "without its dashboard" in page.text and "npm" in page.text and "/docs" in page.text


def test_web_dir_setting_serves_that_dashboard(tmp_path: Path) -> None:
    (tmp_path / "results" / "_").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<p>custom home</p>")
    (tmp_path / "results" / "_" / "index.html").write_text("<p>custom results</p>")
    app = create_app(Settings(web_dir=tmp_path, insecure_no_auth=True))
    assert "custom home" in get(app, "/").text
    assert "custom results" in get(app, "/results/4a1c9c53-3c6e-4d0b-9d7b-0a2b7f3c1e11/").text


def test_a_web_dir_without_a_dashboard_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert find_dashboard(tmp_path) != tmp_path
    assert any("holds no built dashboard" in r.getMessage() for r in caplog.records)


def test_the_wheel_build_without_npm_names_npm(tmp_path: Path) -> None:
    cmake = shutil.which("cmake")
    assert cmake is not None
    done = subprocess.run(
        [cmake, f"-DFRONTEND_DIR={tmp_path}", "-P", str(REPO / "cmake" / "build_dashboard.cmake")],
        env={"PATH": str(tmp_path / "no-such-bin")},  # nothing to find: no npm
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "not built and npm was not found" in " ".join(done.stderr.split())


def test_the_wheel_build_leaves_a_built_dashboard_alone(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.html").write_text("built")
    cmake = shutil.which("cmake")
    assert cmake is not None
    done = subprocess.run(
        [cmake, f"-DFRONTEND_DIR={tmp_path}", "-P", str(REPO / "cmake" / "build_dashboard.cmake")],
        env={"PATH": str(tmp_path / "no-such-bin")},  # npm is not needed, so not looked for
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_sdist_carries_the_built_dashboard(tmp_path: Path) -> None:
    assert BUILT_DASHBOARD.is_file(), "make install builds the dashboard before the tests run"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from scikit_build_core.build import build_sdist; print(build_sdist(sys.argv[1]))",
            str(tmp_path),
        ],
        cwd=REPO,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (sdist,) = tmp_path.glob("expstream-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    top = names[0].split("/")[0]
    assert f"{top}/frontend/out/index.html" in names
    assert f"{top}/frontend/out/results/_/index.html" in names
    assert not [n for n in names if "/node_modules/" in n]
