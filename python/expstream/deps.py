"""Annotated dependency aliases for routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from expstream.hub import Hub
from expstream.service import CoreService
from expstream.settings import Settings


def get_settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


def get_service(conn: HTTPConnection) -> CoreService:
    service: CoreService = conn.app.state.service
    return service


def get_hub(conn: HTTPConnection) -> Hub:
    hub: Hub = conn.app.state.hub
    return hub


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[CoreService, Depends(get_service)]
HubDep = Annotated[Hub, Depends(get_hub)]
