"""Planning jobs run in worker processes here, as in production (the rest of the
service tests search in a thread of the test process: see ``make_settings``)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI


@pytest.fixture(autouse=True)
def planning_in_worker_processes(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = app.state.job_runner
    settings = runner._settings.model_copy(update={"planning_executor": "process"})
    monkeypatch.setattr(runner, "_settings", settings)
