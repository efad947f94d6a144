"""Secrets out of the access log.

Customer tracking links carry their token in the path (``/track/{token}``),
trackers send theirs in the query string (``/osmand?id=...&token=...``), SMS
gateways and inbound-mail services post to addresses carrying a secret
(``/sms/inbound/{secret}``), and a
client may put a session token or API key in a URL by mistake. uvicorn logs
each request's path and query string as they came, so
:class:`RedactSecrets` rewrites its access-log records before any handler
sees them: the token of a tracking link, the values of credential-like query
fields (and of a tracker's identifier), and anything shaped like one of the
service's own tokens become ``[redacted]``. :func:`install` puts the filter on
``uvicorn.access``; the app and ``lastmile serve`` both call it.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

#: The token segment after ``/track/`` (``/track/replies`` names no token).
_TRACKING_PATH = re.compile(r"(/track/)(?!replies(?:[/?#\s\"]|$))[^/?#\s\"]+")
#: The secret segment of the gateways' callback addresses (/sms/status/<secret>,
#: /sms/inbound/<secret>, /email/inbound/<secret>).
_CALLBACK_PATH = re.compile(r"(/(?:sms/status|sms/inbound|email/inbound)/)[^/?#\s\"]+")
#: Query fields whose values are credentials.
_SECRET_FIELDS = re.compile(
    r"([?&](?:token|access_token|password|passwd|pwd|secret|key|api_key|apikey)=)[^&#\s\"]*",
    re.IGNORECASE,
)
#: The query of the OsmAnd endpoint, and a tracker's identifier in it (Traccar set-ups
#: may treat the identifier as the secret).
_OSMAND_QUERY = re.compile(r"(/osmand/?\?)([^#\s\"]*)", re.IGNORECASE)
_TRACKER_ID = re.compile(r"((?:^|&)(?:id|deviceid|device_id)=)[^&]*", re.IGNORECASE)
#: The service's own tokens: sessions (lms_), API keys (lmk_), trackers (lmd_),
#: inbound secrets (lmi_).
_PREFIXED_TOKEN = re.compile(r"\b(lm[skdi]_)[A-Za-z0-9_\-]{4,}")


def redact(text: str) -> str:
    """``text`` (a request line, a path with its query) with its secrets replaced."""
    text = _TRACKING_PATH.sub(rf"\g<1>{REDACTED}", text)
    text = _CALLBACK_PATH.sub(rf"\g<1>{REDACTED}", text)
    text = _SECRET_FIELDS.sub(rf"\g<1>{REDACTED}", text)
    text = _OSMAND_QUERY.sub(
        lambda m: m.group(1) + _TRACKER_ID.sub(rf"\g<1>{REDACTED}", m.group(2)), text
    )
    return _PREFIXED_TOKEN.sub(rf"\g<1>{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments through :func:`redact`.

    The arguments keep their number and order (uvicorn's access formatter
    unpacks them), so formats that pick them apart still work.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    """Put a :class:`RedactSecrets` filter on the logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
