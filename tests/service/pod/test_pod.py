"""Proof-of-delivery routes and the file stores.

Each test builds its own dispatched plan (its orders carry barcodes BC0000..)
and a local file store in a temporary directory. The S3 store is tested
against AWS's published signature example and a small S3 server on
127.0.0.1 that checks every request's signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.pod.settings import PodSettings
from lastmile.service.pod.storage import LocalFileStore, S3FileStore, sigv4_authorization

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def store(app: FastAPI, tmp_path: Path) -> Iterator[LocalFileStore]:
    app.state.pod_settings = PodSettings(pod_max_upload_bytes=2000, pod_geofence_radius_m=100)
    app.state.pod_store = LocalFileStore(tmp_path)
    yield app.state.pod_store
    del app.state.pod_store
    del app.state.pod_settings


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def first_stop(
    world: World, who: str = "d1"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """d1's route, its first job visit, and that visit's order."""
    t = world.tenant
    route = next(r for r in world.plan["routes"] if r["driver_id"] == str(t.driver_ids[who]))
    visit = next(v for v in route["visits"] if v["order_id"])
    order = t.ok("get", f"/orders/{visit['order_id']}")
    return route, visit, order


def proof(order: dict[str, Any], event_id: str, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "order_id": order["id"],
        "outcome": "delivered",
        "at": f"{DAY}T10:00:00+02:00",
        "lon": order["delivery"]["lon"],
        "lat": order["delivery"]["lat"],
        "barcodes": [i["barcode"] for i in order["items"]],
        "recipient_name": "Ada",
    }
    return body | kw


def upload(
    world: World, route: dict[str, Any], order: dict[str, Any], data: bytes, **kw: Any
) -> Any:
    files = {"file": ("x.bin", data, kw.pop("content_type", "image/png"))}
    form = {"kind": kw.pop("kind", "signature"), "order_id": order["id"]}
    return world.tenant.post(
        f"/routes/{route['id']}/pod/files", kw.pop("who", "d1"), files=files, data=form
    )


def test_a_delivery_with_its_proof(world: World, store: LocalFileStore) -> None:
    t = world.tenant
    route, _, order = first_stop(world)
    sig = upload(world, route, order, PNG)
    assert sig.status_code == 201, sig.text
    signature = sig.json()
    assert signature["content_type"] == "image/png"
    assert signature["sha256"] == hashlib.sha256(PNG).hexdigest()
    photo = upload(world, route, order, JPEG, kind="photo", content_type="image/jpeg").json()
    body = proof(order, "p1", signature_file_id=signature["id"], photo_file_ids=[photo["id"]])
    done = t.ok("post", f"/routes/{route['id']}/pod", "d1", json=body)
    assert done["outcome"] == "delivered" and done["flagged"] is False
    assert done["order_status"] == "completed"
    assert done["distance_m"] == 0.0
    assert t.ok("get", f"/orders/{order['id']}")["status"] == "completed"
    # The stop event went through tracking, and the same call again changes nothing.
    events = t.ok("get", f"/routes/{route['id']}/events", "d1")
    assert [e["kind"] for e in events] == ["delivered"]
    again = t.ok("post", f"/routes/{route['id']}/pod", "d1", json=body)
    assert again["id"] == done["id"]
    proofs = t.ok("get", f"/orders/{order['id']}/pod")
    assert [p["id"] for p in proofs] == [done["id"]]
    image = t.get(f"/orders/{order['id']}/pod/file", params={"file_id": signature["id"]})
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert list(Path(store.root).rglob("*.png"))


def test_uploads_are_checked_by_their_content(world: World, store: LocalFileStore) -> None:
    route, _, order = first_stop(world)
    cases = [
        (
            b"<svg onload=alert(1)>",
            "image/png",
            "the content is not a PNG, JPEG, WebP or HEIC image",
        ),
        (JPEG, "image/png", "declared as image/png but the content is image/jpeg"),
        (PNG + b"\x00" * 3000, "image/png", "over the limit of 2000"),
        (b"", "image/png", "the file is empty"),
    ]
    for data, declared, reason in cases:
        r = upload(world, route, order, data, content_type=declared)
        assert r.status_code == 422, r.text
        assert reason in r.json()["errors"][0]["reason"]
    on_route = {v["order_id"] for v in route["visits"]}
    other = next(o["id"] for o in world.orders if o["id"] not in on_route)
    r = world.tenant.post(
        f"/routes/{route['id']}/pod/files",
        "d1",
        files={"file": ("s.png", PNG, "image/png")},
        data={"kind": "signature", "order_id": other},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["reason"] == f"order {other} is not on this route"


def test_a_wrong_parcel_is_refused_with_the_reason(world: World, store: LocalFileStore) -> None:
    t = world.tenant
    route, _, order = first_stop(world)
    barcode = order["items"][0]["barcode"]
    ok = t.ok(
        "post",
        f"/routes/{route['id']}/pod/scan",
        "d1",
        json={"order_id": order["id"], "barcode": barcode},
    )
    assert ok == {"barcode": barcode, "duplicate": False, "remaining": []}
    wrong = t.post(
        f"/routes/{route['id']}/pod/scan", "d1", json={"order_id": order["id"], "barcode": "ZZ99"}
    )
    assert wrong.status_code == 422
    ref = order["external_id"]
    assert wrong.json()["errors"][0]["reason"] == (
        f"parcel ZZ99 is not part of order {ref} (its parcels: {barcode})"
    )
    # Completing with a wrong or a missing parcel is refused; nothing is stored.
    r = t.post(f"/routes/{route['id']}/pod", "d1", json=proof(order, "p2", barcodes=["ZZ99"]))
    assert r.status_code == 422
    columns = {e["column"] for e in r.json()["errors"]}
    assert columns == {"barcodes[0]", "barcodes"}
    assert t.ok("get", f"/orders/{order['id']}")["status"] == "dispatched"
    assert t.ok("get", f"/orders/{order['id']}/pod") == []


def test_completing_away_from_the_stop_is_flagged(world: World, store: LocalFileStore) -> None:
    t = world.tenant
    route, _, order = first_stop(world)
    far = proof(order, "p3", lon=order["delivery"]["lon"] + 0.01)
    done = t.ok("post", f"/routes/{route['id']}/pod", "d1", json=far)
    assert done["flagged"] is True and done["flags"] == ["outside_geofence"]
    assert done["distance_m"] > 700 and done["radius_m"] == 100
    assert done["order_status"] == "completed"
    _, _, other = first_stop(world, "d2")
    blind = {k: v for k, v in proof(other, "p4").items() if k not in ("lon", "lat")}
    d2_route = next(
        r for r in world.plan["routes"] if other["id"] in {v["order_id"] for v in r["visits"]}
    )
    done = t.ok("post", f"/routes/{d2_route['id']}/pod", "d2", json=blind)
    assert done["flags"] == ["no_position"]


def test_a_failed_delivery_is_tried_again_the_next_day(world: World, store: LocalFileStore) -> None:
    t = world.tenant
    route, _, order = first_stop(world)
    missing = t.post(f"/routes/{route['id']}/pod", "d1", json=proof(order, "f0", outcome="failed"))
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["column"] == "failure_reason"
    failed = t.ok(
        "post",
        f"/routes/{route['id']}/pod",
        "d1",
        json=proof(order, "f1", outcome="failed", failure_reason="not_home", barcodes=[]),
    )
    assert failed["reattempt_on"] == "2025-05-03"
    assert "nobody was there" in failed["reattempt_note"]
    after = t.ok("get", f"/orders/{order['id']}")
    assert after["status"] == "pending"
    window = after["delivery"]["time_windows"][0]
    assert window["start"] == "2025-05-03T09:00:00+02:00"  # in Paris time
    # A refusal is final.
    _, _, other = first_stop(world, "d2")
    d2_route = next(
        r for r in world.plan["routes"] if other["id"] in {v["order_id"] for v in r["visits"]}
    )
    refused = t.ok(
        "post",
        f"/routes/{d2_route['id']}/pod",
        "d2",
        json=proof(other, "f2", outcome="failed", failure_reason="refused", barcodes=[]),
    )
    assert refused["reattempt_on"] is None
    assert refused["reattempt_note"] == "not tried again: the customer refused it"
    assert t.ok("get", f"/orders/{other['id']}")["status"] == "failed"


def test_drivers_finish_only_their_own_stops(world: World, store: LocalFileStore) -> None:
    route, _, order = first_stop(world)
    r = world.tenant.post(f"/routes/{route['id']}/pod", "d2", json=proof(order, "x"))
    assert r.status_code == 403


# -- file stores -----------------------------------------------------------------------------


def test_sigv4_matches_the_published_example() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    header = sigv4_authorization(
        method="GET",
        url="https://examplebucket.s3.amazonaws.com/test.txt",
        headers={
            "Host": "examplebucket.s3.amazonaws.com",
            "Range": "bytes=0-9",
            "x-amz-content-sha256": empty,
            "x-amz-date": "20130524T000000Z",
        },
        payload_sha256=empty,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
    )
    assert header.endswith(
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date" in header


class _FakeS3(http.server.BaseHTTPRequestHandler):
    """Path-style PUT/GET of objects; refuses a request whose signature does not check."""

    objects: ClassVar[dict[str, bytes]] = {}
    secret = "s3cr3t"

    def log_message(self, *args: Any) -> None:
        del args

    def _signed(self, body: bytes) -> bool:
        given = self.headers.get("authorization", "")
        names = given.split("SignedHeaders=")[1].split(",")[0].split(";")
        headers = {n: self.headers.get(n, "") for n in names}
        if hashlib.sha256(body).hexdigest() != self.headers.get("x-amz-content-sha256"):
            return False
        stamp = dt.datetime.strptime(self.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
        expected = sigv4_authorization(
            method=self.command,
            url=f"http://{self.headers['host']}{self.path}",
            headers=headers,
            payload_sha256=self.headers["x-amz-content-sha256"],
            access_key="AK",
            secret_key=self.secret,
            region="eu-west-3",
            now=stamp.replace(tzinfo=dt.UTC),
        )
        return expected == given

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not self._signed(body):
            self.send_response(403)
            self.end_headers()
            return
        self.objects[urllib.parse.unquote(self.path)] = body
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        found = self.objects.get(urllib.parse.unquote(self.path))
        if not self._signed(b"") or found is None:
            self.send_response(403 if found is not None else 404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-length", str(len(found)))
        self.end_headers()
        self.wfile.write(found)


def test_s3_store_signs_its_requests() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        s3 = S3FileStore(url, "proofs", "AK", _FakeS3.secret, region="eu-west-3")
        s3.put("org/order/a b.png", PNG, content_type="image/png")
        assert _FakeS3.objects["/proofs/org/order/a b.png"] == PNG
        assert s3.get("org/order/a b.png") == PNG
        wrong = S3FileStore(url, "proofs", "AK", "not-the-secret", region="eu-west-3")
        with pytest.raises(OSError, match="403"):
            wrong.put("org/x.png", PNG, content_type="image/png")
        s3.client.close()
        wrong.client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_local_store_refuses_unsafe_keys(tmp_path: Path) -> None:
    local = LocalFileStore(tmp_path)
    local.put("a/b.png", PNG, content_type="image/png")
    assert local.get("a/b.png") == PNG
    for key in ("../x", "/etc/x", "a//b", ""):
        with pytest.raises(ValueError):
            local.put(key, PNG, content_type="image/png")
