"""Proof of delivery: uploads, scans, and finishing a stop with its proof.

Finishing a stop stores the :class:`Proof` and the stop event in one
transaction, the event going through the tracking service (which moves the
order through its lifecycle and the route's progress), so a stop is never
done without its proof nor proved without being done. A failed attempt gets
its re-attempt decision there too
(:func:`lastmile.service.tracking.stop_events.reschedule_failed`, the same as
for a failure reported as a stop event): retried, the order goes back to
pending with its windows moved to the new day, ready for that day's plan.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lastmile.domain import Location, OrderKind
from lastmile.operations import OrderStatus
from lastmile.operations.pod import (
    FailureReason,
    UploadKind,
    check_position,
    check_scan,
    check_scans,
    check_upload,
)
from lastmile.operations.progress import StopEventKind
from lastmile.service.auth.principal import Principal
from lastmile.service.db import utcnow
from lastmile.service.errors import Conflict, FieldError, NotFound, Unprocessable
from lastmile.service.events import publish
from lastmile.service.orders.models import Order
from lastmile.service.plans.models import Route, Visit
from lastmile.service.pod.models import PodFile, Proof
from lastmile.service.pod.schemas import ProofIn, ProofOut, ScanOut
from lastmile.service.pod.settings import PodSettings
from lastmile.service.pod.storage import FileStore
from lastmile.service.tracking import access, stop_events
from lastmile.service.tracking.schemas import StopEventIn

_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/heic": ".heic"}


def _order_on(session: Session, route: Route, order_id: uuid.UUID, column: str) -> Order:
    order = session.get(Order, order_id)
    if (
        order is None
        or order.org_id != route.org_id
        or not any(v.order_id == order_id for v in route.visits)
    ):
        raise Unprocessable(
            "the order is not on this route",
            [FieldError(reason=f"order {order_id} is not on this route", column=column)],
        )
    return order


def _source(principal: Principal) -> str:
    return access.source_of(principal)


# -- files -------------------------------------------------------------------------------------


def upload(
    session: Session,
    *,
    route: Route,
    principal: Principal,
    order_id: uuid.UUID,
    kind: UploadKind,
    declared: str | None,
    data: bytes,
    store: FileStore,
    settings: PodSettings,
) -> PodFile:
    """Check and store a signature or photo for an order of the route."""
    order = _order_on(session, route, order_id, "order_id")
    check = check_upload(
        kind,
        declared=declared,
        head=data[:32],
        size=len(data),
        max_bytes=settings.pod_max_upload_bytes,
    )
    if not check.ok or check.content_type is None:
        raise Unprocessable("the file is refused", [FieldError(reason=check.reason, column="file")])
    file_id = uuid.uuid4()
    key = f"{route.org_id}/{order.id}/{file_id}{_EXT[check.content_type]}"
    store.put(key, data, content_type=check.content_type)
    row = PodFile(
        id=file_id,
        org_id=route.org_id,
        order_id=order.id,
        route_id=route.id,
        kind=kind.value,
        content_type=check.content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        store=store.name,
        key=key,
        source=_source(principal),
        created_at=utcnow(),
    )
    session.add(row)
    session.commit()
    return row


def read_file(
    session: Session, *, order: Order, file_id: uuid.UUID, store: FileStore
) -> tuple[PodFile, bytes]:
    row = session.get(PodFile, file_id)
    if row is None or row.order_id != order.id:
        raise NotFound("file not found")
    return row, store.get(row.key)


# -- scans -------------------------------------------------------------------------------------


def _barcodes(order: Order) -> list[str]:
    return [i.barcode for i in order.items if i.barcode]


def scan(
    session: Session, *, route: Route, order_id: uuid.UUID, barcode: str, scanned: list[str]
) -> ScanOut:
    """Accept a parcel of the order, or refuse it (422) with the reason."""
    order = _order_on(session, route, order_id, "order_id")
    ref = order.external_id or str(order.id)
    check = check_scan(barcode, order_ref=ref, items=_barcodes(order), already=scanned)
    if not check.ok:
        raise Unprocessable("wrong parcel", [FieldError(reason=check.reason, column="barcode")])
    done = {*scanned, check.barcode}
    remaining = [b for b in _barcodes(order) if b not in done]
    return ScanOut(barcode=check.barcode, duplicate=check.duplicate, remaining=remaining)


# -- finishing a stop --------------------------------------------------------------------------


def _stop_visit(route: Route, order: Order, outcome: str) -> Visit | None:
    visits = [v for v in route.visits if v.order_id == order.id]
    if order.kind != OrderKind.SHIPMENT.value:
        wanted = "job"
        if outcome == "delivered" and order.kind != OrderKind.DELIVERY.value:
            return None
        if outcome == "picked_up" and order.kind != OrderKind.PICKUP.value:
            return None
    elif outcome == "delivered":
        wanted = "delivery"
    elif outcome == "picked_up":
        wanted = "pickup"
    else:
        early = order.status in (OrderStatus.DISPATCHED.value, OrderStatus.EN_ROUTE.value)
        wanted = "pickup" if early else "delivery"
    return next((v for v in visits if v.kind == wanted), None)


def _file(
    session: Session, file_id: uuid.UUID, *, order: Order, kind: UploadKind, column: str
) -> PodFile:
    row = session.get(PodFile, file_id)
    if row is None or row.order_id != order.id or row.kind != kind.value:
        raise Unprocessable(
            "unknown file",
            [
                FieldError(
                    reason=f"no {kind.value} {file_id} uploaded for this order", column=column
                )
            ],
        )
    return row


def proof_out(proof: Proof, order_status: str = "") -> ProofOut:
    return ProofOut.model_validate(proof).model_copy(update={"order_status": order_status})


@dataclass(frozen=True, slots=True)
class RecordedProof:
    """A stored proof, its order's status afterwards, and what the live stream is
    told (the stop event, and the route's status when it changed)."""

    proof: Proof
    order_status: str
    live: list[dict[str, Any]]


def record_proof(
    session: Session,
    *,
    route: Route,
    principal: Principal,
    body: ProofIn,
    settings: PodSettings,
) -> RecordedProof:
    """Check the proof, store it with its stop event, then decide any re-attempt.

    Refused (422, every problem listed): a parcel that is not the order's, a
    delivery without every parcel (when so configured) or without a required
    signature, a failure without its reason, files not uploaded for the order.
    Flagged (stored, ``flagged``): completed away from the stop, or without a
    position. Returns the proof, the order's status afterwards and the live events
    of its stop event (none when the proof was already recorded).
    """
    source = _source(principal)
    known = session.scalar(
        select(Proof).where(
            Proof.org_id == route.org_id, Proof.source == source, Proof.event_id == body.event_id
        )
    )
    if known is not None:
        order = session.get(Order, known.order_id)
        return RecordedProof(known, order.status if order is not None else "", [])
    order = _order_on(session, route, body.order_id, "order_id")
    ref = order.external_id or str(order.id)
    errors: list[FieldError] = []
    flags: list[str] = []
    visit = _stop_visit(route, order, body.outcome)
    if visit is None:
        errors.append(
            FieldError(
                reason=f"a {order.kind} order has no stop to mark {body.outcome}", column="outcome"
            )
        )
    items = _barcodes(order)
    summary = check_scans(body.barcodes, order_ref=ref, items=items)
    for k, wrong in enumerate(summary.wrong):
        where = body.barcodes.index(wrong.barcode) if wrong.barcode in body.barcodes else k
        errors.append(FieldError(reason=wrong.reason, column=f"barcodes[{where}]"))
    if body.outcome != "failed" and summary.missing:
        reason = f"parcels not scanned: {', '.join(summary.missing)}"
        if settings.pod_require_all_parcels:
            errors.append(FieldError(reason=reason, column="barcodes"))
        else:
            flags.append("parcels_missing")
    if body.outcome == "failed" and body.failure_reason is None:
        errors.append(FieldError(reason="say why it failed", column="failure_reason"))
    if body.failure_reason is FailureReason.NOT_ATTEMPTED:
        errors.append(
            FieldError(
                reason="not_attempted is recorded when a dispatcher closes the route",
                column="failure_reason",
            )
        )
    if body.outcome != "failed" and body.failure_reason is not None:
        errors.append(FieldError(reason="only a failed stop has a reason", column="failure_reason"))
    signature = None
    if body.signature_file_id is not None:
        try:
            signature = _file(
                session,
                body.signature_file_id,
                order=order,
                kind=UploadKind.SIGNATURE,
                column="signature_file_id",
            )
        except Unprocessable as exc:
            errors.extend(exc.errors)
    elif body.outcome == "delivered" and settings.pod_require_signature:
        errors.append(FieldError(reason="a signature is required", column="signature_file_id"))
    for k, photo_id in enumerate(body.photo_file_ids):
        try:
            _file(session, photo_id, order=order, kind=UploadKind.PHOTO, column="photo_file_ids")
        except Unprocessable as exc:
            errors.extend(
                FieldError(reason=e.reason, column=f"photo_file_ids[{k}]") for e in exc.errors
            )
    if errors or visit is None:
        raise Unprocessable("the proof is refused; nothing was stored", errors)

    prefix = (
        "pickup" if visit.kind == "pickup" or order.kind == OrderKind.PICKUP.value else "delivery"
    )
    stop_lon, stop_lat = getattr(order, f"{prefix}_lon"), getattr(order, f"{prefix}_lat")
    distance = None
    if body.lon is None or body.lat is None:
        flags.append("no_position")
    elif stop_lon is not None and stop_lat is not None:
        fence = check_position(
            stop=Location(stop_lon, stop_lat),
            at=Location(body.lon, body.lat),
            radius_m=settings.pod_geofence_radius_m,
        )
        distance = round(fence.distance_m, 1)
        if not fence.inside:
            flags.append("outside_geofence")
    attempt = 1 + (
        session.scalar(
            select(func.count())
            .select_from(Proof)
            .where(Proof.order_id == order.id, Proof.outcome == "failed")
        )
        or 0
    )
    proof = Proof(
        id=uuid.uuid4(),
        org_id=route.org_id,
        route_id=route.id,
        order_id=order.id,
        source=source,
        event_id=body.event_id,
        stop=visit.kind,
        outcome=body.outcome,
        recipient_name=body.recipient_name.strip(),
        barcodes=list(summary.matched),
        lon=body.lon,
        lat=body.lat,
        distance_m=distance,
        radius_m=settings.pod_geofence_radius_m,
        flagged=bool(flags),
        flags=flags,
        failure_reason=body.failure_reason.value if body.failure_reason else "",
        note=body.note,
        signature_file_id=signature.id if signature is not None else None,
        photo_file_ids=[str(p) for p in body.photo_file_ids],
        attempt=attempt,
        recorded_at=body.at,
        created_at=utcnow(),
    )
    session.add(proof)
    publish(
        session,
        org_id=route.org_id,
        event_type="pod.recorded",
        data={
            "proof_id": str(proof.id),
            "order_id": str(order.id),
            "route_id": str(route.id),
            "outcome": body.outcome,
            "flags": flags,
            "distance_m": distance,
        },
    )
    ref_route = access.route_ref(session, principal=principal, route_id=route.id)
    event = StopEventIn(
        event_id=body.event_id,
        kind=StopEventKind(body.outcome),
        at=body.at,
        sequence=visit.sequence,
        order_id=order.id,
        reason=body.failure_reason.value if body.failure_reason else "",
        note=body.note,
        lon=body.lon,
        lat=body.lat,
    )
    # Stores the stop event and the proof (added above) in one commit; a failure
    # gets its re-attempt there, by the same rule as a failure reported as a stop
    # event.
    result = stop_events.record_stop_events(
        session,
        route_ref=ref_route,
        source=source,
        events=[event],
        policy=settings.reattempt_policy(),
    )
    if body.outcome == "failed":
        recorded = result.events[0]
        proof.reattempt_on = recorded.reattempt_on
        proof.reattempt_note = recorded.reattempt_note
        session.commit()
    session.refresh(order)
    return RecordedProof(proof, order.status, result.live)


def list_proofs(session: Session, *, order: Order) -> list[Proof]:
    """Every proof recorded for ``order``, oldest first."""
    return list(
        session.scalars(select(Proof).where(Proof.order_id == order.id).order_by(Proof.created_at))
    )


def ensure_live(route: Route) -> None:
    if route.status not in ("dispatched", "started", "completed"):
        raise Conflict(f"the route is {route.status}; stops are finished once it is dispatched")
