"""Shared fixtures: the repository root, the active profile's settings, one Spark session;
fault-injection tests only when asked for, and last; under pytest-xdist (`make test` runs
`-n 2`), the tests on the generated lake in one worker, in order, and every other module
wherever a worker is free."""

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


# The integration modules that read the generated lake (`lake_run`, a session fixture: built
# once per worker, ~2 minutes): one unit of work, so one worker builds it, once.
LAKE_RUN_MODULES = frozenset(
    f"tests/integration/test_{name}.py"
    for name in ("access", "cluster_path", "dashboard", "faults", "gold_tables", "notebooks",
                 "oracle", "pipeline", "secrets_never_land")
)  # fmt: skip


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """The modules on the generated lake as one unit of work, every other module as its own:
    the lake is built once, and a worker that is free takes the next module, unit or
    integration (they share the profile's Kafka and Trino, which `pytest_sessionstart` and
    `services` keep running for the whole session)."""
    from xdist.scheduler import LoadScopeScheduling

    class LakeThenModules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "lake_run" if module in LAKE_RUN_MODULES else module

    return LakeThenModules(config, log)


def _xdist_controller(config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_sessionstart(session):
    """Under xdist, the controller notes which services run before the workers start: the
    workers' `services` fixtures start what is missing and never stop it, since the other
    worker may still be using it; the controller stops it once both are done."""
    if _xdist_controller(session.config):
        from gamelake.runtime import stack

        settings = load_settings(os.environ.get("GAMELAKE_ENV", "test"))
        session.config.stash[_RUNNING_BEFORE] = (settings, stack.running(settings))


def pytest_sessionfinish(session):
    before = session.config.stash.get(_RUNNING_BEFORE, None)
    if before is not None:
        from gamelake.runtime import stack

        settings, running = before
        started = sorted(stack.running(settings) - running)
        if started:
            stack.down(settings, started)


_RUNNING_BEFORE = pytest.StashKey[tuple]()


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
    strays = sorted({
        item.nodeid.split("::", 1)[0] for item in items
        if "lake_run" in getattr(item, "fixturenames", ())
        and item.nodeid.split("::", 1)[0] not in LAKE_RUN_MODULES
    })  # fmt: skip
    if strays:
        # Elsewhere, a worker would build the ~2-minute lake a second time.
        raise pytest.UsageError(f"{', '.join(strays)} use lake_run: list them in LAKE_RUN_MODULES")
