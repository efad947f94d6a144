"""Routes: /traffic (the organisation's learned speeds)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lastmile.service.deps import AdminUser, SessionDep, StaffUser
from lastmile.service.learning import service
from lastmile.service.learning.models import LearnedTraffic
from lastmile.service.learning.runtime import learning_settings, lifespan
from lastmile.service.learning.schemas import LearnedOut, LearnIn, LegErrorsOut, TrafficOut
from lastmile.service.learning.settings import LearningSettings
from lastmile.service.travel import ServiceTravel

router = APIRouter(prefix="/traffic", tags=["traffic"], lifespan=lifespan)


async def get_travel(request: Request) -> ServiceTravel:
    travel: ServiceTravel = request.app.state.travel_model
    return travel


TravelDep = Annotated[ServiceTravel, Depends(get_travel)]
LearningSettingsDep = Annotated[LearningSettings, Depends(learning_settings)]


def _errors(median: float | None, mean: float | None, rel: float | None) -> LegErrorsOut | None:
    if median is None or mean is None or rel is None:
        return None
    return LegErrorsOut(median_abs_s=median, mean_abs_s=mean, median_rel=rel)


def _out(row: LearnedTraffic) -> LearnedOut:
    out = LearnedOut.model_validate(
        {
            **{k: getattr(row, k) for k in LearnedOut.model_fields if hasattr(row, k)},
            "error_before": _errors(
                row.error_before_median_s, row.error_before_mean_s, row.error_before_rel
            ),
            "error_after": _errors(
                row.error_after_median_s, row.error_after_mean_s, row.error_after_rel
            ),
        }
    )
    return out


@router.get("", response_model=TrafficOut)
def read_traffic(
    user: StaffUser, session: SessionDep, travel: TravelDep, settings: LearningSettingsDep
) -> TrafficOut:
    """The organisation's learned traffic profile: whether plans and ETAs use it, and
    how its last fit went (legs, cells, error on held-out legs before and after)."""
    row = service.current(session, org_id=user.org_id)
    return TrafficOut(
        road_network=travel.on_roads,
        schedule_s=settings.learn_interval_s,
        learned=_out(row) if row is not None else None,
    )


@router.post("/learn", response_model=LearnedOut)
def learn_traffic(
    user: AdminUser,
    session: SessionDep,
    travel: TravelDep,
    settings: LearningSettingsDep,
    body: LearnIn | None = None,
) -> LearnedOut:
    """Fit the organisation's traffic profile from its trips now (admins). 409 when the
    service has no road network, or no leg between stops could be matched."""
    row = service.learn_now(
        session,
        principal=user,
        travel=travel,
        settings=settings,
        days=body.days if body is not None else None,
    )
    return _out(row)
