"""Shared fixtures: the repository root, the active profile's settings, one Spark session."""

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
