"""Rendering pages: the Jinja2 environment (autoescaped) and the page's language."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from lastmile.service.notifications.message_templates import customer_language
from lastmile.service.orders.models import Order
from lastmile.service.orgs import service as orgs
from lastmile.service.web.texts import DEFAULT_LANGUAGE, Texts

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


def _json_script(value: Any) -> Markup:
    """``value`` as JSON safe to put inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


templates.env.filters["json_script"] = _json_script


def language_of(session: Session, org_id: uuid.UUID | None) -> str:
    """The organisation's language (its settings), English without one."""
    if org_id is None:
        return DEFAULT_LANGUAGE
    settings = orgs.get_org(session, org_id=org_id).settings or {}
    language = settings.get("language", DEFAULT_LANGUAGE)
    return language if isinstance(language, str) else DEFAULT_LANGUAGE


def customer_language_of(session: Session, order: Order) -> str:
    """The language of an order's customer (the order's, else the organisation's
    ``customer_language``, else its language); a language the pages are not written
    in reads as English, like the customer's messages."""
    return customer_language(orgs.get_org(session, org_id=order.org_id), order)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    language: str,
    pages: tuple[str, ...] = (),
    status_code: int = 200,
) -> HTMLResponse:
    """Render template ``name`` with ``t`` (the texts) and ``page_texts`` (the
    texts of ``pages`` for the page's scripts)."""
    texts = Texts(language)
    response = templates.TemplateResponse(
        request,
        name,
        {**context, "t": texts, "lang": texts.language, "page_texts": texts.page(*pages)},
        status_code=status_code,
    )
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
