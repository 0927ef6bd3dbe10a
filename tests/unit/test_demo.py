"""The demo's generated data: current, so freshness rules judge it as just made."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gamelake.contracts import get_value, load_contracts
from gamelake.demo import demo_options
from gamelake.generator import generate

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def contracts(root):
    return load_contracts(root / "conf" / "contracts")


def _epoch_ms(value: int | str, time_format: str) -> int:
    if time_format == "epoch_ms":
        return int(value)
    moment = dt.datetime.fromisoformat(str(value))
    return int(moment.replace(tzinfo=moment.tzinfo or dt.UTC).timestamp() * 1000)


def test_demo_events_end_shortly_before_now(contracts):
    options = demo_options(seed=5, now=NOW, events=5000)
    now_ms = int(NOW.timestamp() * 1000)
    times = []
    for record in generate(contracts, options):
        if record.malformed:
            continue
        field = contracts[record.family].event_time
        times.append(_epoch_ms(get_value(json.loads(record.value), field.path), field.format))
    # 5000 events at 20 per simulated second span at most 250 s, late ones 30 min more.
    assert now_ms - 250_000 - 30 * 60_000 <= min(times)
    assert now_ms - 120_000 <= max(times) <= now_ms


def test_demo_options_are_the_same_for_the_same_seed_and_moment():
    assert demo_options(1, NOW) == demo_options(1, NOW)
    assert demo_options(1, NOW).start_ms != demo_options(1, NOW + dt.timedelta(days=1)).start_ms
