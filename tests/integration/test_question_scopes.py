"""Questions scoped to recent play (a console answer, not millions of rows) keep exactly the
period they name: Trino answers them over hand-made gold rows put in place of the table.

The shared generated lake spans about half an hour of play, so it cannot tell the last 5
minutes or the last 24 hours from the whole lake; these rows can.
"""

from __future__ import annotations

import datetime as dt

import pytest

from gamelake import trino_client
from gamelake.config import project_root
from gamelake.queries import load_query

pytestmark = pytest.mark.integration

WINDOW_COLUMNS = "user_id, team_id, window_start, window_end, score, events"
LATEST = dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC)


def _ts(at: dt.datetime) -> str:
    return f"timestamp '{at:%Y-%m-%d %H:%M:%S} UTC'"


def _over_windows(question: str, windows: list[tuple[str, dt.datetime, int, int]]) -> str:
    """The question's SQL reading `windows` (user, start, score, events) as gold.user_score_10s."""
    rows = ", ".join(
        f"('{user}', 'team_a', {_ts(start)}, {_ts(start + dt.timedelta(seconds=10))}, "
        f"cast({score} as bigint), cast({events} as bigint))"
        for user, start, score, events in windows
    )
    sql = load_query(project_root() / "sql", question).sql
    assert sql.count("from gold.user_score_10s") == 1
    return sql.replace(
        "from gold.user_score_10s", f"from (values {rows}) as user_score_10s({WINDOW_COLUMNS})"
    )


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
