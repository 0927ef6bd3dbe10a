"""Valid events per family for the collector's tests, and an in-memory producer to catch records."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from gamelake.errors import GamelakeError
from gamelake.keys import KeyRing, create_key, key_store_path
from tests.samples import EXAMPLES

SECRET = "hunter2-never-lands"


def _collector_events() -> dict[str, dict[str, Any]]:
    """The shared samples, each naming its family, with what the collector tests rely on."""
    events = {family: {"family": family, **copy.deepcopy(e)} for family, e in EXAMPLES.items()}
    # The key comes from parameters.player_id, not from user_data.user_id.
    events["player_action"]["user_data"]["user_id"] = "user_9"
    # A registration, which carries the password the collector must remove.
    events["game_api"].update(
        event_type="register", user_name="dirk", password=SECRET, status="created",
        request={"method": "POST", "path": "/create/user", "host": "user1.comcast.com",
                 "accept": "*/*", "user_agent": "curl/7.47.0"},
    )  # fmt: skip
    for key in ("event_id", "org", "level", "cost"):
        events["game_api"].pop(key, None)
    events["game_api"]["player"]["wealth"] = 12345.0
    return events


# One valid event per family, each naming its family.
EVENTS: dict[str, dict[str, Any]] = _collector_events()

# The contract key's value of each example above.
KEYS = {
    "game_room": b"2975", "player_activity": b"1001", "player": b"1029", "telemetry": b"A01",
    "player_action": b"player_123", "transaction": b"player_123", "server_metric": b"server_1",
    "game_api": b"987611", "user_score": b"u1",
}  # fmt: skip


def event(family: str, **changes: Any) -> dict[str, Any]:
    """A fresh copy of a family's example, with top-level fields changed."""
    return {**copy.deepcopy(EVENTS[family]), **changes}


class MemorySink:
    """The collector's Producer over a list: (topic, key, value) per record sent."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes]] = []
        self.flushes = 0
        self.failing = False

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.records.append((topic, key, value))

    def flush(self) -> None:
        self.flushes += 1
        if self.failing:
            raise GamelakeError("broker gone", fix="run `gamelake up`")

    def values(self, topic: str) -> list[dict[str, Any]]:
        """The JSON values sent to one topic, in order."""
        return [json.loads(v) for t, _, v in self.records if t == topic]


def key_ring(state: Path, source: str = "tests") -> tuple[KeyRing, dict[str, str]]:
    """A key store in a state folder with one key made as `gamelake keys create` makes it: the
    collector's ring over it and the header that sends the key."""
    path = key_store_path(state)
    _, token = create_key(path, source)
    return KeyRing(path), {"Authorization": f"Bearer {token}"}
