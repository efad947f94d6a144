"""How messages leave: e-mail over SMTP and webhooks over HTTP (SMS leave through a
gateway: :mod:`.gateways`).

Each is a small protocol with a default implementation, passed in so tests
(and deployments) can use their own. Webhook bodies are signed with
HMAC-SHA256: ``X-Lastmile-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC_SHA256(secret, "<t>.<body>")``; :func:`verify_signature` is what a
receiver runs.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

SIGNATURE_HEADER = "X-Lastmile-Signature"


class EmailSender(Protocol):
    def send(self, *, to: str, subject: str, text: str) -> None:
        """Send one e-mail; raise on failure."""


@dataclass
class SmtpEmailSender:
    """Plain SMTP (optionally STARTTLS and a login), one connection per message."""

    host: str
    port: int = 587
    sender: str = "lastmile@localhost"
    username: str = ""
    password: str = ""
    starttls: bool = True
    timeout_s: float = 10.0

    def send(self, *, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` old."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp=t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
