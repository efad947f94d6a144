"""Server memory across repeated CSV order imports.

Builds the app in this process (``TestClient``: the request goes through the
whole stack, multipart upload included), creates an organisation and an admin,
then imports a generated CSV of ``--rows`` orders ``--imports`` times (each
time with new external ids, so every import creates ``--rows`` orders) and
prints this process's resident memory after each import: the current RSS
(``VmRSS`` of /proc/self/status) and the peak so far (``ru_maxrss``).

A streaming import keeps memory flat: the RSS after the 2nd, 3rd, ... import
stays where it was after the first, instead of growing by the file's worth of
orders each time.

    python benchmarks/import_memory.py [--rows 100000] [--imports 5]
        [--database-url sqlite:///tmp/x.db | postgresql+psycopg://postgres@localhost:5432/test]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from lastmile.service.app import create_app
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.orgs.service import create_org
from lastmile.service.settings import Settings

HEADER = "external_id,lon,lat,window_start,window_end,service_min,amount,customer_name,skills\n"


def rss_mb() -> float:
    """The current resident set size of this process, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - not Linux


def peak_mb() -> float:
    """The largest resident set size so far, MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def csv_file(rows: int, prefix: str) -> bytes:
    """A CSV of ``rows`` delivery orders with positions, windows and amounts."""
    out = io.StringIO()
    out.write(HEADER)
    for i in range(rows):
        lon = 2.25 + (i % 997) * 0.0002
        lat = 48.80 + (i % 991) * 0.0002
        skills = "" if i % 5 else "cold"
        out.write(f"{prefix}-{i},{lon:.5f},{lat:.5f},09:00,18:00,4,1,Customer {i},{skills}\n")
    return out.getvalue().encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--imports", type=int, default=5)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="lastmile-import-memory-")
    url = args.database_url or f"sqlite:///{workdir}/lastmile.db"
    settings = Settings(
        database_url=url,
        planning_executor="thread",
        login_attempts_per_minute=10_000,
        public_base_url="https://track.example",
    )
    app = create_app(settings, geocode=None)
    with TestClient(app) as client:
        slug = f"mem-{secrets.token_hex(4)}"
        with app.state.sessionmaker() as session:
            org = create_org(session, name=slug, slug=slug, timezone="Europe/Paris")
            create_user(
                session,
                org_id=org.id,
                email=f"admin@{slug}.example",
                password="correct horse battery",
                role=Role.ADMIN,
            )
        login = {"email": f"admin@{slug}.example", "password": "correct horse battery"}
        token = client.post("/auth/login", json=login).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        gc.collect()
        print(f"database {url.split('?')[0]}; {args.rows} rows per import; pid {os.getpid()}")
        print(f"before any import: rss {rss_mb():.0f} MB, peak {peak_mb():.0f} MB")
        for n in range(1, args.imports + 1):
            data = csv_file(args.rows, f"i{n}")
            started = time.perf_counter()
            r = client.post(
                "/orders/import",
                params={"date": "2025-05-02"},
                files={"file": ("orders.csv", data, "text/csv")},
                headers=headers,
            )
            took = time.perf_counter() - started
            if r.status_code != 200:
                print(r.status_code, r.text[:500])
                return 1
            created = r.json()["created"]
            del data, r
            gc.collect()
            print(
                f"import {n}: {created} created in {took:.1f} s; "
                f"rss {rss_mb():.0f} MB, peak {peak_mb():.0f} MB",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
