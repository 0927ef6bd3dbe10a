"""Shared fixtures: the repository root and the active profile's settings."""

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
