"""Experiment-level authorization: may this principal use this experiment?"""

from __future__ import annotations

from expstream.auth import ForbiddenError, Principal, Scope
from expstream.service import CoreService, ExperimentNotFoundError


async def authorize(
    service: CoreService, principal: Principal, experiment_id: str, scope: Scope = "read"
) -> None:
    """Raises ForbiddenError or ExperimentNotFoundError. A token restricted to a list of experiments
    learns nothing about others: it is refused before anything is looked up."""
    if not principal.has_scope(scope) or (
        principal.experiments is not None and experiment_id not in principal.experiments
    ):
        raise ForbiddenError(f"this token has no {scope} access to experiment {experiment_id}")
    exists, tenant = await service.experiment_tenant(experiment_id)
    if not exists:
        raise ExperimentNotFoundError(f"experiment {experiment_id} not found")
    principal.require(experiment_id, tenant, scope)
