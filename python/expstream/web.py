"""Serves the built dashboard (a Next.js static export) on the API's own port."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

_BUNDLED = Path(__file__).parent / "web"
_CHECKOUT = Path.cwd() / "frontend" / "out"

_NOT_BUILT = """<!doctype html><title>expstream</title>
<p>The dashboard is not built. Run <code>make demo</code> (or <code>npm run build</code> in frontend/),
or read the API at <a href="/docs">/docs</a>.</p>"""


def find_dashboard(configured: Path | None) -> Path | None:
    for candidate in (configured, _BUNDLED, _CHECKOUT):
        if candidate is not None and (candidate / "index.html").is_file():
            return candidate
    return None


def mount_dashboard(app: FastAPI, configured: Path | None) -> None:
    root = find_dashboard(configured)
    if root is None:

        @app.get("/", include_in_schema=False)
        async def not_built() -> HTMLResponse:
            return HTMLResponse(_NOT_BUILT)

        return

    # The export holds one placeholder page for every experiment; it reads the id from the URL.
    results_page = root / "results" / "_" / "index.html"

    @app.get("/results/{experiment_id}", include_in_schema=False)
    @app.get("/results/{experiment_id}/", include_in_schema=False)
    async def results(experiment_id: str) -> FileResponse:
        return FileResponse(results_page)

    app.mount("/", StaticFiles(directory=root, html=True), name="dashboard")
