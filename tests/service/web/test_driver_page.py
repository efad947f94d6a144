"""The driver app's page, its service worker and its manifest."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.web.driver import SCOPE, SHELL

PASSWORD = "correct horse battery"


def sign_in(app: FastAPI, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    r = client.post("/login", data={"email": email, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text
    return client


def test_drivers_land_on_their_app_and_staff_on_the_dashboard(app, tenant) -> None:  # type: ignore[no-untyped-def]
    driver = sign_in(app, f"d1@{tenant.slug}.example")
    assert (
        driver.post(
            "/login", data={"email": f"d1@{tenant.slug}.example", "password": PASSWORD}
        ).headers["location"]
        == "/driver"
    )
    page = driver.get("/driver")
    assert page.status_code == 200
    assert '<link rel="manifest" href="/driver/manifest.webmanifest">' in page.text
    assert '<meta name="pod-rules" content="parcels ">' in page.text  # the default rules
    texts = json.loads(re.search(r'id="texts">(.*?)</script>', page.text).group(1))  # type: ignore[union-attr]
    assert texts["driver.title"] == "Today's route"
    staff = sign_in(app, f"dispatcher@{tenant.slug}.example")
    r = staff.get("/driver")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"


def test_the_service_worker_keeps_the_shell_under_the_apps_scope(app) -> None:  # type: ignore[no-untyped-def]
    anyone = TestClient(app, follow_redirects=False)
    r = anyone.get("/driver/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["service-worker-allowed"] == SCOPE
    listed = re.search(r"const SHELL = \[(.*?)\];", r.text).group(1)  # type: ignore[union-attr]
    assert json.loads(f"[{listed}]") == [SCOPE, *SHELL]
    for path in SHELL:  # every file of the shell exists
        assert anyone.get(path).status_code == 200, path


def test_the_manifest_makes_the_app_installable(app) -> None:  # type: ignore[no-untyped-def]
    anyone = TestClient(app, follow_redirects=False)
    r = anyone.get("/driver/manifest.webmanifest", headers={"Accept-Language": "fi"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    manifest = r.json()
    assert manifest["name"] == "lastmile kuljettaja"
    assert manifest["start_url"] == manifest["scope"] == SCOPE
    assert manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        assert anyone.get(icon["src"]).status_code == 200, icon
