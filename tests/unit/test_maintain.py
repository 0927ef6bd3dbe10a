"""Maintenance settings, guards and retry, on plain values."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from gamelake.errors import GamelakeError
from gamelake.ops import maintenance as m
from gamelake.ops import maintenance_conf as mc
from gamelake.ops.jobs import passthrough
from gamelake.ops.retry import Backoff, is_conflict, with_conflict_retry


class ConcurrentAppendException(Exception):
    """Named like Delta's: what the retry recognises."""


def test_the_project_conf_parses_and_names_real_layers(root):
    conf = mc.load_maintenance_conf(root / "conf")
    assert conf.defaults.vacuum_retain_hours >= mc.DELTA_MIN_RETENTION_HOURS
    assert conf.for_table("silver.player_action").zorder == ("player_id", "event_at")
    # A table the file does not name gets the defaults, under its own name.
    other = conf.for_table("gold.whatever")
    assert other.name == "gold.whatever" and other.zorder == conf.defaults.zorder
    layers = set(yaml.safe_load((root / "conf" / "pipeline.yaml").read_text())["lake"]["layers"])
    assert {name.split(".")[0] for name in conf.tables} <= layers


def test_table_entries_inherit_the_defaults():
    conf = mc.parse_maintenance_conf(
        {"defaults": {"vacuum_retain_hours": 200, "min_files": 4},
         "tables": {"silver.t": {"zorder": ["a"]}}}
    )  # fmt: skip
    t = conf.for_table("silver.t")
    assert (t.zorder, t.vacuum_retain_hours, t.min_files) == (("a",), 200, 4)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"tables": {"silver.t": {"zorder_by": ["a"]}}}, "unknown keys"),
        ({"tables": {"player_action": {}}}, "not <layer>.<table>"),
    ],
)
def test_conf_mistakes_are_named(raw, match):
    with pytest.raises(GamelakeError, match=match):
        mc.parse_maintenance_conf(raw)


def test_select_tables_by_name_or_layer_and_refuse_unknown_ones():
    found = [("ops", "quarantine"), ("silver", "player"), ("silver", "telemetry")]
    assert mc.select_tables(found, []) == ["ops.quarantine", "silver.player", "silver.telemetry"]
    assert mc.select_tables(found, ["silver"]) == ["silver.player", "silver.telemetry"]
    assert mc.select_tables(found, ["silver.player", "silver"]) == [
        "silver.player",
        "silver.telemetry",
    ]
    with pytest.raises(GamelakeError, match=r"gold\.x"):
        mc.select_tables(found, ["gold.x"])


def test_zorder_needs_real_non_partition_columns():
    cols, parts = ["event_id", "player_id", "event_type"], ["event_type"]
    assert m.zorder_problems(["player_id"], cols, parts) == []
    assert m.zorder_problems(["event_type", "nope"], cols, parts) == [
        "nope is not a column",
        "event_type is a partition column",
    ]


def test_short_vacuum_retention_needs_force():
    mc.check_retention(168, force=False)
    with pytest.raises(GamelakeError, match="below Delta's safe minimum"):
        mc.check_retention(1, force=False)
    mc.check_retention(0, force=True)
    with pytest.raises(GamelakeError):
        mc.check_retention(-1, force=True)


def test_trino_readability_of_protocols():
    assert m.unreadable_by_trino(1, None) == []
    assert m.unreadable_by_trino(3, ["deletionVectors", "columnMapping"]) == []
    assert m.unreadable_by_trino(3, ["deletionVectors", "collations"]) == ["collations"]
    assert m.unreadable_by_trino(4, []) == ["minReaderVersion 4"]


def test_summary_line_shows_files_and_bytes_before_and_after():
    rec = m.MaintenanceRecord(
        "silver.player", "optimize", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 2500, 2,
        m.Footprint(40, 3 * 1024 * 1024), m.Footprint(2, 2 * 1024 * 1024), {}, {},
    )  # fmt: skip
    assert m.summary_line(rec) == (
        "optimize silver.player: files 40 -> 2, bytes 3.0 MiB -> 2.0 MiB in 2.5s, 2 attempts"
    )
    row = rec.row("run1")
    assert row[:3] == ("run1", "silver.player", "optimize") and row[6:10] == (
        40,
        2,
        3145728,
        2097152,
    )


def test_conflicts_are_retried_with_growing_pauses_until_the_commit_wins():
    calls, pauses = [], []

    def action():
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentAppendException("Files were added to partition [family=x]")
        return "committed"

    out = with_conflict_retry(action, "t", Backoff(attempts=5, first_s=1, max_s=100), pauses.append)
    assert (out.value, out.attempts) == ("committed", 3)
    assert len(pauses) == 2 and 0.5 <= pauses[0] <= 1 and 1 <= pauses[1] <= 2


def test_other_errors_are_not_retried_and_endless_conflicts_give_up_clearly():
    with pytest.raises(ValueError):
        with_conflict_retry(lambda: (_ for _ in ()).throw(ValueError("x")), "t", Backoff(), print)

    def always():
        raise RuntimeError("io.delta.exceptions.ConcurrentDeleteReadException: ...")

    assert is_conflict(RuntimeError("io.delta.exceptions.ConcurrentDeleteReadException"))
    with pytest.raises(GamelakeError, match="after 3 attempts"):
        with_conflict_retry(always, "optimize x", Backoff(attempts=3, first_s=0), lambda s: None)


def test_passthrough_builds_job_arguments():
    assert passthrough(earliest=True, from_offsets=None, to="latest", force=False, lake=0.5) == [
        "--earliest", "--to", "latest", "--lake", "0.5",
    ]  # fmt: skip
