"""Serves the built dashboard (a Next.js static export) on the API's own port."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger("expstream.web")

_BUNDLED = Path(__file__).parent / "web"
_CHECKOUT = Path.cwd() / "frontend" / "out"

NOT_BUILT_PAGE = """<!doctype html><meta charset="utf-8"><title>expstream: no dashboard</title>
<h1>expstream is running, without its dashboard</h1>
<p>This installation holds no built dashboard. To get it, either</p>
<ul>
<li>install from a source checkout with Node.js &ge; 20 and npm available: <code>pip install .</code>
builds the dashboard into the package (or run <code>make demo</code>);</li>
<li>or build it yourself (<code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>) and point
<code>EXPSTREAM_WEB_DIR</code> at <code>frontend/out</code>.</li>
</ul>
<p>The API works without it: <a href="/docs">/docs</a>.</p>"""


def find_dashboard(configured: Path | None) -> Path | None:
    if configured is not None and not (configured / "index.html").is_file():
        log.error(
            "EXPSTREAM_WEB_DIR=%s holds no built dashboard (no index.html); looking elsewhere", configured
        )
    for candidate in (configured, _BUNDLED, _CHECKOUT):
        if candidate is not None and (candidate / "index.html").is_file():
            return candidate
    return None


def mount_dashboard(app: FastAPI, root: Path | None) -> None:
    """Serves root (a built dashboard), or, when there is none, a page that says how to get it."""
    if root is None:
        log.warning("no built dashboard found; / answers with how to get one")

        @app.get("/", include_in_schema=False)
        @app.get("/results/{experiment_id}", include_in_schema=False)
        @app.get("/results/{experiment_id}/", include_in_schema=False)
        async def not_built() -> HTMLResponse:
            return HTMLResponse(NOT_BUILT_PAGE)

        return

    # The export holds one placeholder page for every experiment; it reads the id from the URL.
    results_page = root / "results" / "_" / "index.html"

    @app.get("/results/{experiment_id}", include_in_schema=False)
    @app.get("/results/{experiment_id}/", include_in_schema=False)
    async def results(experiment_id: str) -> FileResponse:
        return FileResponse(results_page)

    app.mount("/", StaticFiles(directory=root, html=True), name="dashboard")
