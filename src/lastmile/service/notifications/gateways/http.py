"""A generic HTTP gateway: one request per text, shaped by the operator's settings.

Most SMS providers take a text as one HTTP request with the number and the text
in a JSON or form body, authenticated by a header or HTTP basic, and answer the
message's id somewhere in a JSON answer. The request is described by settings:
``LASTMILE_SMS_HTTP_URL`` and ``_METHOD``, ``_AUTH_HEADER`` (``Name: value``) or
``_USERNAME``/``_PASSWORD``, ``_BODY`` (a template in which ``{to}``, ``{text}``,
``{reference}`` and ``{from}`` are replaced; JSON templates are filled value by
value, so a quote in a text cannot break the document) with ``_BODY_FORMAT``
``json`` or ``form``, and ``_ID_PATH`` (a dotted path into the JSON answer:
``messages.0.message-id``).

The URL is checked like a webhook's (:mod:`..guard`) before every request and the
request connects to the address checked: only public addresses, unless
``LASTMILE_SMS_GATEWAY_ALLOW`` permits an internal gateway. An answer 429 or
5xx (or no answer) is worth another try later; any other 4xx is not.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from lastmile.exceptions import InputError
from lastmile.service.notifications.gateways.base import (
    CallbackFormat,
    GatewayAnswer,
    GatewayError,
    InboundSms,
    Received,
    StatusUpdate,
    at_path,
)
from lastmile.service.notifications.guard import Allow, Resolver, check_url, pinned, resolve_host
from lastmile.service.notifications.settings import NotifySettings

logger = logging.getLogger("lastmile.sms")

_PLACEHOLDERS = ("{to}", "{text}", "{reference}", "{from}")


def _fill(template: str, values: dict[str, str]) -> str:
    for name in _PLACEHOLDERS:
        template = template.replace(name, values[name])
    return template


def _fill_json(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _fill(node, values)
    if isinstance(node, list):
        return [_fill_json(v, values) for v in node]
    if isinstance(node, dict):
        return {_fill(k, values): _fill_json(v, values) for k, v in node.items()}
    return node


def parse_body_template(template: str, body_format: str) -> Any:
    """The body template as data (raises :class:`InputError` naming ``sms_http_body``)."""
    if body_format == "json":
        try:
            return json.loads(template)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"the JSON body template is not JSON ({exc.msg} at character {exc.pos})",
                where="sms_http_body",
            ) from None
    pairs = urllib.parse.parse_qsl(template, keep_blank_values=True)
    if not pairs:
        raise InputError("the form body template has no fields (a=b&c=d)", where="sms_http_body")
    return pairs


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise InputError("give the header as 'Name: value'", where="sms_http_auth_header")
    return name.strip(), value.strip()


@dataclass
class HttpGateway:
    url: str
    method: Literal["POST", "GET", "PUT"] = "POST"
    body_template: str = '{"to": "{to}", "text": "{text}", "reference": "{reference}"}'
    body_format: Literal["json", "form"] = "json"
    sender: str = ""
    auth_header: str = ""
    username: str = ""
    password: str = ""
    id_path: str = "id"
    timeout_s: float = 10.0
    allow: Allow = field(default_factory=Allow)
    resolve: Resolver = resolve_host
    callbacks: CallbackFormat = field(default_factory=CallbackFormat)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(follow_redirects=False))
    name: str = "http"

    def __post_init__(self) -> None:
        self._template = parse_body_template(self.body_template, self.body_format)
        self._headers = dict([_header(self.auth_header)]) if self.auth_header else {}

    @classmethod
    def of(cls, settings: NotifySettings) -> HttpGateway:
        if not settings.sms_http_url:
            raise InputError(
                "LASTMILE_SMS_GATEWAY=http needs LASTMILE_SMS_HTTP_URL", where="sms_http_url"
            )
        return cls(
            url=settings.sms_http_url,
            method=settings.sms_http_method,
            body_template=settings.sms_http_body,
            body_format=settings.sms_http_body_format,
            sender=settings.sms_from,
            auth_header=settings.sms_http_auth_header,
            username=settings.sms_http_username,
            password=settings.sms_http_password,
            id_path=settings.sms_http_id_path,
            timeout_s=settings.sms_timeout_s,
            allow=Allow.parse(settings.sms_gateway_allow),
            callbacks=CallbackFormat.of(settings),
        )

    def _request(self, values: dict[str, str]) -> dict[str, Any]:
        if self.body_format == "json":
            body = _fill_json(self._template, values)
            if self.method == "GET":
                return {
                    "params": {
                        k: json.dumps(v) if not isinstance(v, str) else v for k, v in body.items()
                    }
                }
            return {"json": body}
        pairs = [(_fill(k, values), _fill(v, values)) for k, v in self._template]
        return {"params": pairs} if self.method == "GET" else {"data": dict(pairs)}

    def send(self, *, to: str, text: str, reference: str) -> GatewayAnswer:
        values = {"{to}": to, "{text}": text, "{reference}": reference, "{from}": self.sender}
        try:
            target = check_url(self.url, allow=self.allow, resolve=self.resolve)
        except InputError as exc:
            raise GatewayError(f"the gateway URL is refused: {exc}") from None
        url, named, extensions = pinned(target)
        auth = (self.username, self.password) if self.username else None
        try:
            response = self.client.request(
                self.method,
                url,
                headers={**named, **self._headers, "User-Agent": "lastmile-sms"},
                extensions=extensions,
                auth=auth,
                timeout=self.timeout_s,
                follow_redirects=False,
                **self._request(values),
            )
        except httpx.HTTPError as exc:
            raise GatewayError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
            raise GatewayError(
                f"the gateway answered {response.status_code}: {response.text[:200]}",
                permanent=permanent,
            )
        provider_id = ""
        if self.id_path:
            try:
                found = at_path(response.json(), self.id_path)
            except ValueError:
                found = None
            if found is None:
                # Taken (2xx): sending again would send twice. Its statuses can still
                # be matched by the reference, when the gateway echoes it.
                logger.warning(
                    "the SMS gateway's answer has no %s; message %s kept without an id",
                    self.id_path,
                    reference,
                )
            else:
                provider_id = str(found)
        return GatewayAnswer(provider_id=provider_id)

    def parse_status(self, body: bytes, content_type: str) -> list[StatusUpdate]:
        return self.callbacks.statuses(body, content_type)

    def parse_inbound(self, body: bytes, content_type: str) -> InboundSms | None:
        return self.callbacks.inbound(body, content_type)

    def poll(self) -> Received:
        return Received()

    def close(self) -> None:
        self.client.close()
