"""Routes: upload a signature or photo, scan a parcel, finish a stop with its proof
(drivers on their own routes, and staff), and read an order's proofs (staff)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)

from lastmile.operations.pod import UploadKind
from lastmile.service.deps import CurrentUser, SessionDep, StaffUser
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import get_order
from lastmile.service.plans import service as plans_service
from lastmile.service.plans.models import Route
from lastmile.service.pod import service
from lastmile.service.pod.schemas import PodFileOut, ProofIn, ProofOut, ScanIn, ScanOut
from lastmile.service.pod.settings import PodSettings
from lastmile.service.pod.storage import FileStore, LocalFileStore, S3FileStore
from lastmile.service.tracking.router import RuntimeDep as TrackingRuntimeDep

router = APIRouter(tags=["proof of delivery"])


async def get_pod_settings(request: Request) -> PodSettings:
    settings: PodSettings | None = getattr(request.app.state, "pod_settings", None)
    if settings is None:
        settings = PodSettings()
        request.app.state.pod_settings = settings
    return settings


PodSettingsDep = Annotated[PodSettings, Depends(get_pod_settings)]


def get_store(request: Request, settings: PodSettingsDep) -> FileStore:
    """The file store (``app.state.pod_store``, made from the settings at first use)."""
    store: FileStore | None = getattr(request.app.state, "pod_store", None)
    if store is None:
        if settings.pod_storage == "s3":
            store = S3FileStore(
                endpoint_url=settings.pod_s3_endpoint_url,
                bucket=settings.pod_s3_bucket,
                access_key=settings.pod_s3_access_key_id,
                secret_key=settings.pod_s3_secret_access_key,
                region=settings.pod_s3_region,
            )
        else:
            store = LocalFileStore(Path(settings.pod_storage_dir))
        request.app.state.pod_store = store
    return store


def route_dep(route_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Route:
    return plans_service.get_route(session, principal=user, route_id=route_id)


def order_dep(order_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Order:
    return get_order(session, org_id=user.org_id, order_id=order_id)


StoreDep = Annotated[FileStore, Depends(get_store)]
RouteDep = Annotated[Route, Depends(route_dep)]
OrderDep = Annotated[Order, Depends(order_dep)]


@router.post(
    "/routes/{route_id}/pod/files", response_model=PodFileOut, status_code=status.HTTP_201_CREATED
)
def upload_file(
    route: RouteDep,
    user: CurrentUser,
    session: SessionDep,
    settings: PodSettingsDep,
    store: StoreDep,
    file: Annotated[UploadFile, File(description="A PNG, JPEG, WebP (or HEIC photo) image.")],
    kind: Annotated[UploadKind, Form(description="signature or photo.")],
    order_id: Annotated[uuid.UUID, Form(description="The order it proves.")],
) -> PodFileOut:
    """Store a signature or photo for an order of the route.

    The content decides the type (its first bytes), not the declared one; a
    file over the size limit, of another type, or declared as something it is
    not is refused (422 with the reason).
    """
    service.ensure_live(route)
    data = file.file.read(settings.pod_max_upload_bytes + 1)
    row = service.upload(
        session,
        route=route,
        principal=user,
        order_id=order_id,
        kind=kind,
        declared=file.content_type,
        data=data,
        store=store,
        settings=settings,
    )
    return PodFileOut.model_validate(row)


@router.post("/routes/{route_id}/pod/scan", response_model=ScanOut)
def scan_parcel(route: RouteDep, body: ScanIn, session: SessionDep) -> ScanOut:
    """Check one scanned parcel against the order: a wrong one is refused (422) with why."""
    return service.scan(
        session, route=route, order_id=body.order_id, barcode=body.barcode, scanned=body.scanned
    )


@router.post("/routes/{route_id}/pod", response_model=ProofOut)
def finish_stop(
    route: RouteDep,
    body: ProofIn,
    user: CurrentUser,
    session: SessionDep,
    settings: PodSettingsDep,
    runtime: TrackingRuntimeDep,
    background: BackgroundTasks,
) -> ProofOut:
    """Finish a stop with its proof: delivered, picked up, or failed with its reason.

    Stores the proof and the stop event together (the order moves through its
    lifecycle as with ``POST /routes/{route_id}/events``). Completed away from
    the stop (farther than the configured radius) or without a position, the
    proof is stored and flagged. A failed order is tried again on the next
    open day in the same local windows unless its reason rules it out
    (refused, wrong address, damaged) or it has failed too often.
    """
    service.ensure_live(route)
    recorded = service.record_proof(
        session, route=route, principal=user, body=body, settings=settings
    )
    if recorded.live:
        # Dashboards and the driver's other devices see the stop done at once.
        background.add_task(runtime.after_stop_events, route.org_id, recorded.live, route.id)
    return service.proof_out(recorded.proof, recorded.order_status)


@router.get("/orders/{order_id}/pod", response_model=list[ProofOut])
def order_proofs(order: OrderDep, session: SessionDep) -> list[ProofOut]:
    """Every proof recorded for the order, oldest first."""
    return [service.proof_out(p) for p in service.list_proofs(session, order=order)]


@router.get(
    "/orders/{order_id}/pod/file",
    response_class=Response,
    responses={200: {"content": {"image/*": {}}, "description": "The image."}},
)
def order_proof_file(
    order: OrderDep,
    session: SessionDep,
    store: StoreDep,
    file_id: Annotated[uuid.UUID, Query(description="The file (from the proof).")],
) -> Response:
    """A signature or photo of the order."""
    row, data = service.read_file(session, order=order, file_id=file_id, store=store)
    return Response(content=data, media_type=row.content_type)
