"""Proof of delivery: what a stop must show before it counts as served, and
what follows a failed attempt. Pure functions over plain values; no I/O.

* **Parcels**: every scanned barcode must belong to an item of the order; a
  wrong parcel is refused with the reason (:func:`check_scan`,
  :func:`check_scans`).
* **Position**: where the driver completed the stop is compared with the stop
  (great-circle distance, :func:`check_position`); outside the radius the
  proof is *flagged* for a dispatcher to look at, never silently accepted and
  never refused (GPS is often wrong in city canyons).
* **Files**: signatures and photos are recognised by their first bytes, not by
  what the upload claims (:func:`sniff_image`, :func:`check_upload`).
* **Failures**: a failed attempt names a :class:`FailureReason`;
  :func:`plan_reattempt` says whether and when the order is tried again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from lastmile.domain import Location
from lastmile.domain.geo import haversine_m
from lastmile.exceptions import InputError

__all__ = [
    "DRIVER_REASONS",
    "FailureReason",
    "Geofence",
    "Reattempt",
    "ReattemptPolicy",
    "ScanCheck",
    "ScanSummary",
    "UploadCheck",
    "UploadKind",
    "check_position",
    "check_scan",
    "check_scans",
    "check_upload",
    "failure_reason",
    "plan_reattempt",
    "sniff_image",
]


# -- parcels -----------------------------------------------------------------------------


def _clean(barcode: str) -> str:
    return barcode.strip()


@dataclass(frozen=True, slots=True)
class ScanCheck:
    """One scanned barcode: accepted or refused, and why."""

    barcode: str
    ok: bool
    reason: str = ""
    duplicate: bool = False


def check_scan(
    barcode: str, *, order_ref: str, items: Sequence[str], already: Collection[str] = ()
) -> ScanCheck:
    """Whether ``barcode`` is a parcel of the order whose items carry ``items``.

    Barcodes compare exactly after surrounding spaces are removed. A parcel
    scanned twice is accepted and marked ``duplicate``.
    """
    code = _clean(barcode)
    if not code:
        return ScanCheck(code, False, "empty barcode")
    expected = [_clean(b) for b in items if _clean(b)]
    if code not in expected:
        if not expected:
            return ScanCheck(code, False, f"order {order_ref} has no parcel with a barcode")
        shown = ", ".join(expected[:5]) + (
            f" and {len(expected) - 5} more" if len(expected) > 5 else ""
        )
        return ScanCheck(
            code, False, f"parcel {code} is not part of order {order_ref} (its parcels: {shown})"
        )
    return ScanCheck(code, True, duplicate=code in {_clean(a) for a in already})


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """All the barcodes scanned at a stop against the order's parcels."""

    matched: tuple[str, ...]
    wrong: tuple[ScanCheck, ...]
    missing: tuple[str, ...]
    duplicates: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every parcel scanned and none that does not belong to the order."""
        return not self.wrong and not self.missing

    def reasons(self) -> list[str]:
        out = [c.reason for c in self.wrong]
        if self.missing:
            out.append(f"parcels not scanned: {', '.join(self.missing)}")
        return out


def check_scans(scanned: Sequence[str], *, order_ref: str, items: Sequence[str]) -> ScanSummary:
    """Every barcode of ``scanned`` checked; ``missing`` lists the order's parcels not scanned."""
    seen: list[str] = []
    wrong: list[ScanCheck] = []
    duplicates: list[str] = []
    for barcode in scanned:
        check = check_scan(barcode, order_ref=order_ref, items=items, already=seen)
        if not check.ok:
            wrong.append(check)
        elif check.duplicate:
            duplicates.append(check.barcode)
        else:
            seen.append(check.barcode)
    expected = list(dict.fromkeys(_clean(b) for b in items if _clean(b)))
    missing = tuple(b for b in expected if b not in seen)
    return ScanSummary(tuple(seen), tuple(wrong), missing, tuple(duplicates))


# -- position ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Geofence:
    """Where a stop was completed, against where the stop is."""

    distance_m: float
    radius_m: float

    @property
    def inside(self) -> bool:
        return self.distance_m <= self.radius_m


