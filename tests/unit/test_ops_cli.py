"""The batch-operation commands refuse what they must before any Spark or Kafka work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gamelake.cli import app
from gamelake.errors import GamelakeError

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["reset", "silver"], "cannot reset stream 'silver'"),
        (["rebuild", "--table", "nope"], "no batch gold table nope"),
        (["maintain", "vacuum", "--retain-hours", "1"], "below Delta's safe minimum"),
        (["backfill"], "no start given"),
        (["backfill", "--earliest", "--from-timestamp", "2026-01-01"], "more than one start"),
        (["backfill", "--from-offsets", "{oops"], "not JSON"),
    ],
)
def test_refusals_name_the_cause_and_the_fix(args, cause):
    result = runner.invoke(app, ["--env", "test", *args])
    assert isinstance(result.exception, GamelakeError), result.output
    assert cause in result.exception.cause
    assert result.exception.fix


@pytest.mark.parametrize(
    "args", [["backfill"], ["reset"], ["rebuild"], ["maintain", "optimize"], ["maintain", "vacuum"]]
)
def test_commands_have_help(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
