"""OSRM as a travel engine: an HTTP client for ``osrm-routed`` and a ``TravelModel``.

Only the ``table`` and ``route`` services (API v1) are used. The transport is a
constructor argument so tests run against an ``httpx.MockTransport``. Every
answer whose ``code`` is not ``"Ok"`` raises ``OSRMError`` with OSRM's own code
and message; a server that cannot be reached raises ``OSRMUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from lastmile.domain import Location
from lastmile.exceptions import InputError, LastmileError
from lastmile.travel.matrix import TravelMatrix
from lastmile.travel.network import ATTRIBUTION
from lastmile.travel.road import RoutePath, locations_lonlat

Floats = npt.NDArray[np.float64]


class OSRMError(LastmileError):
    """OSRM answered with an error (``code`` is OSRM's, e.g. "InvalidQuery")."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        super().__init__(f"OSRM {code}: {message}" if code else f"OSRM: {message}")


class OSRMUnavailable(OSRMError):
    """No OSRM server to talk to (not running, not reachable, cannot be started)."""


@dataclass(frozen=True)
class OSRMTable:
    """Durations (s) and distances (m) from OSRM's table service; NaN = no route."""

    durations_s: Floats
    distances_m: Floats


def _coords_text(coords: Sequence[tuple[float, float]]) -> str:
    if not coords:
        raise InputError("needs at least one coordinate", where="coordinates")
    parts = []
    for i, (lon, lat) in enumerate(coords):
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise InputError(f"({lon}, {lat}) is not a lon/lat pair", where=f"coordinate {i}")
        parts.append(f"{lon:.6f},{lat:.6f}")
    return ";".join(parts)


class OSRMClient:
    """Talks to ``osrm-routed`` at ``base_url`` (e.g. ``http://127.0.0.1:5000``).

    ``profile`` is the URL's profile segment (osrm-routed serves one dataset
    whatever it says; "driving" by convention).
    """

    def __init__(
        self,
        base_url: str,
        *,
        profile: str = "driving",
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OSRMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, service: str, coords: str, params: dict[str, str]) -> dict[str, Any]:
        url = f"/{service}/v1/{self.profile}/{coords}"
        try:
            response = self._http.get(url, params=params)
        except httpx.TransportError as exc:
            raise OSRMUnavailable(f"cannot reach {self.base_url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            raise OSRMError(
                f"HTTP {response.status_code} without a JSON answer: {response.text[:200]!r}"
            ) from None
        if not isinstance(body, dict):
            raise OSRMError(f"unexpected answer {str(body)[:200]!r}")
        code = str(body.get("code", ""))
        if code != "Ok":
            message = str(body.get("message", f"HTTP {response.status_code}"))
            raise OSRMError(message, code=code or f"HTTP {response.status_code}")
        return body

    def table(
        self,
        coords: Sequence[tuple[float, float]],
        *,
        sources: Sequence[int] | None = None,
        destinations: Sequence[int] | None = None,
    ) -> OSRMTable:
        """Many-to-many durations and distances between ``(lon, lat)`` points."""
        params = {"annotations": "duration,distance"}
        if sources is not None:
            params["sources"] = ";".join(str(int(i)) for i in sources)
        if destinations is not None:
            params["destinations"] = ";".join(str(int(i)) for i in destinations)
        body = self._get("table", _coords_text(coords), params)
        try:
            durations = np.array(body["durations"], dtype=np.float64)
            distances = np.array(body["distances"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise OSRMError(f"table answer without usable durations/distances: {exc}") from exc
        return OSRMTable(durations_s=durations, distances_m=distances)

    def route(self, coords: Sequence[tuple[float, float]]) -> RoutePath:
        """The fastest route through ``coords`` in order, with its full geometry."""
        if len(coords) < 2:
            raise InputError("a route needs at least two coordinates", where="coordinates")
        params = {"overview": "full", "geometries": "geojson", "steps": "false"}
        body = self._get("route", _coords_text(coords), params)
        try:
            best = body["routes"][0]
            line = best["geometry"]["coordinates"]
            snaps = [float(w.get("distance", 0.0)) for w in body.get("waypoints", [])]
            return RoutePath(
                duration_s=float(best["duration"]),
                distance_m=float(best["distance"]),
                coordinates=tuple((float(p[0]), float(p[1])) for p in line),
                snap_m=(snaps[0], snaps[-1]) if snaps else (0.0, 0.0),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise OSRMError(f"route answer without a usable route: {exc}") from exc


class OSRMTravelModel:
    """The ``TravelModel`` protocol answered by an OSRM server (no time of day)."""

    def __init__(self, client: OSRMClient) -> None:
        self.client = client

    @property
    def description(self) -> str:
        return f"OSRM at {self.client.base_url} (profile {self.client.profile}); {ATTRIBUTION}"

    def float_matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> tuple[Floats, Floats]:
        del departure  # OSRM's table has no time of day
        if not locations:
            return np.zeros((0, 0)), np.zeros((0, 0))
        lon, lat = locations_lonlat(locations)
        table = self.client.table(list(zip(lon.tolist(), lat.tolist(), strict=True)))
        for name, m in (("durations", table.durations_s), ("distances", table.distances_m)):
            if np.isnan(m).any():
                i, j = np.argwhere(np.isnan(m))[0]
                raise InputError(f"OSRM found no route from {i} to {j}", where=name)
        return table.durations_s, table.distances_m

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        durations, distances = self.float_matrix(locations, departure=departure)
        return TravelMatrix(
            durations=np.rint(durations).astype(np.int64),
            distances=np.rint(distances).astype(np.int64),
        )

    def path(self, a: Location, b: Location, *, departure: int | None = None) -> RoutePath:
        del departure
        lon, lat = locations_lonlat([a, b])
        return self.client.route([(lon[0], lat[0]), (lon[1], lat[1])])
