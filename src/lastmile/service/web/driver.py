"""The driver's app: today's route on a phone, installable as a web app.

* ``/driver``: the page (a shell; its scripts in ``static/driver/`` read the
  driver's routes from the API, send stop events, proofs of delivery and
  positions, and follow the route's live events);
* ``/driver/sw.js``: the service worker (scope ``/driver``): it keeps the
  app's shell so the app opens without a network;
* ``/driver/manifest.webmanifest``: what installing the app needs.

Drivers' actions wait in an outbox in the browser (IndexedDB) until the API
has them; each carries an event id of its own, so sending one twice stores it
once. Staff are sent to their dashboard.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.service.deps import SessionDep
from lastmile.service.orgs import service as orgs
from lastmile.service.pod.settings import PodSettings
from lastmile.service.web.access import SignedIn, home_of, page_context
from lastmile.service.web.rendering import STATIC, language_of, render
from lastmile.service.web.texts import Texts, preferred_language

router = APIRouter(include_in_schema=False)

#: Where the app lives: the service worker's scope and the manifest's start.
SCOPE = "/driver"
#: The files the app's shell is made of (the service worker keeps them).
SHELL = (
    "/static/css/base.css",
    "/static/driver/driver.css",
    "/static/js/api.js",
    "/static/driver/app.js",
    "/static/driver/outbox.js",
    "/static/driver/signature.js",
    "/static/driver/format.js",
    "/static/driver/icon.svg",
)


@router.get("/driver", response_class=HTMLResponse)
def driver_app(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    """Today's route, stop by stop."""
    if principal.is_staff:
        return RedirectResponse(home_of(principal), status.HTTP_303_SEE_OTHER)
    org = orgs.get_org(session, org_id=principal.org_id)
    pod: PodSettings = getattr(request.app.state, "pod_settings", None) or PodSettings()
    context = page_context(
        request,
        principal,
        org_name=org.name,
        timezone=org.timezone,
        require_all_parcels=pod.pod_require_all_parcels,
        require_signature=pod.pod_require_signature,
    )
    return render(
        request,
        "driver/app.html",
        context,
        language=language_of(session, principal.org_id),
        pages=("driver",),
    )


@router.get("/driver/sw.js")
def service_worker() -> Response:
    """The service worker, with the shell's files to keep (anyone may fetch it:
    it holds no data)."""
    script = (STATIC / "driver" / "sw.js").read_text(encoding="utf-8")
    shell = ", ".join(f'"{path}"' for path in (SCOPE, *SHELL))
    return Response(
        script.replace("/*SHELL*/", shell),
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": SCOPE, "Cache-Control": "no-cache"},
    )


@router.get("/driver/manifest.webmanifest")
def manifest(request: Request) -> Response:
    """The web app manifest, in the browser's language (browsers fetch it without
    cookies, so anyone may)."""
    texts = Texts(preferred_language(request.headers.get("accept-language")))
    body = {
        "name": texts("driver.app_name"),
        "short_name": texts("driver.short_name"),
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#13294b",
        "icons": [
            {"src": "/static/driver/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/driver/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {"src": "/static/driver/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json")
