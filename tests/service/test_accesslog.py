"""Secrets never reach the access log: tracking link tokens, tracker credentials and
the service's own tokens are redacted in uvicorn's access-log records."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from lastmile.service import accesslog
from lastmile.service.accesslog import REDACTED, RedactSecrets, redact

TRACKING_TOKEN = "Zx9-tracking_token_0123456789abcdef"
TRACKER_TOKEN = "lmd_tracker0123456789secret"
SESSION = "lms_session0123456789secret"


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        (f"/track/{TRACKING_TOKEN}", f"/track/{REDACTED}"),
        (f"/track/{TRACKING_TOKEN}/roads?bbox=1,2", f"/track/{REDACTED}/roads?bbox=1,2"),
        (f"/track/{TRACKING_TOKEN}/replies", f"/track/{REDACTED}/replies"),
        ("/track/replies", "/track/replies"),
        (
            f"/osmand?id=van-7&lat=48.8&token={TRACKER_TOKEN}",
            f"/osmand?id={REDACTED}&lat=48.8&token={REDACTED}",
        ),
        (
            "/osmand/?lon=2.3&deviceid=van-7&password=hunter22",
            f"/osmand/?lon=2.3&deviceid={REDACTED}&password={REDACTED}",
        ),
        (f"/auth/me?access_token={SESSION}", f"/auth/me?access_token={REDACTED}"),
        (f"/orders/{SESSION}", f"/orders/lms_{REDACTED}"),
        ("/orders?id=42&limit=5", "/orders?id=42&limit=5"),
        # The SMS gateway's and inbound-mail service's addresses carry a secret.
        ("/sms/inbound/lmi_inbound0123456789", f"/sms/inbound/{REDACTED}"),
        ("/email/inbound/lmi_inbound0123456789?x=1", f"/email/inbound/{REDACTED}?x=1"),
        ("/sms/status/operator-chosen-secret", f"/sms/status/{REDACTED}"),
        ("/messaging/inbound-secret", "/messaging/inbound-secret"),
    ],
)
def test_redact(logged: str, expected: str) -> None:
    assert redact(logged) == expected


def _uvicorn_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's HTTP protocols make it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:50123", "GET", path, "1.1", 200),
        None,
    )


def test_the_filter_keeps_uvicorns_record_shape() -> None:
    record = _uvicorn_record(f"/osmand?id=van-7&token={TRACKER_TOKEN}")
    assert RedactSecrets().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert (
        line == f'203.0.113.7:50123 - "GET /osmand?id={REDACTED}&token={REDACTED} HTTP/1.1" 200 OK'
    )
    assert "van-7" not in line and TRACKER_TOKEN not in line


def test_install_puts_one_filter_on_uvicorn_access() -> None:
    accesslog.install()
    accesslog.install()
    filters = logging.getLogger("uvicorn.access").filters
    assert sum(isinstance(f, RedactSecrets) for f in filters) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_lastmile_serve_logs_no_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = os.environ | {"LASTMILE_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lastmile.service", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("server did not start") from None
                time.sleep(0.2)
        httpx.get(f"{base}/track/{TRACKING_TOKEN}", timeout=5)
        httpx.get(f"{base}/osmand?id=van-7&lat=1&lon=2&token={TRACKER_TOKEN}", timeout=5)
        httpx.get(f"{base}/auth/me?access_token={SESSION}", timeout=5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert f"GET /track/{REDACTED} HTTP/1.1" in out, out
    assert f"GET /osmand?id={REDACTED}&lat=1&lon=2&token={REDACTED} HTTP/1.1" in out, out
    for secret in (TRACKING_TOKEN, TRACKER_TOKEN, SESSION, "van-7"):
        assert secret not in out
