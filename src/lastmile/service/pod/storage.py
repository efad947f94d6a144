"""Where proof files live: a :class:`FileStore` on local disk by default, or an
S3-compatible bucket (AWS S3, MinIO, Garage, Ceph...) over plain HTTP requests
signed with AWS Signature Version 4 (no SDK needed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from lastmile.exceptions import InputError


class FileStore(Protocol):
    """Stores bytes under a key. ``name`` is recorded with each file."""

    name: str

    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...


def _safe(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
        raise InputError(f"unsafe key {key!r}", where="key")
    return key


@dataclass
class LocalFileStore:
    """Files under ``root`` (written to a temporary file, then renamed into place)."""

    root: Path
    name: str = "local"

    def _path(self, key: str) -> Path:
        return Path(self.root) / _safe(key)

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        del content_type
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()


# -- S3 -----------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_authorization(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    service: str = "s3",
    now: dt.datetime,
) -> str:
    """The ``Authorization`` header of AWS Signature Version 4.

    ``headers`` must hold every header to sign (``host``, ``x-amz-date``,
    ``x-amz-content-sha256``, ...), names in any case.
    """
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.quote(urllib.parse.unquote(parts.path or "/"), safe="/-_.~")
    query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    )
    lowered = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    names = sorted(lowered)
    canonical = "\n".join(
        [
            method.upper(),
            path,
            query,
            "".join(f"{n}:{lowered[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    stamp = now.astimezone(dt.UTC)
    day = stamp.strftime("%Y%m%d")
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            stamp.strftime("%Y%m%dT%H%M%SZ"),
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request"
    )
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )


@dataclass
class S3FileStore:
    """An S3-compatible bucket, addressed path-style: ``{endpoint}/{bucket}/{key}``."""

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    name: str = "s3"

    def _url(self, key: str) -> str:
        return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{urllib.parse.quote(_safe(key))}"

    def _headers(
        self, method: str, url: str, payload: bytes, extra: dict[str, str]
    ) -> dict[str, str]:
        now = dt.datetime.now(dt.UTC)
        digest = hashlib.sha256(payload).hexdigest()
        headers = {
            "host": urllib.parse.urlsplit(url).netloc,
            "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
            "x-amz-content-sha256": digest,
            **extra,
        }
        headers["authorization"] = sigv4_authorization(
            method=method,
            url=url,
            headers=headers,
            payload_sha256=digest,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            now=now,
        )
        return headers

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        url = self._url(key)
        headers = self._headers("PUT", url, data, {"content-type": content_type})
        response = self.client.put(url, content=data, headers=headers)
        if response.status_code >= 300:
            raise OSError(f"S3 PUT {key} answered {response.status_code}: {response.text[:200]}")

    def get(self, key: str) -> bytes:
        url = self._url(key)
        response = self.client.get(url, headers=self._headers("GET", url, b"", {}))
        if response.status_code >= 300:
            raise OSError(f"S3 GET {key} answered {response.status_code}")
        return response.content