def check_position(*, stop: Location, at: Location, radius_m: float) -> Geofence:
    """The great-circle distance from the stop to ``at``, against ``radius_m``."""
    if radius_m < 0:
        raise InputError(f"must be >= 0, got {radius_m}", where="radius_m")
    return Geofence(haversine_m(stop, at), float(radius_m))


# -- files --------------------------------------------------------------------------------


class UploadKind(StrEnum):
    """What an uploaded file is for."""

    SIGNATURE = "signature"
    PHOTO = "photo"


#: Image types accepted for each kind of file.
ACCEPTED: dict[UploadKind, frozenset[str]] = {
    UploadKind.SIGNATURE: frozenset({"image/png", "image/jpeg", "image/webp"}),
    UploadKind.PHOTO: frozenset({"image/jpeg", "image/png", "image/webp", "image/heic"}),
}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def sniff_image(head: bytes) -> str | None:
    """The image type the first bytes of a file show (PNG, JPEG, WebP, HEIC), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "image/heic"
    return None


@dataclass(frozen=True, slots=True)
class UploadCheck:
    """An upload accepted (with the type its content shows) or refused, and why."""

    ok: bool
    content_type: str | None
    reason: str = ""


def check_upload(
    kind: UploadKind, *, declared: str | None, head: bytes, size: int, max_bytes: int
) -> UploadCheck:
    """Whether a file of ``size`` bytes starting with ``head`` may be stored as ``kind``.

    The content decides the type; a declared type (the upload's
    ``Content-Type``) that disagrees with it is refused, as is anything but
    the images :data:`ACCEPTED` for ``kind``.
    """
    if size <= 0:
        return UploadCheck(False, None, "the file is empty")
    if size > max_bytes:
        return UploadCheck(False, None, f"the file has {size} bytes, over the limit of {max_bytes}")
    found = sniff_image(head)
    if found is None:
        return UploadCheck(False, None, "the content is not a PNG, JPEG, WebP or HEIC image")
    accepted = ACCEPTED[kind]
    if found not in accepted:
        allowed = ", ".join(sorted(accepted))
        return UploadCheck(
            False, found, f"a {kind.value} must be one of {allowed}; this is {found}"
        )
    claimed = (declared or "").split(";")[0].strip().lower()
    claimed = _ALIASES.get(claimed, claimed)
    if claimed and claimed not in ("application/octet-stream", found):
        return UploadCheck(False, found, f"declared as {claimed} but the content is {found}")
    return UploadCheck(True, found)


# -- failed attempts ---------------------------------------------------------------------


class FailureReason(StrEnum):
    """Why a stop could not be served: the one list of reason codes, whether the
    failure is reported as a stop event or with a proof of delivery.

    Older codes are still read (``not_home`` is ``recipient_absent``,
    ``wrong_address`` is ``address_not_found``, ``no_access`` is
    ``access_denied``). ``not_attempted`` is not reported by drivers: it is
    what a stop left without an outcome gets when a dispatcher closes its route.
    """

    RECIPIENT_ABSENT = "recipient_absent"
    ADDRESS_NOT_FOUND = "address_not_found"
    REFUSED = "refused"
    DAMAGED = "damaged"
    ACCESS_DENIED = "access_denied"
    CLOSED = "closed"
    UNSAFE = "unsafe"
    NO_TIME = "no_time"
    OTHER = "other"
    NOT_ATTEMPTED = "not_attempted"

    @classmethod
    def _missing_(cls, value: object) -> FailureReason | None:
        if isinstance(value, str):
            name = value.strip().lower()
            name = _ALIASES_OF_REASONS.get(name, name)
            for member in cls:
                if member.value == name:
                    return member
        return None

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def counts_as_attempt(self) -> bool:
        """Whether the failure counts towards the attempts limit (a stop the
        route closed on was not attempted)."""
        return self is not FailureReason.NOT_ATTEMPTED


_ALIASES_OF_REASONS = {
    "not_home": "recipient_absent",
    "wrong_address": "address_not_found",
    "no_access": "access_denied",
}

#: The codes a driver may report (everything but ``not_attempted``).
DRIVER_REASONS = tuple(r for r in FailureReason if r is not FailureReason.NOT_ATTEMPTED)


def failure_reason(value: str, *, where: str = "reason") -> FailureReason:
    """The :class:`FailureReason` a driver's ``value`` names (old codes accepted);
    an :class:`InputError` listing the codes otherwise."""
    try:
        reason = FailureReason(value)
    except ValueError:
        reason = None
    if reason is None or reason is FailureReason.NOT_ATTEMPTED:
        known = ", ".join(r.value for r in DRIVER_REASONS)
        raise InputError(f"unknown failure reason {value.strip()!r}; one of: {known}", where=where)
    return reason


_DESCRIPTIONS = {
    FailureReason.RECIPIENT_ABSENT: "nobody was there to receive it",
    FailureReason.ADDRESS_NOT_FOUND: "the address is wrong or could not be found",
    FailureReason.REFUSED: "the customer refused it",
    FailureReason.DAMAGED: "the goods were damaged",
    FailureReason.ACCESS_DENIED: "the building or site could not be entered",
    FailureReason.CLOSED: "the business was closed",
    FailureReason.UNSAFE: "the stop was not safe to serve",
    FailureReason.NO_TIME: "the driver ran out of time",
    FailureReason.OTHER: "another reason",
    FailureReason.NOT_ATTEMPTED: "the stop was not attempted before its route was closed",
}


@dataclass(frozen=True, slots=True)
class ReattemptPolicy:
    """When failed orders are tried again.

    Reasons in ``final`` are not retried automatically (the goods go back, or
    someone must fix the order first). Others are retried on the next day
    that is not in ``closed_weekdays`` (0 = Monday), in the same local time
    windows, until ``max_attempts`` attempts have failed.
    """

    max_attempts: int = 3
    closed_weekdays: frozenset[int] = frozenset({6})
    final: frozenset[FailureReason] = field(
        default_factory=lambda: frozenset(
            {FailureReason.REFUSED, FailureReason.ADDRESS_NOT_FOUND, FailureReason.DAMAGED}
        )
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InputError(f"must be >= 1, got {self.max_attempts}", where="max_attempts")
        if len(self.closed_weekdays) >= 7 or not set(self.closed_weekdays) <= set(range(7)):
            raise InputError("must be weekdays 0-6, not all of them", where="closed_weekdays")


@dataclass(frozen=True, slots=True)
class Reattempt:
    """The decision after a failed attempt: retry on ``on`` in ``windows``, or not (``why``)."""

    retry: bool
    why: str
    on: dt.date | None = None
    windows: tuple[tuple[dt.datetime, dt.datetime], ...] = ()


def plan_reattempt(
    reason: FailureReason,
    *,
    attempts: int,
    failed_at: dt.datetime,
    windows: Sequence[tuple[dt.datetime, dt.datetime]],
    tz: dt.tzinfo,
    policy: ReattemptPolicy | None = None,
) -> Reattempt:
    """Whether and when to try again after the ``attempts``-th failed attempt.

    The one re-attempt rule, for failures reported as stop events, with a proof
    of delivery, and stops left ``not_attempted`` when a route is closed (those
    are always tried again and do not count towards ``max_attempts``).

    ``windows`` are the attempt's agreed windows (aware datetimes); the new
    ones keep their local start time (in ``tz``) and length on the new day. No windows:
    any time that day (``windows`` stays empty).
    """
    policy = policy or ReattemptPolicy()
    if failed_at.tzinfo is None:
        raise InputError("give a time zone", where="failed_at")
    if reason is not FailureReason.NOT_ATTEMPTED and reason in policy.final:
        return Reattempt(False, f"not tried again: {reason.description}")
    if reason.counts_as_attempt and attempts >= policy.max_attempts:
        return Reattempt(
            False, f"not tried again: {attempts} attempts failed (at most {policy.max_attempts})"
        )
    zone = tz
    day = failed_at.astimezone(zone).date() + dt.timedelta(days=1)
    while day.weekday() in policy.closed_weekdays:
        day += dt.timedelta(days=1)
    moved = []
    for start, end in windows:
        local = start.astimezone(zone)
        new_start = dt.datetime.combine(day, local.time(), tzinfo=zone)
        moved.append((new_start, new_start + (end - start)))
    return Reattempt(
        True, f"tried again on {day.isoformat()}: {reason.description}", day, tuple(moved)
    )
