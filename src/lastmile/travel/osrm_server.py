"""Prepare and run a local ``osrm-routed`` from an ``.osm.pbf`` extract.

The OSRM programs come from PyPI's ``osrm-bindings`` wheel (manylinux x86_64;
it is built for CPython >= 3.12 but its programs are standalone, so pip only
downloads it and we unzip it). Steps, all cached under ``cache_dir``:

1. ``ensure_binaries``: download and unpack the wheel once;
2. ``prepare``: ``osrm-extract -p car.lua``, ``osrm-partition``, ``osrm-customize``
   (MLD), once per extract content and profile;
3. ``OSRMServer``: start ``osrm-routed --algorithm mld`` on 127.0.0.1 and a free
   port, wait until it answers, stop it by its own pid (``algorithm="ch"`` serves
   data made by ``osrm-contract`` instead, as ``benchmarks/roadnet_scale.py`` does).

``OSRMUnavailable`` says why when any step cannot run here.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx

from lastmile.travel.osrm import OSRMClient, OSRMUnavailable

OSRM_BINDINGS_VERSION = "26.10.0"
_WHEEL_PLATFORM = "manylinux_2_28_x86_64"
#: The OSRM profile (shipped with OSRM) each of lastmile's profiles is served by. OSRM
#: ships no truck or cargo-bike profile: a truck is routed as a car (OSRM's car
#: profile keeps off ways whose maxheight/maxweight tags exclude a car only) and a
#: cargo bike as a bicycle; lastmile's own road network (``--network``) models both.
PROFILES = {
    "car": "car.lua",
    "van": "car.lua",
    "truck": "car.lua",
    "bicycle": "bicycle.lua",
    "bike": "bicycle.lua",
    "cargo_bike": "bicycle.lua",
    "foot": "foot.lua",
}


def default_cache_dir() -> Path:
    """``$LASTMILE_OSRM_CACHE``, else ``.cache/osrm`` in the working directory."""
    return Path(os.environ.get("LASTMILE_OSRM_CACHE", ".cache/osrm")).resolve()


def _run(cmd: list[str], *, cwd: Path | None = None, timeout_s: float = 1800) -> None:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OSRMUnavailable(f"{Path(cmd[0]).name} could not run: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise OSRMUnavailable(
            f"{Path(cmd[0]).name} exited with {proc.returncode}: " + " | ".join(tail)
        )


def ensure_binaries(cache_dir: str | Path | None = None) -> Path:
    """The unpacked ``osrm`` package folder (with ``bin/`` and ``share/profiles/``)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise OSRMUnavailable(
            f"the osrm-bindings wheel has programs for Linux x86_64 only, "
            f"this is {sys.platform} {platform.machine()}"
        )
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    home = root / f"osrm-bindings-{OSRM_BINDINGS_VERSION}"
    routed = home / "osrm" / "bin" / "osrm-routed"
    if not routed.is_file():
        wheels = root / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        _run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--only-binary", ":all:", "--python-version", "3.12",
                "--platform", _WHEEL_PLATFORM, "-d", str(wheels),
                f"osrm-bindings=={OSRM_BINDINGS_VERSION}",
            ],
            timeout_s=600,
        )  # fmt: skip
        found = sorted(wheels.glob(f"osrm_bindings-{OSRM_BINDINGS_VERSION}-*.whl"))
        if not found:
            raise OSRMUnavailable(f"pip downloaded no osrm-bindings wheel into {wheels}")
        tmp = root / f".unpack-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(found[-1]) as zf:
            zf.extractall(tmp)
        for exe in (tmp / "osrm" / "bin").iterdir():
            exe.chmod(0o755)
        shutil.rmtree(home, ignore_errors=True)
        tmp.rename(home)
    package = home / "osrm"
    check_binaries(package)
    return package


