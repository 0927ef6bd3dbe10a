"""Shared fixtures: the repository root, the active profile's settings, one Spark session;
fault-injection tests only when asked for, and last."""

from __future__ import annotations

import os

import pytest

from gamelake.config import Settings, load_settings, project_root


@pytest.fixture(scope="session")
def root():
    return project_root()


@pytest.fixture(scope="session")
def settings() -> Settings:
    # Entry point of the test run: the only place tests read the profile switch.
    return load_settings(os.environ.get("GAMELAKE_ENV", "test"))


@pytest.fixture(scope="session")
def spark(settings: Settings):
    """The project's own SparkSession (Delta, explicit jars), shared by every test."""
    from gamelake.spark import build_session

    session = build_session(settings, app_name="gamelake-tests")
    yield session
    session.stop()


def pytest_collection_modifyitems(config, items):
    """Fault-injection tests (marker `faults`) run only when selected (`-m faults`, as
    `make test-faults` does: they take about 25 minutes), and then after every other
    test: they stop and start the shared Kafka and Trino."""
    expr = config.getoption("markexpr") or ""
    if "faults" not in expr or "not faults" in expr:
        skip = pytest.mark.skip(reason="fault injection runs with `-m faults` (make test-faults)")
        for item in items:
            if item.get_closest_marker("faults"):
                item.add_marker(skip)
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)
