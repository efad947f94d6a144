"""A tiny local stand-in for a Nominatim server, answering Nominatim-shaped JSON.

It runs ``http.server`` on 127.0.0.1 in a thread. Places match a search when
one of their ``keys`` occurs in the (casefolded) query; ``/reverse`` answers
the nearest place within 1 km. Every request is logged with its time and
headers so tests can check the user agent and the rate limit;
``fail_next`` makes the next requests answer HTTP 500.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PLACES: list[dict[str, Any]] = [
    {
        "keys": ["mikonkatu 18", "mikonkatu, 18"],
        "place_id": 1,
        "lat": "60.1708",
        "lon": "24.9488",
        "display_name": "18, Mikonkatu, Kluuvi, Helsinki, 00100, Suomi",
        "address": {
            "house_number": "18",
            "road": "Mikonkatu",
            "suburb": "Kluuvi",
            "city": "Helsinki",
            "postcode": "00100",
            "country_code": "fi",
        },
    },
    {
        "keys": ["mikonkatu"],
        "place_id": 2,
        "lat": "60.1712",
        "lon": "24.9480",
        "display_name": "Mikonkatu, Kluuvi, Helsinki, 00100, Suomi",
        "address": {"road": "Mikonkatu", "city": "Helsinki", "postcode": "00100"},
    },
    {
        "keys": ["rue grimaldi 5"],
        "place_id": 3,
        "lat": "43.7310",
        "lon": "7.4190",
        "display_name": "5, Rue Grimaldi, Monaco, 98000, Monaco",
        "address": {
            "house_number": "5",
            "road": "Rue Grimaldi",
            "city": "Monaco",
            "postcode": "98000",
        },
    },
    {
        "keys": ["kirkkokatu 1"],
        "place_id": 4,
        "lat": "60.1700",
        "lon": "24.9520",
        "display_name": "1, Kirkkokatu, Helsinki",
        "address": {"house_number": "1", "road": "Kirkkokatu", "city": "Helsinki"},
    },
    {
        "keys": ["kirkkokatu 1"],
        "place_id": 5,
        "lat": "61.4980",
        "lon": "23.7610",
        "display_name": "1, Kirkkokatu, Tampere",
        "address": {"house_number": "1", "road": "Kirkkokatu", "city": "Tampere"},
    },
]


@dataclass
class Logged:
    path: str
    params: dict[str, str]
    user_agent: str
    at: float


@dataclass
class FakeNominatim:
    url: str
    log: list[Logged] = field(default_factory=list)
    fail_next: int = 0


class _Handler(BaseHTTPRequestHandler):
    state: FakeNominatim

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.state.log.append(
            Logged(parts.path, params, self.headers.get("User-Agent", ""), time.monotonic())
        )
        if self.state.fail_next > 0:
            self.state.fail_next -= 1
            self._send(500, {"error": "boom"})
            return
        if parts.path.endswith("/search"):
            if "q" in params:
                text = params["q"]
            else:
                text = " ".join(params.get(k, "") for k in ("street", "city", "postalcode"))
            text = text.casefold()
            words = [w for w in text.replace(",", " ").split() if w]
            hits = [
                {k: v for k, v in p.items() if k != "keys"}
                for p in PLACES
                if any(all(w in words for w in key.replace(",", " ").split()) for key in p["keys"])
            ]
            hits.sort(key=lambda p: -len(p["address"]))  # houses before streets
            self._send(200, hits[: int(params.get("limit", "10"))])
        elif parts.path.endswith("/reverse"):
            lat, lon = float(params["lat"]), float(params["lon"])
            best = min(
                PLACES, key=lambda p: math.hypot(float(p["lat"]) - lat, float(p["lon"]) - lon)
            )
            if math.hypot(float(best["lat"]) - lat, float(best["lon"]) - lon) > 0.01:
                self._send(200, {"error": "Unable to geocode"})
            else:
                self._send(200, {k: v for k, v in best.items() if k != "keys"})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, code: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def fake_nominatim() -> Iterator[FakeNominatim]:
    """Serve the fake on an ephemeral port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state = FakeNominatim(url=f"http://127.0.0.1:{server.server_address[1]}")
    _Handler.state = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
