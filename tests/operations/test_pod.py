"""Proof-of-delivery checks: parcels, position, files, and re-attempts."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.operations.pod import (
    FailureReason,
    ReattemptPolicy,
    UploadKind,
    check_position,
    check_scan,
    check_scans,
    check_upload,
    plan_reattempt,
    sniff_image,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 24
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16
HEIC = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 16
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def test_a_wrong_parcel_is_refused_with_the_reason() -> None:
    ok = check_scan(" BC1 ", order_ref="ord-1", items=["BC1", "BC2"])
    assert ok.ok and ok.barcode == "BC1" and not ok.duplicate
    wrong = check_scan("BC9", order_ref="ord-1", items=["BC1", "BC2"])
    assert not wrong.ok
    assert wrong.reason == "parcel BC9 is not part of order ord-1 (its parcels: BC1, BC2)"
    assert not check_scan("", order_ref="ord-1", items=["BC1"]).ok
    none = check_scan("BC1", order_ref="ord-1", items=[])
    assert none.reason == "order ord-1 has no parcel with a barcode"
    again = check_scan("BC1", order_ref="ord-1", items=["BC1"], already=["BC1"])
    assert again.ok and again.duplicate


def test_scans_of_a_stop_are_summed_up() -> None:
    summary = check_scans(["BC1", "BC1", "XX"], order_ref="o", items=["BC1", "BC2"])
    assert summary.matched == ("BC1",)
    assert [c.barcode for c in summary.wrong] == ["XX"]
    assert summary.missing == ("BC2",)
    assert summary.duplicates == ("BC1",)
    assert not summary.ok
    assert summary.reasons()[-1] == "parcels not scanned: BC2"
    assert check_scans(["BC2", "BC1"], order_ref="o", items=["BC1", "BC2"]).ok


@given(st.lists(st.text(alphabet="ABC123", min_size=1, max_size=4), max_size=6), st.data())
def test_scanning_exactly_the_parcels_is_always_accepted(
    items: list[str], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(items))
    assert check_scans(order, order_ref="o", items=items).ok


def test_the_position_is_checked_against_the_radius() -> None:
    stop = Location(2.3522, 48.8566)
    near = check_position(stop=stop, at=Location(2.3530, 48.8566), radius_m=100)
    assert near.inside and 50 < near.distance_m < 70
    far = check_position(stop=stop, at=Location(2.3622, 48.8566), radius_m=100)
    assert not far.inside and far.distance_m > 700
    with pytest.raises(InputError):
        check_position(stop=stop, at=stop, radius_m=-1)


def test_images_are_recognised_by_their_content() -> None:
    assert sniff_image(PNG) == "image/png"
    assert sniff_image(JPEG) == "image/jpeg"
    assert sniff_image(WEBP) == "image/webp"
    assert sniff_image(HEIC) == "image/heic"
    assert sniff_image(b"<svg xmlns=...") is None
    assert sniff_image(b"%PDF-1.7") is None


@pytest.mark.parametrize(
    ("kind", "declared", "head", "size", "reason"),
    [
        (UploadKind.PHOTO, "image/jpeg", JPEG, 1000, ""),
        (UploadKind.PHOTO, "image/jpg", JPEG, 1000, ""),
        (UploadKind.SIGNATURE, None, PNG, 1000, ""),
        (UploadKind.SIGNATURE, "application/octet-stream", PNG, 1000, ""),
        (
            UploadKind.PHOTO,
            "image/png",
            JPEG,
            1000,
            "declared as image/png but the content is image/jpeg",
        ),
        (
            UploadKind.PHOTO,
            "image/png",
            b"<html>",
            1000,
            "the content is not a PNG, JPEG, WebP or HEIC image",
        ),
        (
            UploadKind.SIGNATURE,
            "image/heic",
            HEIC,
            1000,
            "a signature must be one of image/jpeg, image/png, image/webp; this is image/heic",
        ),
        (UploadKind.PHOTO, "image/jpeg", JPEG, 0, "the file is empty"),
        (
            UploadKind.PHOTO,
            "image/jpeg",
            JPEG,
            5001,
            "the file has 5001 bytes, over the limit of 5000",
        ),
    ],
)
def test_uploads_are_checked(
    kind: UploadKind, declared: str | None, head: bytes, size: int, reason: str
) -> None:
    check = check_upload(kind, declared=declared, head=head, size=size, max_bytes=5000)
    assert check.ok == (not reason)
    assert check.reason == reason


def test_a_failed_attempt_is_tried_again_the_next_open_day() -> None:
    saturday = dt.datetime(2025, 5, 3, 10, 15, tzinfo=PARIS)
    window = (
        dt.datetime(2025, 5, 3, 9, 0, tzinfo=PARIS),
        dt.datetime(2025, 5, 3, 12, 0, tzinfo=PARIS),
    )
    plan = plan_reattempt(
        FailureReason.RECIPIENT_ABSENT,
        attempts=1,
        failed_at=saturday,
        windows=[window],
        tz=PARIS,
    )
    assert plan.retry and plan.on == dt.date(2025, 5, 5)  # Sunday is closed
    assert plan.windows == (
        (dt.datetime(2025, 5, 5, 9, 0, tzinfo=PARIS), dt.datetime(2025, 5, 5, 12, 0, tzinfo=PARIS)),
    )
    assert "nobody was there" in plan.why
    refused = plan_reattempt(
        FailureReason.REFUSED, attempts=1, failed_at=saturday, windows=[], tz=PARIS
    )
    assert not refused.retry and refused.why == "not tried again: the customer refused it"
    last = plan_reattempt(
        FailureReason.RECIPIENT_ABSENT, attempts=3, failed_at=saturday, windows=[], tz=PARIS
    )
    assert not last.retry and "3 attempts failed" in last.why
    daily = ReattemptPolicy(closed_weekdays=frozenset())
    sunday = plan_reattempt(
        FailureReason.CLOSED,
        attempts=1,
        failed_at=saturday,
        windows=[],
        tz=PARIS,
        policy=daily,
    )
    assert sunday.on == dt.date(2025, 5, 4) and sunday.windows == ()


def test_reattempt_inputs_are_checked() -> None:
    with pytest.raises(InputError):
        ReattemptPolicy(max_attempts=0)
    with pytest.raises(InputError):
        ReattemptPolicy(closed_weekdays=frozenset(range(7)))
    with pytest.raises(InputError):
        plan_reattempt(
            FailureReason.OTHER,
            attempts=1,
            failed_at=dt.datetime(2025, 1, 1),
            windows=[],
            tz=dt.UTC,
        )


def test_one_list_of_failure_reasons_reads_the_old_codes() -> None:
    from lastmile.operations.pod import DRIVER_REASONS, failure_reason

    assert FailureReason("not_home") is FailureReason.RECIPIENT_ABSENT
    assert FailureReason("wrong_address") is FailureReason.ADDRESS_NOT_FOUND
    assert FailureReason("no_access") is FailureReason.ACCESS_DENIED
    assert failure_reason(" Refused ") is FailureReason.REFUSED
    assert FailureReason.NOT_ATTEMPTED not in DRIVER_REASONS
    with pytest.raises(InputError, match="unknown failure reason 'lost'; one of: recipient_absent"):
        failure_reason("lost")
    with pytest.raises(InputError, match="not_attempted"):
        failure_reason("not_attempted")


def test_a_stop_not_attempted_is_tried_again_and_is_not_an_attempt() -> None:
    friday = dt.datetime(2025, 5, 2, 18, 0, tzinfo=PARIS)
    again = plan_reattempt(
        FailureReason.NOT_ATTEMPTED, attempts=3, failed_at=friday, windows=[], tz=PARIS
    )
    assert again.retry and again.on == dt.date(2025, 5, 3)
    assert "not attempted" in again.why
