"""Shared fixtures: the repository root, the active profile's settings, one Spark session;
fault-injection tests only when asked for, and last; under pytest-xdist (`make test` runs
`-n 2`), every integration test in one worker, in order, and the unit tests beside them."""

from __future__ import annotations

import os
import sys

import pytest

# An xdist worker runs from `python -c`, so its `__main__` has no `__file__`. pyspark's Connect
# modules, which Great Expectations imports, take such a process for a doctest run and
# sys.exit(0) on it; a worker is an ordinary test process.
if not hasattr(sys.modules["__main__"], "__file__"):
    sys.modules["__main__"].__file__ = "<pytest-xdist worker>"

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

    # PySpark starts its Python workers (a test's UDF, a frame made from a Python list) with
    # $PYSPARK_PYTHON, else whatever `python3` is on the PATH: the tests' own interpreter,
    # so the workers have the same Python and packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = build_session(settings, app_name="gamelake-tests")
    yield session
    session.stop()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Integration tests as one unit of work, the unit tests per module: the integration tests
    share one Kafka, Trino and generated lake, and one of them stops and starts the services,
    so they run in a single worker in their usual order; the other worker takes the unit tests
    (pure transforms on small in-process DataFrames)."""
    from xdist.scheduler import LoadScopeScheduling

    class StackThenModules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/integration/"):
                return "tests/integration"
            return super()._split_scope(nodeid)

    return StackThenModules(config, log)


# Suites that run only when selected by their marker, with the make target that selects them.
ON_DEMAND = {
    "faults": "make test-faults",  # ~25 min; stop and start the shared Kafka and Trino
    "cluster": "make test-cluster",  # the scale-out stack: s3proxy, Spark standalone, 2 brokers
}


def pytest_collection_modifyitems(config, items):
    """Fault-injection (`faults`) and scale-out (`cluster`) tests run only when selected
    (`-m faults`, `-m cluster`, as their make targets do), fault injection after every other
    test: it stops and starts the shared Kafka and Trino."""
    expr = config.getoption("markexpr") or ""
    for marker, target in ON_DEMAND.items():
        if marker in expr and f"not {marker}" not in expr:
            continue
        skip = pytest.mark.skip(reason=f"runs with `-m {marker}` ({target})")
        for item in items:
            if item.get_closest_marker(marker):
                item.add_marker(skip)
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)
