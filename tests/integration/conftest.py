"""Integration fixtures: the real local stack, reused when running, started (and stopped) if not."""

from __future__ import annotations

import pytest

from gamelake import trino_client
from gamelake.config import Settings
from gamelake.runtime import stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def services(settings: Settings):
    """Kafka and Trino of the profile, healthy; only the services started here stop afterwards."""
    already = {s.name for s in stack.status(settings) if s.healthy}
    stack.up(settings)
    yield settings
    started = [s.name for s in stack.SERVICES if s.name not in already]
    if started:
        stack.down(settings, started)


@pytest.fixture(scope="session")
def trino_conn(services: Settings):
    return trino_client.connect(services.trino)
