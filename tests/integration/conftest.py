"""Integration fixtures: the real local stack, reused when running, started (and stopped) if not.

`lake_run` is the one generated lake every integration test shares: deterministic events in
private topics, the `--once` pipeline run through spark-submit into a private lake, and every
table registered in a private Trino catalog (so `select * from silver.x` works on its
connection exactly as on the profile's catalog).
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from gamelake import kafka_io, trino_client
from gamelake.config import Settings
from gamelake.contracts import Contract, load_contracts
from gamelake.conventions import load_pipeline_conf
from gamelake.generator import GeneratorOptions, generate
from gamelake.runtime import stack
from gamelake.spark import submit_command
from tests.integration.jobrun import run_to_end
from tests.kafka_records import produce
from tests.secret_corpus import add_generated_secrets, hand_written

pytestmark = pytest.mark.integration

LAKE_RUN_EVENTS = 6_000
LAKE_RUN_OPTIONS = dict(seed=2026, late_fraction=0.02, duplicate_fraction=0.03,
                        malformed_fraction=0.05)  # fmt: skip


@pytest.fixture(scope="session")
def services(settings: Settings, request):
    """Kafka and Trino of the profile, healthy; only the services started here stop afterwards
    (under xdist, once every worker is done: the controller stops them, tests/conftest.py)."""
    already = stack.running(settings)
    stack.up(settings)
    yield settings
    if hasattr(request.config, "workerinput"):
        return
    started = [s.name for s in stack.services(settings) if s.name not in already]
    if started:
        stack.down(settings, started)


@pytest.fixture(scope="session")
def trino_conn(services: Settings):
    return trino_client.connect(services.trino)


@dataclasses.dataclass
class LakeRun:
    """A generated data set, the private lake the pipeline made of it, and its Trino catalog."""

    run_id: str
    settings: Settings
    contracts: dict[str, Contract]
    records: list[Any]
    prefix: str
    area: Path
    catalog: str
    conn: Any = None

    @property
    def lake(self) -> Path:
        return self.area / "lake"

    @property
    def checkpoints(self) -> Path:
        return self.area / "checkpoints"

    def pipeline_command(self, lake: Path, checkpoints: Path, *extra: str) -> list[str]:
        """spark-submit of jobs/pipeline.py --once on this run's topics into `lake`."""
        return submit_command(
            self.settings, "pipeline",
            ["--once", "--topic-prefix", self.prefix, "--lake", str(lake),
             "--checkpoint-root", str(checkpoints), *extra],
        )  # fmt: skip


@pytest.fixture(scope="session")
def lake_run(services: Settings):
    settings = services
    run_id = uuid.uuid4().hex[:8]
    contracts = load_contracts(settings.paths.conf / "contracts")
    generated = generate(contracts, GeneratorOptions(events=LAKE_RUN_EVENTS, **LAKE_RUN_OPTIONS))
    # Secrets under names no contract declares ride along (test_secrets_never_land).
    records = add_generated_secrets(generated) + hand_written()
    prefix = f"gltest{run_id}."
    bootstrap = settings.kafka.bootstrap_servers
    families = sorted({*contracts, *(r.family for r in records)})
    kafka_io.create_topics(bootstrap, [prefix + f for f in families], partitions=2,
                           retention_hours=2)  # fmt: skip
    sent = produce(bootstrap, [(prefix + r.family, r.key, r.value) for r in records])
    assert sent == len(records)
    # Under the profile's lake, where the tests' Spark and Trino both may read.
    run = LakeRun(run_id, settings, contracts, records, prefix,
                  settings.paths.lake / "_tests" / run_id, catalog=f"gltest{run_id}")  # fmt: skip
    admin = trino_client.connect(settings.trino)
    try:
        run_to_end(run.pipeline_command(run.lake, run.checkpoints), run.area / "pipeline.log")
        trino_client.create_lake_catalog(admin, run.catalog, run.lake)
        layers = load_pipeline_conf(settings.paths.conf).layers
        trino_client.register_lake_at(admin, run.catalog, run.lake, layers)
        run.conn = trino_client.connect(settings.trino, catalog=run.catalog)
        yield run
    finally:
        trino_client.drop_catalog(admin, run.catalog)
        kafka_io.delete_topics_with_prefix(bootstrap, prefix)
        shutil.rmtree(run.area, ignore_errors=True)
