from __future__ import annotations

import json

from gamelake.demo import sample_records


def test_sample_records_route_each_family_to_its_topic(root):
    records = sample_records(root / "conf" / "demo" / "seed_000.jsonl", "gamelake.")
    assert {t for t, _, _ in records} == {
        "gamelake.game_room",
        "gamelake.player_activity",
        "gamelake.player",
    }
    _, key, value = records[0]
    assert json.loads(value)["room_name"] == "Classic -- Skilled"
    assert key == b"2975"
