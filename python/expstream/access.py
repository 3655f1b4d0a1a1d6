"""Experiment-level authorization: may this principal use this experiment?"""

from __future__ import annotations

from expstream.auth import ForbiddenError, Principal, Scope
from expstream.protocol import CloseCode
from expstream.service import CoreService, ExperimentNotFoundError, StoreError


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


async def stream_refusal(
    service: CoreService, principal: Principal, experiment_id: str
) -> tuple[CloseCode, str, str] | None:
    """None when the principal may stream the experiment; else why not, as a stream says it:
    (close code, error code, message)."""
    try:
        await authorize(service, principal, experiment_id)
    except ForbiddenError as exc:
        return CloseCode.FORBIDDEN, "forbidden", str(exc)
    except ExperimentNotFoundError:
        return CloseCode.NOT_FOUND, "experiment_not_found", "experiment not found"
    except StoreError:
        # Access cannot be checked while the database is away: no subscription, try again later.
        return (
            CloseCode.TRY_AGAIN_LATER,
            "results_unavailable",
            "results are temporarily unavailable; try again later",
        )
    return None
