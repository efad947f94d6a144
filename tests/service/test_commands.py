"""The service commands: db upgrade/current, admin bootstrap, serve (a real uvicorn)."""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from lastmile.service import commands


@pytest.fixture
def sqlite_env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LASTMILE_DATABASE_URL", url)
    return url


def test_parsers_wire_into_a_main_parser() -> None:
    parser = argparse.ArgumentParser(prog="lastmile")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_serve_parser(sub)
    commands.add_admin_parser(sub)
    commands.add_db_parser(sub)
    args = parser.parse_args(["serve", "--host", "0.0.0.0", "--port", "9001"])
    assert (args.host, args.port, args.handler) == ("0.0.0.0", 9001, commands.run_serve)
    args = parser.parse_args(["admin", "create-user", "--org", "acme", "--email", "a@b.c"])
    assert args.handler is commands.run_create_user and args.role == "admin"
    assert parser.parse_args(["db", "upgrade"]).handler is commands.run_db_upgrade


def test_bootstrap_an_organisation(
    sqlite_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic.script import ScriptDirectory

    from lastmile.service.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert commands.main(["db", "current"]) == 0
    assert f"current: (empty)  head: {head}" in capsys.readouterr().out
    assert commands.main(["db", "upgrade"]) == 0
    assert f"database at {head}" in capsys.readouterr().out
    assert (
        commands.main(
            [
                "admin",
                "create-org",
                "--name",
                "Acme",
                "--slug",
                "acme",
                "--timezone",
                "Europe/Paris",
            ]
        )
        == 0
    )
    assert "organisation acme created" in capsys.readouterr().out
    assert commands.main(["admin", "create-org", "--name", "Acme", "--slug", "acme"]) == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))
    code = commands.main(
        [
            "admin",
            "create-user",
            "--org",
            "acme",
            "--email",
            "Boss@Acme.example",
            "--password-stdin",
        ]
    )
    assert code == 0 and "boss@acme.example (admin)" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code = commands.main(
        ["admin", "create-user", "--org", "acme", "--email", "x@y.z", "--password-stdin"]
    )
    assert code == 1 and "at least 8" in capsys.readouterr().err
    assert commands.main(["admin", "create-api-key", "--org", "acme", "--name", "erp"]) == 0
    assert capsys.readouterr().out.startswith("lmk_")
    assert commands.main(["admin", "create-api-key", "--org", "nope", "--name", "erp"]) == 1


def _create_user(env: dict[str, str], *extra: str, stdin: str | None) -> subprocess.Popen[str]:
    """``create-user`` in a process of its own session: no controlling terminal."""
    args = ["admin", "create-user", "--org", "acme", "--email", "cron@acme.example", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "lastmile.service", *args],
        env=env,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_create_user_without_a_terminal_says_how_to_give_the_password(sqlite_env: str) -> None:
    assert commands.main(["admin", "create-org", "--name", "Acme", "--slug", "acme"]) == 0
    env = {k: v for k, v in os.environ.items() if k != "LASTMILE_PASSWORD"}
    proc = _create_user(env, stdin=None)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err
    assert "--password-stdin" in err and "LASTMILE_PASSWORD" in err
    proc = _create_user(env, "--password-stdin", stdin=None)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "standard input gave no password" in err, (out, err)
    proc = _create_user(env, "--password-stdin", stdin="a long password")
    out, err = proc.communicate("a long password\n", timeout=60)
    assert proc.returncode == 0 and "cron@acme.example (admin) created" in out, (out, err)


def test_serve_makes_links_from_its_own_address_not_from_requests(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    monkeypatch.delenv("LASTMILE_PUBLIC_BASE_URL", raising=False)
    assert commands.main(["serve", "--host", "10.0.0.5", "--port", "8080"]) == 0
    assert started[-1].state.settings.public_base_url == "http://10.0.0.5:8080"
    assert "links start with http://10.0.0.5:8080" in capsys.readouterr().err
    assert commands.main(["serve", "--host", "0.0.0.0"]) == 0
    assert started[-1].state.settings.public_base_url == ""
    assert "LASTMILE_PUBLIC_BASE_URL is not set" in capsys.readouterr().err
    monkeypatch.setenv("LASTMILE_PUBLIC_BASE_URL", "https://track.example")
    assert commands.main(["serve", "--host", "0.0.0.0"]) == 0
    assert started[-1].state.settings.public_base_url == "https://track.example"
    assert commands.main(["serve", "--public-base-url", "https://go.example"]) == 0
    assert started[-1].state.settings.public_base_url == "https://go.example"
    assert commands.listening_url("::1", 8000) == "http://[::1]:8000"


def test_serve_refuses_an_sms_gateway_it_cannot_build(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    monkeypatch.setenv("LASTMILE_SMS_GATEWAY", "http")
    monkeypatch.delenv("LASTMILE_SMS_HTTP_URL", raising=False)
    assert commands.main(["serve", "--host", "127.0.0.1"]) == 2
    assert "cannot start" in capsys.readouterr().err and not started
    monkeypatch.setenv("LASTMILE_SMS_HTTP_URL", "https://sms.example/send")
    assert commands.main(["serve", "--host", "127.0.0.1"]) == 0
    # uvicorn gets a log configuration that prints the texts' log.
    config = started[-1]["log_config"]
    assert config["loggers"]["lastmile.sms"]["level"] == "INFO"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_the_app_under_uvicorn(sqlite_env: str) -> None:
    port = _free_port()
    env = os.environ | {"LASTMILE_DATABASE_URL": sqlite_env}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lastmile.service",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.terminate()  # its output ends only when it does
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"server did not start: {out}") from None
                time.sleep(0.2)
        assert r.json()["status"] == "ok"
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert "/plans" in spec["paths"]
        assert httpx.get(f"http://127.0.0.1:{port}/orders", timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout:
            proc.stdout.close()
