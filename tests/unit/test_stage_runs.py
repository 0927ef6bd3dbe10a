"""The jobs' shell and the running of stages, with stand-ins for Spark's queries."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator

import pytest

from gamelake import stage_runs
from gamelake.dq.results import GateFailed
from gamelake.errors import GamelakeError
from gamelake.jobmain import QUIET_LOGGERS, configure_logging, run_job


class Query:
    def __init__(self, name: str):
        self.name, self.awaited = name, False

    def awaitTermination(self):
        self.awaited = True


class Stages:
    """What stage_runs asks of gamelake.stages.Stages."""

    recorder = None

    def __init__(self, held: GateFailed | None = None):
        self.started, self.flushed, self.held = [], 0, held

    def start(self, stage):
        self.started.append(Query(stage))
        return self.started[-1:]

    def batch_gold(self):
        return {"room_stats": 3}, self.held

    def flush_progress(self):
        self.flushed += 1


def test_run_once_drains_each_stage_in_order_then_rebuilds_batch_gold(monkeypatch):
    monkeypatch.setattr(stage_runs, "rows_read", lambda q: 0)
    monkeypatch.setattr(stage_runs, "batches_run", lambda q: (0, 0))
    stages = Stages()
    assert stage_runs.run_once(stages, ["bronze", "silver", "gold_batch"]) == 0
    assert [q.name for q in stages.started] == ["bronze", "silver"]
    assert all(q.awaited for q in stages.started) and stages.flushed == 2


def test_a_held_gold_table_ends_a_run_once_with_exit_code_1():
    held = Stages(GateFailed([], "gold.room_stats"))
    assert stage_runs.run_once(held, ["gold_batch", "bronze"]) == 1
    assert held.started == []


def test_every_job_turns_a_gamelake_error_into_its_cause_fix_and_exit_2(capsys):
    def fails(args):
        raise GamelakeError("no topic", fix="create it")

    assert run_job(fails, argparse.Namespace()) == 2
    assert capsys.readouterr().err == "error: no topic\nfix: create it\n"
    assert run_job(lambda args: 0, argparse.Namespace()) == 0


# A GX logger that sets its own level to INFO when imported.
GX_CHATTY = "great_expectations.data_context.types.base"


@pytest.fixture
def logging_levels() -> Iterator[None]:
    """The levels configure_logging sets, as they were before the test."""
    levels = {name: logging.getLogger(name).level for name in ["", *QUIET_LOGGERS, GX_CHATTY]}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_a_jobs_log_keeps_the_libraries_warnings_but_not_their_chatter(
    logging_levels, monkeypatch, capsys
):
    # As a job's process starts: no handler yet (here, not in a fixture: pytest adds its own).
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    configure_logging()
    logging.getLogger(GX_CHATTY).setLevel(logging.INFO)  # as GX does at import
    logging.getLogger(GX_CHATTY).info("Created temporary directory for ephemeral docs site")
    logging.getLogger("kafka.net.manager").info("Attempting bootstrap")
    logging.getLogger("kafka.net.manager").warning("broker gone")
    logging.getLogger("gamelake.streams").info("silver batch 0")
    printed = [line.split(" ", 2)[2] for line in capsys.readouterr().err.splitlines()]
    assert printed == [
        "WARNING kafka.net.manager: broker gone",
        "INFO gamelake.streams: silver batch 0",
    ]
