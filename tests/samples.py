"""Sample events shared by the tests: one valid event per family, in the seeds' own shapes."""

from __future__ import annotations

from typing import Any

# One valid event per family, in the seeds' own shapes.
EXAMPLES: dict[str, dict[str, Any]] = {
    "game_room": {"id": 2975, "room_name": "Classic -- Skilled", "created_date": 1609459200000},
    "player_activity": {"player_id": 1001, "game_room_id": 1529, "points": 189, "coordinates": "[52,27]"},
    "player": {"player_id": 1029, "player_name": "Rossie Hobben", "ip": "151.228.5.139"},
    "telemetry": {"player_id": "A01", "timestamp": 167892345678, "event_type": "kill"},
    "player_action": {
        "event_name": "player_action",
        "parameters": {"player_id": "player_123", "session_id": "session_456", "event_type": "move",
                       "level_id": "level_02", "map_id": "map_03"},
        "event_timestamp": "2024-11-12T10:15:30Z",
        "user_data": {"user_id": "player_123", "platform": "PC"},
    },
    "transaction": {
        "event_name": "transaction",
        "parameters": {"transaction_id": "trans_789", "transaction_type": "purchase", "currency": "USD",
                       "amount": 4.99, "item_id": "skin_dragon", "item_type": "skin"},
        "event_timestamp": "2024-11-12T10:16:05Z",
        "user_data": {"user_id": "player_123", "platform": "PC"},
    },
    "server_metric": {
        "event_name": "server_metric",
        "parameters": {"server_id": "server_1", "cpu_load": 78, "memory_usage": 65, "latency": 120},
        "event_timestamp": "2024-11-12T10:16:30Z",
        "server_data": {"region": "us-west", "server_type": "dedicated"},
    },
    "game_api": {
        "event_id": "e-1", "event_type": "join_guild", "timestamp": "2020-11-23 14:58:44.738252",
        "user_id": "987611", "status": "joined", "org": "soldiers", "level": "masterofarms", "cost": 9999,
        "request": {"method": "POST", "path": "/join/guild", "host": "user1.comcast.com",
                    "accept": "*/*", "user_agent": "curl/7.47.0"},
        "player": {"wealth": -2654.0, "health": 100, "created": "2020-11-23 14:58:44.356273",
                   "inventory": ["cutlass", {"item": "charm", "kind": "spell"}, None],
                   "affiliations": [{"org": "soldiers", "level": "masterofarms",
                                     "joined_ts": "2020-11-23 14:58:44.738252"}, "magicians"]},
    },
    "user_score": {"user_id": "u1", "team_id": "t1", "score": 42, "event_time_millis": 1700000000000},
}  # fmt: skip