def check_binaries(package: Path) -> str:
    """``osrm-routed --version`` (raises ``OSRMUnavailable`` when it cannot run here)."""
    exe = package / "bin" / "osrm-routed"
    try:
        proc = subprocess.run(
            [str(exe), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise OSRMUnavailable(f"osrm-routed cannot start: {exc}") from exc
    if proc.returncode != 0:
        raise OSRMUnavailable(
            f"osrm-routed --version failed ({proc.returncode}): {proc.stderr.strip()[:300]}"
        )
    return proc.stdout.strip()


def prepare(pbf: str | Path, *, profile: str = "car", cache_dir: str | Path | None = None) -> Path:
    """Extract, partition and customise ``pbf``; returns the ``.osrm`` base path.

    Cached by the extract's SHA-256 and the profile: a second call is instant.
    """
    if profile not in PROFILES:
        raise OSRMUnavailable(f"no OSRM profile for {profile!r}; known: {sorted(PROFILES)}")
    package = ensure_binaries(cache_dir)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    digest = hashlib.sha256(Path(pbf).read_bytes()).hexdigest()[:16]
    folder = root / "data" / f"{Path(pbf).name.split('.')[0]}-{digest}-{PROFILES[profile][:-4]}"
    base = folder / "map.osrm"
    stamp = folder / "ready"
    if stamp.is_file():
        return base
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(pbf, folder / "map.osm.pbf")
    bin_dir = package / "bin"
    lua = package / "share" / "profiles" / PROFILES[profile]
    threads = str(max(1, os.cpu_count() or 1))
    _run([str(bin_dir / "osrm-extract"), "-t", threads, "-p", str(lua), "map.osm.pbf"], cwd=folder)
    _run([str(bin_dir / "osrm-partition"), "-t", threads, "map.osrm"], cwd=folder)
    _run([str(bin_dir / "osrm-customize"), "-t", threads, "map.osrm"], cwd=folder)
    stamp.write_text(OSRM_BINDINGS_VERSION)
    return base


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OSRMServer:
    """A running ``osrm-routed`` on 127.0.0.1, stopped by its own pid.

    Use as a context manager, or call ``start()``/``stop()``.
    """

    def __init__(
        self,
        osrm_base: str | Path,
        *,
        port: int | None = None,
        cache_dir: str | Path | None = None,
        max_table_size: int = 10_000,
        threads: int | None = None,
        algorithm: str = "mld",
    ) -> None:
        if algorithm not in ("mld", "ch"):
            raise ValueError(f"algorithm must be 'mld' or 'ch', not {algorithm!r}")
        self.algorithm = algorithm
        self.osrm_base = Path(osrm_base)
        self.port = port if port is not None else free_port()
        self.cache_dir = cache_dir
        self.max_table_size = max_table_size
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.osrm_base.with_name(f"routed-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def client(self, **kwargs: object) -> OSRMClient:
        return OSRMClient(self.url, **kwargs)  # type: ignore[arg-type]

    def start(self, *, timeout_s: float = 60.0) -> OSRMServer:
        package = ensure_binaries(self.cache_dir)
        cmd = [
            str(package / "bin" / "osrm-routed"),
            "--algorithm", self.algorithm,
            "--ip", "127.0.0.1",
            "--port", str(self.port),
            "--threads", str(self.threads),
            "--max-table-size", str(self.max_table_size),
            "--max-viaroute-size", "10000",
            str(self.osrm_base),
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
                self.process = None
                raise OSRMUnavailable("osrm-routed stopped at start: " + " | ".join(text))
            try:
                httpx.get(f"{self.url}/nearest/v1/driving/0,0", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise OSRMUnavailable(f"osrm-routed did not answer within {timeout_s:g} s")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> OSRMServer:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_extract(
    pbf: str | Path, *, profile: str = "car", cache_dir: str | Path | None = None
) -> OSRMServer:
    """Prepare ``pbf`` (cached) and start a server for it."""
    return OSRMServer(
        prepare(pbf, profile=profile, cache_dir=cache_dir), cache_dir=cache_dir
    ).start()
