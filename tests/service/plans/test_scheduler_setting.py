"""LASTMILE_SCHEDULER: checked when the settings are read, shown by GET /health.

That a planning worker given a scheduler runs its searches on the cluster is
checked against a real Dask cluster in tests/planning/executors.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from lastmile.service.app import create_app
from lastmile.service.settings import Settings

from ..conftest import make_settings  # type: ignore[import-not-found]


def test_health_shows_local_processes_when_no_scheduler_is_set(client: TestClient) -> None:
    assert client.get("/health").json()["planning"] == {"executor": "local", "solver_workers": 1}


def test_health_shows_the_scheduler(database_url: str) -> None:
    settings = make_settings(database_url, scheduler=" tcp://127.0.0.1:8786 ", solver_workers=4)
    with TestClient(create_app(settings)) as client:
        planning = client.get("/health").json()["planning"]
    assert planning == {
        "executor": "dask",
        "scheduler": "tcp://127.0.0.1:8786",
        "solver_workers": 4,
    }


@pytest.mark.parametrize("bad", ["127.0.0.1:8786", "http://host:8786", "tcp://host"])
def test_a_scheduler_that_is_no_address_is_refused_naming_the_setting(bad: str) -> None:
    with pytest.raises(ValidationError, match="LASTMILE_SCHEDULER: expected a Dask scheduler"):
        Settings(scheduler=bad)
