"""Smoke: every job in jobs/ imports and answers --help (no Spark started)."""

from __future__ import annotations

import importlib

import pytest

from gamelake.config import project_root

JOBS = sorted(p.stem for p in (project_root() / "jobs").glob("[a-z]*.py"))


def test_there_are_jobs():
    assert "bronze" in JOBS


@pytest.mark.parametrize("job", JOBS)
def test_job_imports_and_has_help(job, capsys):
    module = importlib.import_module(f"jobs.{job}")
    assert "spark-submit" in module.__doc__  # each job shows how to submit it
    with pytest.raises(SystemExit) as exit_:
        module.parse_args(["--help"])
    assert exit_.value.code == 0
    assert "usage" in capsys.readouterr().out
