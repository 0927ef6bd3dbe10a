"""Questions scoped to recent play (a console answer, not millions of rows) keep exactly the
period they name: Trino answers them over hand-made gold rows put in place of the table.

The shared generated lake spans about half an hour of play, so it cannot tell the last 5
minutes, the last hour or the last 24 hours from the whole lake; these rows can.
"""

from __future__ import annotations

import datetime as dt

import pytest

from gamelake import trino_client
from gamelake.config import project_root
from gamelake.queries import load_query

pytestmark = pytest.mark.integration

LATEST = dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC)


def _ts(at: dt.datetime) -> str:
    return f"timestamp '{at:%Y-%m-%d %H:%M:%S} UTC'"


def _over(question: str, table: str, columns: str, rows: list[str]) -> str:
    """The question's SQL reading `rows` (SQL row literals of `columns`) as gold.`table`."""
    sql = load_query(project_root() / "sql", question).sql
    assert sql.count(f"from gold.{table}") == 1
    values = f"(values {', '.join(rows)}) as {table}({columns})"
    return sql.replace(f"from gold.{table}", f"from {values}")


def _over_windows(question: str, windows: list[tuple[str, dt.datetime, int, int]]) -> str:
    """The question's SQL reading `windows` (user, start, score, events) as gold.user_score_10s."""
    rows = [
        f"('{user}', 'team_a', {_ts(start)}, {_ts(start + dt.timedelta(seconds=10))}, "
        f"cast({score} as bigint), cast({events} as bigint))"
        for user, start, score, events in windows
    ]
    columns = "user_id, team_id, window_start, window_end, score, events"
    return _over(question, "user_score_10s", columns, rows)


def _before(**delta) -> dt.datetime:
    return LATEST - dt.timedelta(**delta)


def test_hot_streakers_score_the_last_five_minutes(trino_conn):
    windows = [
        # Long ago: the hottest streak of all (10 after 1s), outside the last 5 minutes.
        ("old_flame", _before(minutes=20, seconds=20), 1, 1),
        ("old_flame", _before(minutes=20), 10, 1),
        # Within the last 5 minutes: 4 after 2 (ratio 4 / 3), its long average reaching 10 s
        # before the 5 minutes start.
        ("warm", _before(minutes=5, seconds=10), 2, 1),
        ("warm", _before(minutes=5), 4, 1),
        # The latest window: steady, ratio 1.
        ("steady", LATEST, 5, 1),
    ]
    result = trino_client.run(trino_conn, _over_windows("leaderboards/hot_streakers", windows))
    assert result.rows == [(1, "warm", 1.333), (2, "steady", 1.0)]


def test_abuse_detection_keeps_the_last_24_hours(trino_conn):
    windows = [
        # 25 hours before the latest hour: flagged in its hour, but outside the last 24 hours.
        *((f"quiet_{i}", _before(hours=25), 1, 1) for i in range(5)),
        ("early_cheat", _before(hours=25), 100, 1),
        # 23 hours before the latest hour: the first hour of the last 24.
        *((f"calm_{i}", _before(hours=23), 1, 1) for i in range(5)),
        ("late_cheat", _before(hours=23), 100, 1),
        ("steady", LATEST, 5, 1),
    ]
    result = trino_client.run(trino_conn, _over_windows("classic/abuse_detection", windows))
    assert [r[1] for r in result.rows] == ["late_cheat"]


def test_kd_per_window_keeps_the_last_hour(trino_conn):
    # (player, minutes before the latest window, kills, deaths): the last hour is the latest
    # 5-minute window and the 11 before it.
    windows = [("gone", 60, 9, 1), ("first", 55, 2, 1), ("now", 0, 1, 0)]
    rows = [
        f"(cast({i} as bigint), {_ts(_before(minutes=m))}, "
        f"{_ts(_before(minutes=m - 5))}, cast({k} as bigint), cast({d} as bigint), "
        f"cast({k / d if d else 'null'} as double))"
        for i, (_, m, k, d) in enumerate(windows)
    ]
    columns = "player_id, window_start, window_end, kills, deaths, kd_ratio"
    sql = _over("combat/kd_ratio_per_player_5m", "player_kd_5m", columns, rows)
    result = trino_client.run(trino_conn, sql)
    # player_id, kills, deaths and K/D of each window kept, oldest first.
    assert [r[3:] for r in result.rows] == [(1, 2, 1, 2.0), (2, 1, 0, None)]
