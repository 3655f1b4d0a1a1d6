"""expstream: live A/B-experiment results streamed to browsers over WebSocket."""

from expstream._core import normal_sf, snapshot_json, two_proportion_p_value
from expstream.app import create_app
from expstream.client import AsyncClient, Client
from expstream.settings import Settings

__all__ = [
    "AsyncClient",
    "Client",
    "Settings",
    "create_app",
    "normal_sf",
    "snapshot_json",
    "two_proportion_p_value",
]
__version__ = "0.1.0"
